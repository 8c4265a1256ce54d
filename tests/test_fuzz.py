"""Fuzzing in CI (testing/fuzz.py, fixed seed, bounded time) and the regressions it found.

The long run is ``bench/fuzz_inputs.py``; this module runs a few hundred tries per target in well under a
minute: photos, existing sidecars, Lightroom settings text, recipes, and requests to a real daemon's JSON
bridge on a loopback port.
"""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import pytest

from backend.decode import decode_image, decode_preview
from backend.errors import CorruptImageError
from backend.sidecar.apply import apply_to_photo
from backend.sidecar.lightroom_doc import lightroom_sidecar_path
from backend.sidecar.revert import revert_photo
from testing.daemon import serving
from testing.fixtures import make_dng
from testing.fuzz import (
    USER_DT,
    USER_LR,
    FuzzWorld,
    Tally,
    bridge_photos,
    format_tally,
    fuzz_bridge,
    make_world,
    run_fuzz,
)
from testing.recipes import every_slider_recipe

SEED = 2026
DATA = Path(__file__).parent / "data" / "fuzz"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> FuzzWorld:
    return make_world(tmp_path_factory.mktemp("fuzz"))


def _report(tally: Tally) -> str:
    lines = [format_tally(tally)] + [f"{f.target} {f.kind}: {f.detail} <- {f.sample}" for f in tally.failures[:10]]
    return "\n".join(lines)


def test_fuzz_inputs(world: FuzzWorld) -> None:
    tally = run_fuzz(world, seed=SEED, tries=1500, seconds=30)
    assert not tally.failures, _report(tally)
    for target in ("image", "sidecar", "settings", "recipe"):
        # the mutations reach both sides: inputs that still work and inputs refused with a typed error
        assert tally.tries[target] >= 100, _report(tally)
        assert tally.accepted.get(target, 0) > 0 and tally.typed.get(target, 0) > 0, _report(tally)


def test_fuzz_bridge(tmp_path: Path, world: FuzzWorld) -> None:
    photos = bridge_photos(world, tmp_path / "root", 2)
    with serving(tmp_path, photos=False) as served:
        send = partial(fuzz_bridge, port=served.ports.http, photos=photos, recipe=world.recipes[1])
        tally = run_fuzz(world, seed=SEED, targets=("bridge",), tries=400, seconds=20, bridge=send)
    assert not tally.failures, _report(tally)
    assert tally.tries["bridge"] >= 50 and tally.accepted.get("bridge", 0) > 0 and tally.typed.get("bridge", 0) > 0


# -- regressions found by the fuzzer ---------------------------------------------------------------------


def test_tiff_with_inconsistent_sample_tags_is_a_corrupt_image() -> None:
    # BitsPerSample with three values for one sample: tifffile raised TypeError while computing the page size.
    path = DATA / "tiff_bitspersample_tuple.tif"
    with pytest.raises(CorruptImageError, match=r"tiff_bitspersample_tuple\.tif"):
        decode_image(path)
    with pytest.raises(CorruptImageError, match="damaged TIFF"):
        decode_preview(path)


def _raw_photo(folder: Path) -> Path:
    """A tiny DNG named ``x.nef`` (a proprietary raw by name: both hosts take sidecars for it)."""
    photo = folder / "x.nef"
    shutil.copyfile(make_dng(folder, "x.dng"), photo)
    return photo


def _written_over_users_lightroom_sidecar(folder: Path) -> tuple[Path, Path, str]:
    """A raw whose Lightroom sidecar (the user's :data:`USER_LR`) autoretouch has written over; returns the photo,
    the sidecar and its text."""
    photo = _raw_photo(folder)
    sidecar = lightroom_sidecar_path(photo)
    sidecar.write_text(USER_LR, encoding="utf-8")
    assert apply_to_photo(photo, every_slider_recipe(), host="lightroom", overwrite=True)[0].action == "written"
    return photo, sidecar, sidecar.read_text(encoding="utf-8")


def test_sidecar_declaring_an_unknown_encoding_is_refused_unchanged(tmp_path: Path) -> None:
    photo = _raw_photo(tmp_path)
    sidecar = photo.with_name(photo.name + ".xmp")
    data = USER_DT.replace('encoding="UTF-8"', 'encoding="UTF-0"').encode()
    sidecar.write_bytes(data)
    outcomes = apply_to_photo(photo, every_slider_recipe(), host="darktable")
    assert outcomes[0].action == "failed" and "unknown encoding" in outcomes[0].reason
    assert sidecar.read_bytes() == data


def test_revert_with_a_damaged_record_fails_typed_and_unchanged(tmp_path: Path) -> None:
    photo, sidecar, text = _written_over_users_lightroom_sidecar(tmp_path)
    at = text.index("&lt;", text.index("autoretouch:"))  # a recorded element of the user's, inside our record
    damaged = (text[:at] + "&lt;&lt;" + text[at + 4 :]).encode()
    sidecar.write_bytes(damaged)
    outcome = revert_photo(photo, host="lightroom")[0]  # was an xml ParseError escaping the batch
    assert outcome.action == "failed" and "does not match this sidecar" in outcome.reason
    assert sidecar.read_bytes() == damaged


def test_bridge_answers_other_methods_and_bad_request_lines_in_json(tmp_path: Path) -> None:
    import http.client
    import json
    import socket

    with serving(tmp_path, photos=False) as served:
        ports = served.ports
        for method in ("PUT", "DELETE", "OPTIONS", "PATCH"):
            conn = http.client.HTTPConnection("127.0.0.1", ports.http, timeout=10)
            conn.request(method, "/v1/suggest", body=b"{}", headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            body = json.loads(resp.read())  # was http.server's HTML "501 Unsupported method"
            conn.close()
            assert resp.status == 405 and resp.getheader("Allow") == "GET, POST"
            assert body["code"] == "UNIMPLEMENTED" and method in body["message"]
        for line, status, code in (
            (b"GET /v1/styles HTTP/1.x", b" 400 ", "INVALID_ARGUMENT"),  # bad version
            (b"FROB /v1/styles HTTP/1.1", b" 501 ", "UNIMPLEMENTED"),  # a method http.server does not know
        ):
            with socket.create_connection(("127.0.0.1", ports.http), timeout=10) as sock:
                sock.sendall(line + b"\r\nHost: 127.0.0.1\r\n\r\n")
                raw = b""
                while chunk := sock.recv(65536):
                    raw += chunk
            if raw.startswith(b"HTTP/"):
                head, _, payload = raw.partition(b"\r\n\r\n")
                assert status in head.split(b"\r\n")[0], raw[:300]
            else:  # no usable version: http.server answers HTTP/0.9 style, the body alone
                assert status == b" 400 ", raw[:300]
                payload = raw
            assert json.loads(payload)["code"] == code


def test_revert_with_an_overflowing_number_in_the_record_fails_typed_and_unchanged(tmp_path: Path) -> None:
    photo, sidecar, text = _written_over_users_lightroom_sidecar(tmp_path)
    assert "&quot;d&quot;:0" in text
    damaged = text.replace("&quot;d&quot;:0", "&quot;d&quot;:1e999", 1).encode()  # was OverflowError (int(inf))
    sidecar.write_bytes(damaged)
    outcome = revert_photo(photo, host="lightroom")[0]
    assert outcome.action == "failed" and "damaged" in outcome.reason and "finite" in outcome.reason
    assert sidecar.read_bytes() == damaged
