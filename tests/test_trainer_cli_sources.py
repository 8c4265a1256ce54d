"""What ``autoretouch train`` accepts as its sources, refused or used up front (before any training starts).

``--darktable DIR_OR_PHOTO...``: a fresh selection folder on every run, several folders, folders and photos mixed,
a sidecar standing for its photo, messages naming the user's own files; ``--pairs X X`` refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.cli.main import main
from backend.errors import NotFoundError
from testing.darktable_selection import EMPTY_HISTORY, darktable_train_args, selected_photos
from testing.training import tiny_pairs_config
from trainer.cli import _darktable_dir
from trainer.config import config_from_dict
from trainer.data.selection import MARKER, SelectionError, linked_folder


def test_a_second_darktable_selection_replaces_the_first(tmp_path: Path) -> None:
    a, b, c = selected_photos(tmp_path / "dt", "a.jpg", "b.jpg", "c.jpg")
    run = tmp_path / "run"
    assert sorted(p.name for p in _darktable_dir(darktable_train_args(a, b), run).iterdir() if p.name != MARKER) == [
        "a.jpg",
        "a.jpg.xmp",
        "b.jpg",
        "b.jpg.xmp",
    ]
    # the run was interrupted; the next one, in the same run folder, with other photos (overlapping)
    linked = _darktable_dir(darktable_train_args(c, a), run)
    assert sorted(p.name for p in linked.iterdir() if p.name != MARKER) == ["a.jpg", "a.jpg.xmp", "c.jpg", "c.jpg.xmp"]
    assert (linked / "c.jpg").resolve() == c.resolve()
    # the photos the links pointed to are untouched
    assert all(p.is_file() and Path(str(p) + ".xmp").is_file() for p in (a, b, c))


def test_a_user_file_in_the_selection_folder_is_never_removed(tmp_path: Path) -> None:
    (a,) = selected_photos(tmp_path / "dt", "a.jpg")
    selection = tmp_path / "run" / "selection"
    selection.mkdir(parents=True)
    (selection / "mine.jpg").write_bytes(b"keep me")
    with pytest.raises(SelectionError, match=r"mine\.jpg: the selection folder holds a file that is not a link"):
        linked_folder(selection, [a], with_sidecars=True)
    assert (selection / "mine.jpg").read_bytes() == b"keep me"


def test_darktable_takes_several_folders_and_photos_mixed(tmp_path: Path) -> None:
    selected_photos(tmp_path / "dt", "p0.jpg", "p1.jpg")
    selected_photos(tmp_path / "dt2", "p0.jpg", "q.jpg")
    (extra,) = selected_photos(tmp_path / "other", "x.jpg")
    linked = _darktable_dir(darktable_train_args(tmp_path / "dt", tmp_path / "dt2", extra), tmp_path / "run")
    names = sorted(p.name for p in linked.iterdir() if p.suffix != ".xmp" and p.name != MARKER)
    assert names == ["p0-2.jpg", "p0.jpg", "p1.jpg", "q.jpg", "x.jpg"]  # dt2/p0.jpg renamed, not dropped
    assert (linked / "p0-2.jpg").resolve() == (tmp_path / "dt2" / "p0.jpg").resolve()
    assert (linked / "p0-2.jpg.xmp").resolve() == (tmp_path / "dt2" / "p0.jpg.xmp").resolve()
    # the same folder given twice counts once
    again = _darktable_dir(darktable_train_args(tmp_path / "dt", tmp_path / "dt"), tmp_path / "run")
    assert sorted(p.name for p in again.iterdir() if p.name != MARKER) == [
        "p0.jpg",
        "p0.jpg.xmp",
        "p1.jpg",
        "p1.jpg.xmp",
    ]
    with pytest.raises(NotFoundError, match=r"no such folder or photo file: .*nowhere"):
        _darktable_dir(darktable_train_args(tmp_path / "dt", tmp_path / "nowhere"), tmp_path / "run")


def test_a_sidecar_given_as_a_photo_stands_for_its_photo(tmp_path: Path) -> None:
    p0, p1 = selected_photos(tmp_path / "dt", "p0.jpg", "p1.jpg")
    linked = _darktable_dir(darktable_train_args(p0, Path(str(p1) + ".xmp")), tmp_path / "run")
    assert sorted(p.name for p in linked.iterdir() if p.name != MARKER) == [
        "p0.jpg",
        "p0.jpg.xmp",
        "p1.jpg",
        "p1.jpg.xmp",
    ]
    orphan = tmp_path / "dt" / "gone.jpg.xmp"
    orphan.write_text("<x:xmpmeta/>")
    with pytest.raises(SelectionError, match=r"gone\.jpg\.xmp: not a photo: a darktable sidecar.*pass the photo"):
        _darktable_dir(darktable_train_args(p0, orphan), tmp_path / "run")
    notes = tmp_path / "dt" / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(SelectionError, match=r"notes\.txt: not a photo"):
        _darktable_dir(darktable_train_args(p0, notes), tmp_path / "run")


def test_the_remote_request_lists_the_photos_of_several_folders(tmp_path: Path) -> None:
    from trainer.remote_train import train_request

    selected_photos(tmp_path / "dt", "p0.jpg")
    (q,) = selected_photos(tmp_path / "dt2", "q.jpg")
    request = train_request(darktable_train_args(tmp_path / "dt", Path(str(q) + ".xmp")))
    assert request.darktable == ""
    assert list(request.darktable_files) == [str((tmp_path / "dt" / "p0.jpg").absolute()), str(q.absolute())]


def test_selection_errors_name_the_users_own_files(tmp_path: Path) -> None:
    from trainer.restore_pairs import load_darktable_pair_set

    a, b = selected_photos(tmp_path / "dt", "p4.jpg", "p5.jpg", sidecar=EMPTY_HISTORY)
    linked = _darktable_dir(darktable_train_args(a, b), tmp_path / "run")
    cfg = config_from_dict(tiny_pairs_config(["exposure"], "s"))
    with pytest.raises(NotFoundError) as caught:
        load_darktable_pair_set(cfg, linked, ("exposure",))
    message = str(caught.value)
    assert message.startswith("none of the 2 photos given has a darktable history")
    assert f"{b}: the sidecar has no active history" in message
    assert str(linked) not in message


@pytest.mark.parametrize("twice", [("same", "same"), ("same", "./same/"), ("same", "link")])
def test_pairs_from_one_folder_twice_are_refused_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], twice: tuple[str, str]
) -> None:
    monkeypatch.chdir(tmp_path)
    selected_photos(tmp_path / "same", "p0.jpg")
    (tmp_path / "link").symlink_to(tmp_path / "same")
    code = main(["train", "--style", "s", "--pairs", *twice, "--run-dir", str(tmp_path / "run"), "--no-install"])
    assert code == 2  # a usage mistake, as argparse's own
    err = capsys.readouterr().err
    assert "--pairs: the originals and the edits are the same folder" in err and "same" in err
    assert not (tmp_path / "run").exists()  # refused before anything started


def test_the_daemons_pairs_from_one_folder_twice_are_refused_before_decoding(tmp_path: Path) -> None:
    from trainer.config import ConfigError
    from trainer.restore_pairs import load_pair_set

    selected_photos(tmp_path / "same", "p0.jpg")
    cfg = config_from_dict(tiny_pairs_config(["exposure"], "s"))
    with pytest.raises(ConfigError, match=r"same: the originals and the edits are the same folder"):
        load_pair_set(cfg, tmp_path / "same", f"{tmp_path}/same/", ("exposure",))


def test_renamed_links_never_collide_and_a_hidden_file_in_the_selection_is_left_alone(tmp_path: Path) -> None:
    from trainer.data.selection import linked_folder

    a, b = tmp_path / "a", tmp_path / "b"
    for folder, names in ((a, ("IMG_1.jpg", "IMG_1-2.jpg")), (b, ("IMG_1.jpg", "img_1-2.JPG"))):
        folder.mkdir()
        for name in names:
            (folder / name).write_bytes(b"jpeg")
    selection = tmp_path / "run" / "selection"
    selection.mkdir(parents=True)
    (selection / ".DS_Store").write_bytes(b"finder")
    files = [str(a / "IMG_1.jpg"), str(a / "IMG_1-2.jpg"), str(b / "IMG_1.jpg"), str(b / "img_1-2.JPG")]
    out = linked_folder(selection, files, with_sidecars=True)
    links = {p.name: p.resolve() for p in out.iterdir() if p.is_symlink()}
    assert sorted(links.values()) == sorted(Path(f).resolve() for f in files)  # four links, none lost
    assert len({name.casefold() for name in links}) == len(links)  # distinct on a case-insensitive disk too
    assert (out / ".DS_Store").read_bytes() == b"finder"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--darktable", "dt", "--targets", "favs"], "--darktable DIR is a training source of its own"),
        (["--darktable", "dt", "--resume"], "a --darktable run starts afresh"),
        (["--pairs", "a", "b", "--sources", "favs"], "--pairs BEFORE AFTER is a training source of its own"),
        (["--pairs", "a", "b", "--resume"], "a --pairs run starts afresh"),
        (["--targets", "favs", "--expert", "C"], "--expert only apply with --lrcat"),
        (["--minutes", "1"], "train needs --targets DIR"),
        (["--lrcat", "x.lrcat", "--expert", "C", "--server", "127.0.0.1:1"], "not available through --server"),
    ],
)
def test_options_that_do_not_go_together_exit_2_before_anything_starts(
    argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    selected_photos(tmp_path / "a", "p0.jpg")
    selected_photos(tmp_path / "b", "p0.jpg")
    assert main(["train", "--style", "s", *argv, "--run-dir", str(tmp_path / "run"), "--no-install"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("autoretouch: error: ") and message in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--steps", "0"], "argument --steps: must be at least 1, got 0"),
        (["--steps", "x"], "argument --steps: not a whole number: 'x'"),
        (["--minutes", "-1"], "argument --minutes: must be 0 or more minutes, got -1"),
        (["--minutes", "nan"], "argument --minutes: must be 0 or more minutes, got nan"),
    ],
)
@pytest.mark.parametrize("server", [False, True])
def test_a_bad_length_is_refused_alike_locally_and_through_a_daemon(
    argv: list[str], message: str, server: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remote = ["--server", "127.0.0.1:1"] if server else []  # refused before any connection is tried
    with pytest.raises(SystemExit) as exited:
        main(["train", "--style", "s", "--targets", str(tmp_path), *argv, *remote])
    assert exited.value.code == 2 and message in capsys.readouterr().err
