"""Preview: before/after JPEGs of a photo's variants at several strengths, over gRPC and the JSON bridge."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from typing import Any

import cv2
import grpc
import numpy as np
import pytest

from backend.rpc import pb, pb_grpc
from testing.daemon import config_for, make_photos, make_style_dir, start_daemon


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("preview")
    root = base / "root"
    photos = make_photos(root)
    big = root / "big.jpg"
    rng = np.random.default_rng(3)
    assert cv2.imwrite(str(big), (rng.random((600, 900, 3)) * 180 + 30).astype(np.uint8))
    daemon, ports = start_daemon(config_for(root, make_style_dir(base / "styles")))
    assert daemon.wait_until_serving(30)
    channel = grpc.insecure_channel(f"127.0.0.1:{ports.grpc}")
    yield {"photos": photos, "big": big, "ports": ports, "stub": pb_grpc.RetoucherStub(channel)}
    channel.close()
    daemon.stop(0.5)


def _image(data: bytes) -> np.ndarray:
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert pixels is not None
    return pixels


def _post(env: dict[str, Any], path: str, body: Any) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", env["ports"].http, timeout=60)
    try:
        conn.request("POST", path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_preview_renders_every_variant_at_every_strength(env: dict[str, Any]) -> None:
    suggest = pb.SuggestRequest(protocol_version=1, path=str(env["big"]), style="warm", variants=2, seed=5,
                                hosts=[pb.HOST_LIGHTROOM])  # fmt: skip
    request = pb.PreviewRequest(protocol_version=1, suggest=suggest, strengths=[0.0, 0.5, 1.0], size=300)
    got = env["stub"].Preview(request, timeout=60)
    before = _image(got.before)
    assert before.shape[:2] == (200, 300)  # long side 300, aspect kept
    assert list(got.strengths) == [0.0, 0.5, 1.0] and len(got.variants) == 2
    plain = env["stub"].Suggest(suggest, timeout=60)
    for variant, expected in zip(got.variants, plain.suggestions, strict=True):
        assert variant.suggestion.recipe == expected.recipe  # the same variants Suggest gives (strength 1)
        assert variant.suggestion.lightroom_settings == expected.lightroom_settings
        zero, half, full = (_image(a).astype(np.float64) for a in variant.after)
        assert zero.shape == before.shape and np.array_equal(variant.after[0], got.before)  # strength 0 = before
        if variant.suggestion.recipe.steps:
            d_half, d_full = np.abs(half - before).mean(), np.abs(full - before).mean()
            assert 0 < d_half < d_full  # half the strength moves the photo less
    assert got.model_version == "warm@1" and got.photo.width == 900


def test_bridge_preview_is_json_with_base64_images_and_defaults(env: dict[str, Any]) -> None:
    body = {"protocol_version": 1, "suggest": {"path": str(env["photos"]["jpg"])}}
    status, data = _post(env, "/v1/preview", body)
    assert status == 200, data
    assert data["strengths"] == [0.25, 0.5, 0.75, 1.0] and len(data["variants"]) == 1
    before = _image(base64.b64decode(data["before"]))
    assert before.shape[:2] == (48, 64)  # never enlarged: the photo is smaller than 384 px
    assert len(data["variants"][0]["after"]) == 4


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"strengths": [1.5]}, 400, "INVALID_ARGUMENT"),
        ({"strengths": [0.1] * 9}, 400, "INVALID_ARGUMENT"),
        ({"size": 5000}, 400, "INVALID_ARGUMENT"),
        ({"suggest": {"path": "/etc/passwd"}}, 403, "PERMISSION_DENIED"),
        ({"suggest": {"path": "TRUNCATED"}}, 400, "INVALID_ARGUMENT"),
        ({"protocol_version": 99}, 501, "UNIMPLEMENTED"),
    ],
)
def test_bad_previews(env: dict[str, Any], changes: dict[str, Any], status: int, code: str) -> None:
    body: dict[str, Any] = {"protocol_version": 1, "suggest": {"path": str(env["photos"]["jpg"])}} | changes
    path = body["suggest"].get("path")
    body["suggest"]["path"] = {"TRUNCATED": str(env["photos"]["truncated"]), "JPG": str(env["photos"]["jpg"])}.get(
        path, path
    )
    got, data = _post(env, "/v1/preview", body)
    assert (got, data["code"]) == (status, code), data
