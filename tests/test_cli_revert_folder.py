"""``revert FOLDER`` walks it as ``catalog`` does, ``apply FOLDER`` fails alone with a typed error (QA round B).

Also: what a folder walk leaves out besides hidden entries and known non-photos (symbolic links to folders,
broken links, FIFOs, sockets) is named as skipped with the reason, never silently dropped (nor opened).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from backend.batch import find_photos, run_batch
from backend.cli.main import EXIT_PARTIAL, main
from tests.test_batch_support import FOREIGN_DT, make_photos, make_style

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def style(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_style(tmp_path_factory.mktemp("styles"))


def _catalog(folder: Path, style: Path) -> None:
    summary = run_batch([folder], hosts="darktable", style=style, jobs=1)
    assert summary.counts["written"] == len(summary.photos)


@pytest.mark.parametrize("as_dot", [False, True])
def test_revert_of_a_folder_reverts_every_photo_in_it_recursively(
    tmp_path: Path, style: Path, as_dot: bool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "shoot"
    a, b = make_photos(folder, 2)
    (c,) = make_photos(folder / "day2", 1, start=2)
    (hidden,) = make_photos(folder / ".hidden", 1, start=3)
    Path(f"{b}.xmp").write_text(FOREIGN_DT)
    _catalog(folder, style)
    Path(f"{hidden}.xmp").write_text("not ours, never touched")
    if as_dot:
        monkeypatch.chdir(folder)
    code = main(["revert", "." if as_dot else str(folder), "--host", "darktable"])
    out = capsys.readouterr()
    assert code == 0, out
    assert not Path(f"{a}.xmp").exists() and not Path(f"{c}.xmp").exists()
    assert Path(f"{b}.xmp").read_text() != "" and "autoretouch:" not in Path(f"{b}.xmp").read_text()
    assert Path(f"{hidden}.xmp").read_text() == "not ours, never touched"
    assert out.out.count("deleted") == 2 and out.out.count("reverted") == 1 and "internal error" not in out.err


def test_revert_of_an_empty_folder_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["revert", str(tmp_path / "empty"), "--host", "darktable"]) == 0
    assert "no photos in this folder" in capsys.readouterr().out


@pytest.mark.parametrize("name", [".", "shoot"])
def test_apply_to_a_folder_fails_it_alone_naming_it_and_does_the_others(
    tmp_path: Path, style: Path, name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "shoot"
    (photo,) = make_photos(folder, 1)
    monkeypatch.chdir(folder if name == "." else tmp_path)
    code = main(["apply", name, str(photo), "--style", str(style), "--host", "darktable"])
    out = capsys.readouterr()
    assert code == EXIT_PARTIAL, out
    assert f"{name}: is a folder; use `autoretouch catalog {name}`" in out.err and "internal error" not in out.err
    assert Path(f"{photo}.xmp").is_file()


def _specials(folder: Path) -> dict[str, str]:
    """Broken links, a FIFO with and without a photo extension, a socket and a linked folder in ``folder``."""
    (folder / "real").mkdir(parents=True)
    make_photos(folder / "real", 1)
    os.symlink(folder / "real", folder / "linked")
    os.symlink(folder / "nowhere.jpg", folder / "broken.jpg")
    os.symlink(folder / "nowhere.xmp", folder / "broken.xmp")  # a known non-photo name: left out silently
    os.mkfifo(folder / "pipe")  # sniffing it would block forever
    os.mkfifo(folder / "pipe.jpg")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock"))
    sock.close()
    return {
        "linked": "symbolic link to a folder, not followed",
        "broken.jpg": "broken symbolic link",
        "pipe": "a FIFO (named pipe), not a photo file",
        "pipe.jpg": "a FIFO (named pipe), not a photo file",
        "sock": "a socket, not a photo file",
    }


def test_walk_names_what_it_leaves_out_with_a_reason(tmp_path: Path) -> None:
    expected = _specials(tmp_path / "tree")
    walk = find_photos([tmp_path / "tree"])
    assert [p.name for p in walk.photos] == ["IMG_0000.jpg"]
    got = {p.name: why for p, why in walk.ignored}
    assert set(got) == set(expected)
    for name, why in expected.items():
        assert got[name].startswith(f"{tmp_path / 'tree' / name}: {why}")


def test_catalog_lists_what_the_walk_left_out_as_skipped(tmp_path: Path, style: Path) -> None:
    expected = _specials(tmp_path / "tree")
    summary = run_batch([tmp_path / "tree"], hosts="darktable", style=style, jobs=1)
    assert summary.counts["written"] == 1 and summary.counts["skipped"] == len(expected) and not summary.any_failed
    skipped = {o.photo.name: o.reason for o in summary.photos if o.status == "skipped"}
    assert set(skipped) == set(expected)
