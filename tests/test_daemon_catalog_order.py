"""A daemon's catalog batch reports its photos in walk order, the photos it refuses in their place too (QA: a
symlink pointing outside ``--root`` was listed first by ``catalog DIR --server --json``)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.daemon.sidecar_batch import _WalkOrder
from backend.rpc import PROTOCOL_VERSION, pb
from testing.daemon import run_main, serving, use_daemon_env

V = PROTOCOL_VERSION


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("catalog_order")
    with serving(base, outside=True) as served:
        folder = served.root / "shoot"
        folder.mkdir()
        for name in ("a.jpg", "c.jpg", "e.jpg"):
            shutil.copy(served.photos["jpg"], folder / name)
        for name in ("b_escape.jpg", "d_escape.jpg"):  # links to a photo outside the daemon's root
            os.symlink(served.outside / "secret.jpg", folder / name)
        yield {"root": served.root, "styles": served.styles, "server": served.server, "folder": folder,
               "stub": served.stub}  # fmt: skip


WALK = ["a.jpg", "b_escape.jpg", "c.jpg", "d_escape.jpg", "e.jpg"]


def test_write_sidecars_streams_refused_photos_in_their_place(env: dict[str, Any]) -> None:
    req = pb.WriteSidecarsRequest(
        protocol_version=V, paths=[str(env["folder"])], hosts=[pb.HOST_DARKTABLE], style="warm", dry_run=True
    )
    messages = list(env["stub"].WriteSidecars(req, timeout=60))
    files = [m.file for m in messages if m.WhichOneof("event") == "file"]
    assert [Path(f.photo).name for f in files] == WALK
    assert [f.index for f in files] == [1, 2, 3, 4, 5]
    assert [bool(f.error.message) for f in files] == [False, True, False, True, False]
    assert "outside" in files[1].error.message


def test_catalog_server_json_keeps_the_walk_order(
    capsys: pytest.CaptureFixture[str], env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_daemon_env(env, monkeypatch)
    code, out, err = run_main(capsys, ["catalog", "shoot", "--dry-run", "--json", "--server", env["server"]])
    photos = json.loads(out)["photos"]
    assert [Path(p["photo"]).name for p in photos] == WALK, err
    assert code != 0  # the refused photos fail


def test_walk_order_holds_results_until_those_before_them_came() -> None:
    photos = [Path(f"/r/{n}") for n in "abcd"]
    order = _WalkOrder(photos)

    def result(name: str) -> pb.FileResult:
        return pb.FileResult(photo=f"/r/{name}")

    assert order.add(result("b")) == []
    assert [r.photo for r in order.add(result("a"))] == ["/r/a", "/r/b"]
    assert order.add(result("d")) == []
    assert [r.photo for r in order.add(result("elsewhere"))] == ["/r/elsewhere"]  # not in the batch: at once
    assert [r.photo for r in order.rest()] == ["/r/d"]  # c never came (a cancelled batch)
    assert order.rest() == []


def test_walk_order_waits_for_no_photo_that_never_reports(tmp_path: Path) -> None:
    """A name the results show with U+FFFD and a link to an earlier photo (reported once) hold nothing back."""
    from backend.daemon.convert import wire_text

    odd = tmp_path / os.fsdecode(b"caf\xe9.jpg")
    names = [tmp_path / "a.jpg", odd, tmp_path / "c.jpg", tmp_path / "d.jpg"]
    for p in names:
        p.write_bytes(b"x")
    link = tmp_path / "b.jpg"
    link.symlink_to(tmp_path / "a.jpg")  # the batch dedupes by real path: only a.jpg reports
    order = _WalkOrder([names[0], link, *names[1:]])
    assert order.reported_once([names[0], link, *names[1:]]) == []

    def result(p: Path) -> pb.FileResult:
        return pb.FileResult(photo=wire_text(p))

    assert [r.photo for r in order.add(result(names[0]))] == [str(names[0])]
    assert [r.photo for r in order.add(result(odd))] == [wire_text(odd)]
    assert [r.photo for r in order.add(result(names[2]))] == [str(names[2])]  # not held back
    assert [r.photo for r in order.add(result(names[3]))] == [str(names[3])]
    assert order.rest() == []


def test_a_link_to_a_photo_of_the_same_folder_is_not_counted_twice(env: dict[str, Any]) -> None:
    """The batch reports a photo and a link to it once: the total and "cancelled" count what will report."""
    folder = env["root"] / "linked"
    folder.mkdir()
    for name in ("a.jpg", "c.jpg"):
        shutil.copy(env["folder"] / "a.jpg", folder / name)
    os.symlink(folder / "a.jpg", folder / "b.jpg")
    req = pb.WriteSidecarsRequest(
        protocol_version=V, paths=[str(folder)], hosts=[pb.HOST_DARKTABLE], style="warm", dry_run=True
    )
    messages = list(env["stub"].WriteSidecars(req, timeout=60))
    files = [m.file for m in messages if m.WhichOneof("event") == "file"]
    summary = next(m.summary for m in messages if m.WhichOneof("event") == "summary")
    assert [(Path(f.photo).name, f.index, f.total) for f in files] == [("a.jpg", 1, 2), ("c.jpg", 2, 2)]
    assert not summary.cancelled and summary.photos == 2
