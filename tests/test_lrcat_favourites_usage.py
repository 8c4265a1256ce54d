"""``train --lrcat --favourites`` usage mistakes: exit status 2 with a plain message, locally and through a daemon.

A malformed selection, ``--favourites`` without ``--lrcat`` and ``--lrcat`` without a selection are refused
before anything starts; a ``collection:NAME`` that names a smart collection or a collection set says so
(instead of "selects no photo"). Through a daemon the same mistakes answer ``INVALID_ARGUMENT`` with exit
status 2, from a real daemon and its real training worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from backend.cli.main import main
from backend.rpc import pb
from testing.daemon import serving
from testing.lrcat_fixtures import CatalogBuilder
from testing.training import write_training_inputs
from trainer.lrcat.errors import FavouritesSelectionError
from trainer.lrcat.favourites import select_favourites
from trainer.lrcat.reader import open_catalog
from trainer.remote_train import config_overrides


def _settings(exposure: float) -> dict[str, Any]:
    return {"ProcessVersion": "11.0", "WhiteBalance": "As Shot", "Exposure2012": exposure, "Vibrance": 10}


def _catalog(path: Path, photos: Path, names: list[str]) -> dict[str, int]:
    """Picked, edited photos in ``Best``; an empty smart collection ``Smart5``; a set ``Trips`` holding ``Best``
    and a regular ``Italy``; a smart collection and a regular collection both called ``Mixed``."""
    ids: dict[str, int] = {}
    with CatalogBuilder(path, schema="modern") as b:
        folder = b.add_folder(b.add_root(str(photos) + "/"), "")
        best = b.add_collection("Best")
        for i, name in enumerate(names):
            ids[name] = b.add_image(b.add_file(folder, name, "png"), file_format="PNG", rating=4, pick=1)
            b.set_settings(ids[name], _settings(0.3 + 0.1 * i), compressed=True)
            b.add_to_collection(best, ids[name])
        b.add_collection("Smart5", kind="smart")
        trips = b.add_collection("Trips", kind="group")
        italy = b.add_collection("Italy", trips)
        b.add_to_collection(italy, ids[names[0]])
        b.add_collection("Mixed", kind="smart")
        b.add_to_collection(b.add_collection("Mixed"), ids[names[1]])
    return ids


@pytest.mark.parametrize(
    "argv",
    [
        ["--lrcat", "x.lrcat", "--favourites", "rating:6"],
        ["--lrcat", "x.lrcat", "--favourites", "rating:abc"],
        ["--lrcat", "x.lrcat", "--favourites", "rating:0"],
        ["--lrcat", "x.lrcat", "--favourites", "collection:"],
        ["--lrcat", "x.lrcat", "--favourites", "PICKS"],
        ["--favourites", "picks"],
        ["--lrcat", "x.lrcat"],
        ["--lrcat", "x.lrcat", "--favourites", "picks", "--targets", "favs"],
    ],
)
@pytest.mark.parametrize("server", [False, True])
def test_usage_mistakes_exit_2_with_a_plain_message(
    argv: list[str], server: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    remote = ["--server", "127.0.0.1:1"] if server else []  # refused before any connection is tried
    assert main(["train", "--style", "s", *argv, *remote, "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("autoretouch: error: --") and "<text>" not in err, err
    if "--favourites" in argv and len(argv) == 4:
        assert f"--favourites {argv[3]!r}: use picks, rating:N (N = 1..5) or collection:NAME" in err
    assert not (tmp_path / "run").exists()


def test_smart_collections_and_sets_are_named_as_such(tmp_path: Path) -> None:
    ids = _catalog(tmp_path / "c.lrcat", tmp_path, ["p000", "p001"])
    with open_catalog(tmp_path / "c.lrcat") as cat:
        with pytest.raises(FavouritesSelectionError, match=r"'Smart5' is a smart collection, which is not supported "
                           r"\(its rules are Lightroom's\); use picks, rating:N or a regular collection") as smart:  # fmt: skip
            select_favourites(cat, "collection:Smart5")
        assert smart.value.exit_code == 2 and smart.value.grpc_status == "INVALID_ARGUMENT"
        assert str(smart.value).startswith(f"{tmp_path / 'c.lrcat'}: --favourites collection:Smart5: ")
        with pytest.raises(FavouritesSelectionError, match=r"'Trips' is a collection set; name one of its collections"):
            select_favourites(cat, "collection:Trips")
        assert select_favourites(cat, "collection:Trips/Italy") == [ids["p000"]]  # a collection inside the set
        assert select_favourites(cat, "collection:Mixed") == [ids["p001"]]  # the regular one of the name counts
        assert select_favourites(cat, "collection:Best") == sorted(ids.values())


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("favourites_usage")
    inputs = write_training_inputs(base)
    with serving(base, photos=False, style_names=("default",), http_port=None) as served:
        lrcat = served.root / "c.lrcat"
        _catalog(lrcat, inputs.before, sorted(p.stem for p in inputs.before.glob("*.png")))
        yield {"lrcat": lrcat, "tiny": config_overrides(inputs.config), "stub": served.stub,
               "daemon": served.daemon}  # fmt: skip


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        ("rating:6", "--favourites 'rating:6': use picks, rating:N (N = 1..5) or collection:NAME"),
        ("collection:Smart5", "'Smart5' is a smart collection, which is not supported"),
        ("collection:Trips", "'Trips' is a collection set; name one of its collections"),
    ],
)
def test_the_daemon_answers_invalid_argument(env: dict[str, Any], selection: str, message: str) -> None:
    req = pb.TrainStyleRequest(
        protocol_version=1, name="s", steps=1, lrcat=str(env["lrcat"]), lrcat_favourites=selection,
        overrides=[*env["tiny"], "run.method=restore"],
    )  # fmt: skip
    with pytest.raises(grpc.RpcError) as refused:
        list(env["stub"].TrainStyle(req, timeout=120))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in str(refused.value.details()) and "<text>" not in str(refused.value.details())
    meta = dict(refused.value.trailing_metadata())  # type: ignore[attr-defined]
    assert meta["autoretouch-exit-code"] == "2" and meta["autoretouch-error-type"] == "FavouritesSelectionError"
