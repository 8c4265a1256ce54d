"""Training from an editor's selection over the JSON bridge: lists of photo files or Lightroom develop settings,
the streamed ``POST /v1/train`` and the background ``/v1/train/start|status|cancel`` that Lightroom polls.

A real daemon on loopback runs its real training worker on tiny generated photos with a tiny configuration,
so a training takes a few seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testing.daemon_train import (
    QUICK_RESTORE,
    bridge_call,
    train_status,
    training_daemon,
    wait_until_not_running,
)
from testing.darktable_selection import selected_photos
from trainer.data.selection import MARKER


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with training_daemon(tmp_path_factory.mktemp("train_selection")) as trained:
        yield {"root": trained.served.root, "targets": trained.inputs.targets, "before": trained.inputs.before,
               "port": trained.port, "daemon": trained.daemon, "tiny": trained.tiny}  # fmt: skip


def _styles(env: dict[str, Any]) -> dict[str, Any]:
    code, raw = bridge_call(env["port"], "GET", "/v1/styles?protocol_version=1")
    assert code == 200
    return {s["name"]: s for s in json.loads(raw)["styles"]}


def test_lightroom_selection_trains_in_the_background_and_installs(env: dict[str, Any]) -> None:
    photos = sorted(env["before"].glob("*.png"))
    edits = [
        {"path": str(p), "settings": {"ProcessVersion": "11.0", "Exposure2012": 0.4 + 0.1 * i, "Contrast2012": 10}}
        for i, p in enumerate(photos)
    ]
    edits.append({"path": str(photos[0]), "settings": {"ProcessVersion": "5.7", "Exposure": 0.5}})  # skipped
    body = {"protocol_version": 1, "name": "from_lr", "steps": 2, "overrides": [*env["tiny"], *QUICK_RESTORE],
            "lightroom_edits": edits}  # fmt: skip
    code, raw = bridge_call(env["port"], "POST", "/v1/train/start", body)
    assert code == 200, raw
    started = json.loads(raw)
    assert started["state"] == "running" and started["name"] == "from_lr"
    assert started["last"]["progress"]["phase"] == "starting"
    done = wait_until_not_running(env["port"])
    assert done["state"] == "finished", done
    finished = done["last"]["finished"]
    assert finished["style"]["name"] == "from_lr" and finished["steps"] == 2
    style = _styles(env)["from_lr"]
    assert style["loaded"] and style["training"]["learned_from"] == "lightroom edits"  # shown in style lists
    assert style["training"]["pairs"] == 4 and style["training"]["lightroom_edits"] == 5
    log_text = (Path(finished["run_dir"]) / "daemon_train_worker.log").read_text()
    assert "p000.png: process version 2010" in log_text  # the skipped photo is named in the worker's log


def test_favourite_files_stream_over_post_train(env: dict[str, Any]) -> None:
    files = [str(p) for p in sorted(env["targets"].iterdir())]
    body = {"protocol_version": 1, "name": "from_files", "steps": 2, "overrides": env["tiny"],
            "favourite_files": files}  # fmt: skip
    code, raw = bridge_call(env["port"], "POST", "/v1/train", body)
    assert code == 200, raw
    lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
    assert "progress" in lines[0] and "finished" in lines[-1]
    assert lines[-1]["finished"]["style"]["name"] == "from_files" and _styles(env)["from_files"]["loaded"]
    run = Path(lines[-1]["finished"]["run_dir"])
    assert sorted(p.name for p in (run / "selection").iterdir() if p.name != MARKER) == sorted(
        Path(f).name for f in files
    )


def test_cancel_stops_the_background_training_and_installs_nothing(env: dict[str, Any]) -> None:
    files = [str(p) for p in sorted(env["targets"].iterdir())]
    body = {"protocol_version": 1, "name": "cancelled", "steps": 100000, "minutes": 10,
            "overrides": env["tiny"], "favourite_files": files}  # fmt: skip
    code, raw = bridge_call(env["port"], "POST", "/v1/train/start", body)
    assert code == 200, raw
    code, raw = bridge_call(env["port"], "POST", "/v1/train/start", body)  # one training at a time
    assert code == 429 and json.loads(raw)["code"] == "RESOURCE_EXHAUSTED"
    code, raw = bridge_call(env["port"], "POST", "/v1/train/cancel", {"protocol_version": 1})
    assert code == 200
    assert wait_until_not_running(env["port"], 30)["state"] == "cancelled"
    assert "cancelled" not in _styles(env)
    assert env["daemon"].service.background.wait(10) and not env["daemon"].service.training.busy


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"favourite_files": ["/etc/passwd"]}, 403, "PERMISSION_DENIED"),
        ({"favourite_files": ["MISSING"]}, 404, "NOT_FOUND"),
        ({"lightroom_edits": [{"path": "MISSING", "settings": {}}]}, 404, "NOT_FOUND"),
        ({"favourite_files": ["TARGET"], "darktable_files": ["TARGET"]}, 400, "INVALID_ARGUMENT"),
        ({"protocol_version": 99}, 501, "UNIMPLEMENTED"),
        ({"favourite_files": ["TARGET"], "overrides": ["restore.prior=/etc/outside/style"]}, 400, "INVALID_ARGUMENT"),
        ({"favourite_files": ["TARGET"], "overrides": ['restore.prior="..\\x.safetensors"']}, 400, "INVALID_ARGUMENT"),
    ],
)
def test_bad_selections_are_refused_before_anything_starts(
    env: dict[str, Any], changes: dict[str, Any], status: int, code: str
) -> None:
    target = str(next(env["targets"].iterdir()))
    missing = str(env["root"] / "missing.jpg")

    def fill(value: Any) -> Any:
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return {"MISSING": missing, "TARGET": target}.get(value, value) if isinstance(value, str) else value

    body = {"protocol_version": 1, "name": "bad", "steps": 1} | fill(changes)
    got, raw = bridge_call(env["port"], "POST", "/v1/train/start", body)
    assert (got, json.loads(raw)["code"]) == (status, code)
    assert train_status(env["port"])["state"] != "running"


def test_listed_darktable_files_are_linked_with_their_sidecars(tmp_path: Path) -> None:
    from trainer.data.selection import linked_folder

    a, b = tmp_path / "day1", tmp_path / "day2"
    for folder in (a, b):
        selected_photos(folder, "IMG_1.jpg", sidecar=f"<x:xmpmeta>{folder.name}</x:xmpmeta>")
    out = linked_folder(tmp_path / "selection", [str(a / "IMG_1.jpg"), str(b / "IMG_1.jpg")], with_sidecars=True)
    names = sorted(p.name for p in out.iterdir() if p.name != MARKER)
    assert names == ["IMG_1-1.jpg", "IMG_1-1.jpg.xmp", "IMG_1.jpg", "IMG_1.jpg.xmp"]  # same name, two folders
    assert (out / "IMG_1-1.jpg.xmp").read_text() == "<x:xmpmeta>day2</x:xmpmeta>"
    assert (out / "IMG_1.jpg").resolve() == (a / "IMG_1.jpg").resolve()


def test_the_daemon_worker_takes_a_listed_sidecar_for_its_photo(tmp_path: Path) -> None:
    from trainer.daemon_worker import darktable_files_folder
    from trainer.data.given import given_record
    from trainer.data.selection import SelectionError

    selected_photos(tmp_path, "a.jpg")
    (tmp_path / "b.jpg.xmp").write_text("<x:xmpmeta/>")  # its photo is not there
    listed = [str(tmp_path / "a.jpg.xmp"), str(tmp_path / "a.jpg")]
    out = darktable_files_folder(listed, tmp_path / "run")
    assert sorted(p.name for p in out.iterdir() if p.name != MARKER) == ["a.jpg", "a.jpg.xmp"]
    assert given_record(out) == listed  # the style's record names the files as listed, the sidecar too
    with pytest.raises(SelectionError, match=r"b\.jpg\.xmp: not a photo"):
        darktable_files_folder([str(tmp_path / "b.jpg.xmp")], tmp_path / "run")


def test_the_daemon_worker_checks_the_given_folders_against_its_roots_again(tmp_path: Path) -> None:
    from backend.daemon.security import Roots
    from trainer.daemon_worker import darktable_files_folder
    from trainer.data.given import given_record, unread_subfolders

    root, outside = tmp_path / "root", tmp_path / "outside"
    selected_photos(root / "roll", "a.jpg")
    selected_photos(outside / "roll", "x.jpg")
    selected_photos(outside / "roll" / "private", "p.jpg")
    roots = Roots([str(root)])
    files = [str(root / "roll" / "a.jpg")]
    out = darktable_files_folder(files, tmp_path / "run", given=[str(root / "roll")], roots=roots)
    assert given_record(out) == [str(root / "roll")]  # under the roots: named as given
    # the folder checked by the daemon, then replaced by a link out of the roots: its subfolders are not looked for
    (root / "roll").rename(root / "roll.old")
    (root / "roll").symlink_to(outside / "roll")
    files = [str(root / "roll.old" / "a.jpg")]
    out = darktable_files_folder(files, tmp_path / "run2", given=[str(root / "roll")], roots=roots)
    assert given_record(out) == files and unread_subfolders(out) == []  # the photos trained are named instead
    # no roots (the command line): as given
    out = darktable_files_folder(files, tmp_path / "run3", given=[str(root / "roll")])
    assert unread_subfolders(out) == [str(root / "roll" / "private")]


def test_train_darktable_takes_a_folder_or_photo_files(tmp_path: Path) -> None:
    from backend.cli.main import build_parser
    from backend.errors import NotFoundError
    from trainer.cli import _darktable_dir
    from trainer.remote_train import train_request as _train_request

    folder = tmp_path / "edits"
    selected_photos(folder, "a.jpg", "b.jpg")
    run = tmp_path / "run"
    one = build_parser().parse_args(["train", "--style", "s", "--darktable", str(folder)])
    assert _darktable_dir(one, run) == folder
    files = build_parser().parse_args(
        ["train", "--style", "s", "--darktable", str(folder / "a.jpg"), str(folder / "b.jpg")]
    )
    linked = _darktable_dir(files, run)
    assert linked == run / "selection"
    assert sorted(p.name for p in linked.iterdir() if p.name != MARKER) == ["a.jpg", "a.jpg.xmp", "b.jpg", "b.jpg.xmp"]
    missing = build_parser().parse_args(["train", "--style", "s", "--darktable", str(folder / "nope.jpg")])
    with pytest.raises(NotFoundError, match=r"nope\.jpg"):
        _darktable_dir(missing, tmp_path / "run2")
    # with --server the daemon gets the folder, or the files as darktable_files
    assert _train_request(one).darktable == str(folder) and not _train_request(one).darktable_files
    request = _train_request(files)
    assert request.darktable == "" and list(request.darktable_files) == [str(folder / "a.jpg"), str(folder / "b.jpg")]
