"""``train --server --darktable FOLDER SIDECAR``: the style's record names what the user typed, as a local run does.

The client expands the folders and sidecars it can see into photo files (``darktable_files``) and also sends the
paths as typed (``darktable_given``): the daemon checks those against its roots, and its worker's record names them
(``darktable_given``: ``[roll, o/c.png.xmp]``, not the roll's photos one by one) and the unread subfolders of the
folders among them (``roll/darktable_exported``). A real daemon on loopback runs its real worker, which renders the
edits with real darktable-cli (skipped when it is missing, a failure under CI=true).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from backend.cli.main import build_parser
from backend.rpc import pb
from testing.daemon import serving
from testing.daemon_train import wait_until_idle
from testing.darktable_cli import darktable_cli_path
from testing.needs import missing
from testing.training import TINY_PAIRS_TOML
from trainer.remote_train import config_overrides, remote_train

pytestmark = pytest.mark.host

if darktable_cli_path() is None:
    missing("darktable-cli is not installed (apt-get install darktable)", module_level=True)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from backend.encode import write_image
    from testing.darktable_copies import edited_photo
    from trainer.synthetic import smooth_images

    base = tmp_path_factory.mktemp("remote_darktable_given")
    root = base / "root"
    roll, other = root / "roll", root / "o"
    edited_photo(roll, "a.png", 1, 0.4, {})
    edited_photo(roll, "b.png", 2, -0.3, {})
    edited_photo(other, "c.png", 3, 0.2, {})
    exported = roll / "darktable_exported"  # darktable's export folder beside the photos: not read, named
    exported.mkdir()
    write_image(exported / "a.jpg", smooth_images(1, 16, seed=4))
    config = base / "tiny.toml"
    config.write_text(TINY_PAIRS_TOML, encoding="utf-8")
    with serving(base, photos=False, style_names=("default",), http_port=None) as served:
        yield {"roll": roll, "other": other, "config": config, "served": served}


def test_the_record_names_the_folder_and_sidecar_typed_and_the_folders_unread_subfolders(
    env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    roll, sidecar = env["roll"], env["other"] / "c.png.xmp"
    argv = ["train", "--darktable", str(roll), str(sidecar), "--config", str(env["config"]), "--style", "dt_given"]
    args = build_parser().parse_args([*argv, "--steps", "2", "--force", "--json"])
    args.server, args.token = env["served"].server, None
    assert remote_train(args) == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    assert out["steps"] == 2
    styles = env["served"].stub.ListStyles(pb.ListStylesRequest(protocol_version=1), timeout=10).styles
    training = {s.name: s for s in styles}["dt_given"].training
    assert list(training["darktable_given"]) == [str(roll), str(sidecar)]  # as typed, not roll's photos
    assert list(training["subfolders_not_read"]) == [str(roll / "darktable_exported")]
    assert training["pairs"] == 3
    wait_until_idle(env["served"].daemon, timeout=15.0)


def test_a_path_given_outside_the_roots_is_refused(env: dict[str, Any]) -> None:
    """``darktable_given`` is checked like any path (a folder there would be listed for its subfolders)."""
    photo = env["roll"] / "a.png"
    tiny = config_overrides(env["config"])
    req = pb.TrainStyleRequest(
        protocol_version=1, name="x", steps=1, overrides=tiny, darktable_files=[str(photo)], darktable_given=["/etc"]
    )
    with pytest.raises(grpc.RpcError) as refused:
        for _response in env["served"].stub.TrainStyle(req, timeout=60):
            pass
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert str(refused.value.details()).startswith("/etc: outside the daemon's --root folders")
    other = pb.TrainStyleRequest(
        protocol_version=1,
        name="x",
        steps=1,
        overrides=tiny,
        favourite_files=[str(photo)],
        darktable_given=[str(photo)],
    )
    with pytest.raises(grpc.RpcError) as bad:  # it goes with darktable_files only
        for _response in env["served"].stub.TrainStyle(other, timeout=60):
            pass
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "darktable_given goes with darktable_files" in str(bad.value.details())
