"""A daemon's ``TrainStyle`` given a darktable virtual copy's sidecar checks the copy's photo against its roots.

``darktable_files`` may name virtual copy N's sidecar, ``NAME_NN.EXT.xmp`` (``train --darktable`` trains that copy's
own edit, read from it and rendered on ``NAME.EXT``). The daemon checks the sidecar named and also the photo it is
rendered on: a photo that is a symbolic link out of every ``--root`` folder refuses the call before any run folder
is made, naming the user's file (not a link of the worker's selection folder). A real daemon on loopback; the call
is refused before its worker would render anything.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from backend.rpc import pb
from testing.daemon import serving
from testing.training import write_training_inputs
from trainer.remote_train import config_overrides


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("train_copy_roots")
    inputs = write_training_inputs(base)
    photo = sorted(inputs.before.glob("*.png"))[0]
    outside = base / "outside"  # next to the root, not under it
    outside.mkdir()
    shutil.copy(photo, outside / photo.name)
    with serving(base, photos=False, style_names=("default",), http_port=None) as served:
        yield {"root": served.root, "outside": outside / photo.name, "photo": photo, "runs": base / "runs",
               "stub": served.stub, "tiny": config_overrides(inputs.config)}  # fmt: skip


def _train(env: dict[str, Any], name: str, files: list[Path]) -> None:
    req = pb.TrainStyleRequest(
        protocol_version=1, name=name, steps=2, overrides=env["tiny"], darktable_files=[str(f) for f in files]
    )
    for _response in env["stub"].TrainStyle(req, timeout=120):
        pass


def _copy_sidecar(folder: Path, photo_name: str) -> Path:
    """Virtual copy 1's sidecar of ``folder/photo_name`` (``NAME_01.EXT.xmp``), naming that photo as its image."""
    stem, ext = photo_name.rsplit(".", 1)
    sidecar = folder / f"{stem}_01.{ext}.xmp"
    sidecar.write_text(
        "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
        "<rdf:Description xmlns:xmpMM='http://ns.adobe.com/xap/1.0/mm/' "
        f"xmpMM:DerivedFrom='{photo_name}'/></rdf:RDF></x:xmpmeta>",
        encoding="utf-8",
    )
    return sidecar


def _run_folders(env: dict[str, Any]) -> set[str]:
    runs: Path = env["runs"]
    return {p.name for p in runs.iterdir()} if runs.is_dir() else set()


@pytest.mark.parametrize("with_original", [False, True])
def test_a_copys_photo_linked_out_of_the_root_refuses_the_training(env: dict[str, Any], with_original: bool) -> None:
    """The copy's sidecar lies in the root; its photo is a link out of it (given alone, or with the copy too)."""
    folder = env["root"] / f"dt_copy{int(with_original)}"
    folder.mkdir()
    photo = folder / env["photo"].name
    photo.symlink_to(env["outside"])
    sidecar = _copy_sidecar(folder, photo.name)
    before = _run_folders(env)
    with pytest.raises(grpc.RpcError) as refused:
        _train(env, f"dtcopy{int(with_original)}", [sidecar, photo] if with_original else [sidecar])
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    details = str(refused.value.details())
    assert details.startswith(f"{photo}: outside the daemon's --root folders"), details
    assert f"it resolves to {env['outside']}" in details
    assert _run_folders(env) == before  # refused by the daemon itself: no run folder, no worker


def test_a_copys_sidecar_linked_out_of_the_root_refuses_the_training(env: dict[str, Any]) -> None:
    """The sidecar named is checked as before: a link out of the root is refused, naming it."""
    folder = env["root"] / "dt_copy_link"
    folder.mkdir()
    shutil.copy(env["photo"], folder / env["photo"].name)
    secret = _copy_sidecar(env["outside"].parent, env["photo"].name)
    sidecar = folder / secret.name
    sidecar.symlink_to(secret)
    with pytest.raises(grpc.RpcError) as refused:
        _train(env, "dtcopylink", [sidecar])
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert str(refused.value.details()).startswith(f"{sidecar}: outside the daemon's --root folders")
