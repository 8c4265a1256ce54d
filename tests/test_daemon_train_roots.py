"""A daemon's training reads nothing outside its ``--root`` folders, whatever the request's files lead to.

The daemon checks the paths a ``TrainStyle`` names; these tests check what those paths lead to in the real
training worker: the originals a catalog under the root names (skipped and named, never decoded), a
same-named file found through ``photos`` that is a link out of the root, and a link out of the root inside a
favourites folder. A real daemon runs its real worker on tiny photos with a tiny configuration. The request's
``darktable_given`` (what the user typed, for the record only) is checked by the daemon's training runner itself
(``TrainingRunner._spec``), with no worker and no darktable-cli.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from backend.agent.style import load_style
from backend.daemon.errors import BadRequestError
from backend.errors import PermissionDeniedError
from backend.rpc import pb
from testing.daemon import serving
from testing.daemon_train import QUICK_RESTORE
from testing.lrcat_fixtures import CatalogBuilder
from testing.training import write_training_inputs
from trainer.remote_train import config_overrides


def _settings(exposure: float) -> dict[str, Any]:
    return {"ProcessVersion": "11.0", "WhiteBalance": "As Shot", "Exposure2012": exposure, "Vibrance": 10}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("train_roots")
    inputs = write_training_inputs(base)
    photos = sorted(inputs.before.glob("*.png"))
    outside = base / "outside"  # next to the root, not under it
    outside.mkdir()
    for p in photos:
        shutil.copy(p, outside / p.name)
    with serving(base, photos=False, style_names=("default",), http_port=None) as served:
        yield {"base": base, "root": served.root, "inside": inputs.before, "outside": outside, "photos": photos,
               "styles": served.styles, "tiny": config_overrides(inputs.config), "stub": served.stub}  # fmt: skip


def _spec_given(tmp_path: Path, given: list[str], *, files: bool = True) -> dict[str, Any]:
    """The worker's spec a daemon rooted at ``tmp_path / "root"`` makes of a darktable request with ``given``.

    The root holds ``roll/a.png`` (with its sidecar; listed as ``darktable_files`` where ``files``, else ``roll``
    is sent as the ``darktable`` folder) and ``out``, a link to ``tmp_path / "outside"``.
    """
    from backend.daemon.config import DaemonConfig
    from backend.daemon.security import Roots
    from backend.daemon.styles import StyleRegistry
    from backend.daemon.training import TrainingRunner

    root = tmp_path / "root"
    (root / "roll").mkdir(parents=True, exist_ok=True)
    (root / "roll" / "a.png").write_bytes(b"x")
    (root / "roll" / "a.png.xmp").write_text("<x:xmpmeta/>")
    (tmp_path / "outside").mkdir(exist_ok=True)
    if not (root / "out").is_symlink():
        (root / "out").symlink_to(tmp_path / "outside")
    runner = TrainingRunner(DaemonConfig(roots=(root,)), StyleRegistry([tmp_path / "styles"]), Roots([root]))
    listed = [str(root / "roll" / "a.png")] if files else []
    folder = "" if files else str(root / "roll")
    req = pb.TrainStyleRequest(
        protocol_version=1, name="s", darktable_files=listed, darktable=folder, darktable_given=given
    )
    return runner._spec(req, tmp_path / "run")


def test_the_daemon_takes_darktable_given_under_its_roots(tmp_path: Path) -> None:
    root = tmp_path / "root"
    spec = _spec_given(tmp_path, [str(root / "roll"), str(root / "roll" / "a.png.xmp")])
    assert spec["darktable_given"] == [str(root / "roll"), str(root / "roll" / "a.png.xmp")]
    assert spec["darktable_files"] == [str(root / "roll" / "a.png")]  # what is trained: the files listed
    assert _spec_given(tmp_path, [str(root / "roll")] * 10_000)["darktable_given"] == [str(root / "roll")] * 10_000
    assert _spec_given(tmp_path, [])["darktable_given"] is None


@pytest.mark.parametrize(
    ("given", "error", "match"),
    [
        (["/etc"], PermissionDeniedError, r"/etc: outside the daemon's --root folders$"),
        (
            ["{root}/out"],
            PermissionDeniedError,
            r"/out: outside the daemon's --root folders \(it resolves to .*outside\)",
        ),
        (["{root}/roll/../roll"], BadRequestError, r"'\.\.' is not allowed in paths sent to the daemon"),
        (["roll"], BadRequestError, r"^roll: paths sent to the daemon must be absolute"),
        ([""], BadRequestError, r"^invalid path ''"),
        (["{root}/roll"] * 10_001, BadRequestError, r"^10001 paths in darktable_given; at most 10000$"),
    ],
    ids=["outside the roots", "a link out of them", "dot dot", "relative", "empty", "10,001 paths"],
)
def test_the_daemon_refuses_darktable_given_it_may_not_read(
    tmp_path: Path, given: list[str], error: type[Exception], match: str
) -> None:
    paths = [g.format(root=tmp_path / "root") for g in given]
    with pytest.raises(error, match=match):
        _spec_given(tmp_path, paths)


def test_the_daemon_refuses_darktable_given_with_a_darktable_folder(tmp_path: Path) -> None:
    with pytest.raises(BadRequestError, match=r"^darktable_given goes with darktable_files"):
        _spec_given(tmp_path, [str(tmp_path / "root" / "roll")], files=False)


def _catalog(path: Path, folders: dict[str, Path], names: list[str]) -> None:
    """A catalog with one picked, edited photo per name; ``folders`` maps a name to the folder it lies in."""
    with CatalogBuilder(path, schema="modern") as b:
        made: dict[Path, int] = {}
        for i, name in enumerate(names):
            folder = folders[name]
            if folder not in made:
                made[folder] = b.add_folder(b.add_root(str(folder) + "/"), "")
            image = b.add_image(b.add_file(made[folder], name, "png"), file_format="PNG", pick=1)
            b.set_settings(image, _settings(0.3 + 0.1 * i), compressed=True)


def _train(env: dict[str, Any], name: str, **fields: Any) -> pb.TrainStyleFinished:
    req = pb.TrainStyleRequest(
        protocol_version=1, name=name, steps=2, overrides=[*env["tiny"], *QUICK_RESTORE], **fields
    )
    finished = None
    for response in env["stub"].TrainStyle(req, timeout=120):
        if response.WhichOneof("event") == "finished":
            finished = response.finished
    assert finished is not None
    return finished


def _training(env: dict[str, Any], name: str) -> dict[str, Any]:
    return load_style(env["styles"] / f"{name}.safetensors").training


def test_a_catalogs_originals_outside_the_roots_are_skipped_and_named(env: dict[str, Any]) -> None:
    names = [p.stem for p in env["photos"]]
    inside, outside = names[:2], names[2:]
    lrcat = env["root"] / "mixed.lrcat"
    _catalog(lrcat, {n: env["inside"] if n in inside else env["outside"] for n in names}, names)
    _train(env, "mixed", lrcat=str(lrcat), lrcat_favourites="picks")
    t = _training(env, "mixed")
    assert t["pairs"] == len(inside)  # only the originals under the root were decoded and trained on
    skipped = t["catalog_skipped"]
    assert len(skipped) == len(outside), skipped
    for name, message in zip(outside, skipped, strict=True):
        assert message.startswith(f"{name} (image ") and "outside the daemon's --root folders" in message
        assert str(env["outside"] / f"{name}.png") in message


def test_a_catalog_naming_only_photos_outside_the_roots_trains_nothing(env: dict[str, Any]) -> None:
    names = [p.stem for p in env["photos"]]
    lrcat = env["root"] / "outside.lrcat"
    _catalog(lrcat, dict.fromkeys(names, env["outside"]), names)
    with pytest.raises(grpc.RpcError) as refused:
        _train(env, "escaped", lrcat=str(lrcat), lrcat_favourites="picks")
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert "none of the selected photos can be used" in str(refused.value.details())
    assert "outside the daemon's --root folders" in str(refused.value.details())
    assert not (env["styles"] / "escaped.safetensors").exists()


def test_a_link_out_of_the_root_in_the_photos_folder_is_skipped(env: dict[str, Any]) -> None:
    names = [p.stem for p in env["photos"]]
    flat = env["root"] / "flat"
    flat.mkdir()
    for name in names[:2]:
        shutil.copy(env["inside"] / f"{name}.png", flat / f"{name}.png")
    (flat / f"{names[2]}.png").symlink_to(env["outside"] / f"{names[2]}.png")
    lrcat = env["root"] / "moved.lrcat"
    gone = env["base"] / "gone"  # the recorded folder no longer exists: originals are found in photos
    _catalog(lrcat, dict.fromkeys(names[:3], gone), names[:3])
    _train(env, "moved", lrcat=str(lrcat), lrcat_favourites="picks", photos=str(flat))
    t = _training(env, "moved")
    assert t["pairs"] == 2
    (message,) = t["catalog_skipped"]
    assert message.startswith(f"{names[2]} (image ") and "outside the daemon's --root folders" in message
    assert f"it resolves to {env['outside'] / names[2]}.png" in message


def test_a_link_out_of_the_root_in_a_favourites_folder_refuses_the_training(env: dict[str, Any]) -> None:
    favourites = env["root"] / "favs"
    favourites.mkdir()
    for p in env["photos"][:2]:
        shutil.copy(p, favourites / p.name)
    (favourites / "secret.png").symlink_to(env["outside"] / env["photos"][2].name)
    with pytest.raises(grpc.RpcError) as refused:
        _train(env, "linked", favourites=str(favourites))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    details = str(refused.value.details())
    assert str(favourites / "secret.png") in details and "outside the daemon's --root folders" in details
    assert not (env["styles"] / "linked.safetensors").exists()


@pytest.mark.parametrize("listed", [False, True])
def test_a_darktable_sidecar_linked_out_of_the_root_refuses_the_training(env: dict[str, Any], listed: bool) -> None:
    """``darktable`` (a folder) or ``darktable_files`` (photos): the sidecar read is a link out of the root."""
    folder = env["root"] / ("dt_listed" if listed else "dt_folder")
    folder.mkdir()
    photo = folder / env["photos"][0].name
    shutil.copy(env["photos"][0], photo)
    secret = env["outside"] / "secret.xmp"  # any file out of the roots, read through the sidecar's name
    secret.write_text("<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    sidecar = folder / f"{photo.name}.xmp"
    sidecar.symlink_to(secret)
    name = f"dtlinked{int(listed)}"
    with pytest.raises(grpc.RpcError) as refused:
        if listed:
            _train(env, name, darktable_files=[str(photo)])
        else:
            _train(env, name, darktable=str(folder))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    details = str(refused.value.details())
    assert details.startswith(f"{sidecar}: outside the daemon's --root folders")  # the user's own file, named
    assert f"it resolves to {secret}" in details
    assert not (env["styles"] / f"{name}.safetensors").exists()
