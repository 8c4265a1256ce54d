"""The daemon and the trainer read a darktable virtual copy's sidecar name by one rule: darktable's own naming.

A daemon's ``TrainStyle`` given a sidecar in ``darktable_files`` also checks the photo a virtual copy's sidecar is
rendered on (``IMG_01.jpg.xmp``: ``IMG.jpg``) against its roots. It read names with a looser rule of its own (``_``
and two digits or more) than the trainer (:func:`trainer.data.darktable_copies.copy_named`: ``_%02d`` only): for a
camera's ``IMG_0001.jpg.xmp`` it checked ``IMG.jpg``, which the training never reads for it. Both now read names with
:func:`backend.sidecar.darktable_copies.copy_named`, the reverse of
:func:`backend.sidecar.darktable_doc.darktable_sidecar_path`.

A real daemon on loopback. Each call lists the sidecar, then a photo linked out of the root: the refusal names the
first file checked that lies outside, so it tells whether the daemon checked the copy's photo, and no worker runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from backend.rpc import pb
from backend.sidecar import darktable_copies as backend_copies
from backend.sidecar.darktable_doc import darktable_sidecar_path
from testing.daemon import serving
from trainer.data import darktable_copies as trainer_copies

#: (sidecar name, the photo a looser reading would render it on, whether it is that photo's virtual copy).
NAMES = [
    ("IMG_01.jpg.xmp", "IMG.jpg", True),
    ("IMG_100.jpg.xmp", "IMG.jpg", True),
    ("IMG_001.jpg.xmp", "IMG.jpg", False),
    ("IMG_0001.jpg.xmp", "IMG.jpg", False),
    ("a.b_01.png.xmp", "a.b.png", True),
    ("IMG_01_01.jpg.xmp", "IMG_01.jpg", True),
    ("IMG.jpg.xmp", "IMG.jpg", False),
    ("IMG_01.jpg.XMP", "IMG.jpg", False),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("copy_names_agree")
    outside = base / "outside"  # next to the root, not under it
    outside.mkdir()
    secret = outside / "secret.jpg"
    secret.write_bytes(b"jpeg")
    with serving(base, photos=False, style_names=("default",), http_port=None) as served:
        last = served.root / "last"
        last.mkdir()
        (last / "LAST.jpg").symlink_to(secret)
        yield {"root": served.root, "secret": secret, "last": last / "LAST.jpg", "stub": served.stub}


def _refused_on(env: dict[str, Any], sidecar: Path) -> str:
    """The file the daemon names when it refuses ``[sidecar, LAST.jpg]`` (``LAST.jpg``: a link out of the root)."""
    req = pb.TrainStyleRequest(
        protocol_version=1, name="agree", steps=2, darktable_files=[str(sidecar), str(env["last"])]
    )
    with pytest.raises(grpc.RpcError) as refused:
        for _response in env["stub"].TrainStyle(req, timeout=60):
            pass
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED, refused.value.details()
    details = str(refused.value.details())
    assert ": outside the daemon's --root folders" in details, details
    return details.split(": outside the daemon's --root folders")[0]


def _sidecar(folder: Path, name: str) -> Path:
    folder.mkdir()
    sidecar = folder / name
    sidecar.write_text("<x:xmpmeta xmlns:x='adobe:ns:meta/'/>", encoding="utf-8")
    return sidecar


@pytest.mark.parametrize(("name", "namesake", "is_copy"), NAMES)
def test_the_daemon_checks_the_photo_the_trainer_renders_a_sidecar_on(
    env: dict[str, Any], name: str, namesake: str, is_copy: bool
) -> None:
    """The namesake photo, linked out of the root, is refused exactly when the trainer takes the sidecar for its copy."""
    sidecar = _sidecar(env["root"] / f"names{NAMES.index((name, namesake, is_copy))}", name)
    photo = sidecar.with_name(namesake)
    if not photo.exists():  # IMG.jpg.xmp: its own photo, checked as every sidecar's
        photo.symlink_to(env["secret"])
    copy = trainer_copies.copy_named(sidecar)
    assert (copy is not None and copy.photo == photo) == is_copy
    assert backend_copies.copy_named(sidecar) == copy
    if copy is not None:  # the reverse of darktable's own naming
        assert darktable_sidecar_path(copy.photo, copy.number) == sidecar
    checked = photo if is_copy or name == f"{namesake}.xmp" else env["last"]
    assert _refused_on(env, sidecar) == str(checked)


def test_a_cameras_numbered_sidecar_is_checked_with_its_own_photo(env: dict[str, Any]) -> None:
    """``IMG_0001.jpg.xmp`` stands for ``IMG_0001.jpg``: that photo is checked, never ``IMG.jpg``."""
    sidecar = _sidecar(env["root"] / "camera", "IMG_0001.jpg.xmp")
    own = sidecar.with_name("IMG_0001.jpg")
    own.write_bytes(b"jpeg")
    sidecar.with_name("IMG.jpg").symlink_to(env["secret"])
    assert _refused_on(env, sidecar) == str(env["last"])  # IMG.jpg, outside, is not what the entry stands for
    own.unlink()
    own.symlink_to(env["secret"])
    assert _refused_on(env, sidecar) == str(own)
