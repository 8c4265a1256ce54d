"""The loopback HTTP/1.1 JSON bridge, over plain http.client: same messages as gRPC, NDJSON stream, errors."""

from __future__ import annotations

import http.client
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from backend.daemon.errors import HTTP_STATUS
from backend.rpc import pb, pb_grpc
from backend.sidecar.darktable_doc import darktable_sidecar_path
from testing.daemon import serving


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with serving(tmp_path_factory.mktemp("bridge"), max_request_bytes=256 << 10) as served:
        yield {"root": served.root, "photos": served.photos, "ports": served.ports, "daemon": served.daemon}


def _conn(env: dict[str, Any]) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", env["ports"].http, timeout=30)


def _post(
    env: dict[str, Any], path: str, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = _conn(env)
    try:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        conn.request("POST", path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_suggest_json_equals_grpc(env: dict[str, Any]) -> None:
    path = str(env["photos"]["jpg"])
    status, headers, raw = _post(env, "/v1/suggest", {"protocol_version": 1, "path": path, "hosts": ["HOST_DARKTABLE"]})
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    data = json.loads(raw)
    assert data["server_version"] and data["model_version"] == "default@1"
    recipe = data["suggestions"][0]["recipe"]
    assert recipe["version"] == 1 and recipe["steps"] and {"slider", "value"} == set(recipe["steps"][0])
    assert data["suggestions"][0]["darktable_history"][0]["operation"]
    assert data["photo"]["is_raw"] is False  # defaults are printed
    with grpc.insecure_channel(f"127.0.0.1:{env['ports'].grpc}") as channel:
        via_grpc = pb_grpc.RetoucherStub(channel).Suggest(
            pb.SuggestRequest(protocol_version=1, path=path, hosts=[pb.HOST_DARKTABLE]), timeout=30
        )
    from backend.daemon.convert import message_to_dict

    assert message_to_dict(via_grpc) == data


def test_keep_alive_serves_several_requests_on_one_connection(env: dict[str, Any]) -> None:
    conn = _conn(env)
    try:
        for _ in range(3):
            conn.request("GET", "/v1/styles?protocol_version=1")
            resp = conn.getresponse()
            body = json.loads(resp.read())
            assert resp.status == 200 and {s["name"] for s in body["styles"]} == {"default", "warm"}
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["status"] == "SERVING"
    finally:
        conn.close()


def test_sidecars_stream_ndjson_then_revert(env: dict[str, Any]) -> None:
    folder = env["root"] / "bridge_batch"
    folder.mkdir()
    shutil.copy(env["photos"]["jpg"], folder / "one.jpg")
    shutil.copy(env["photos"]["png"], folder / "two.png")
    body = {
        "protocol_version": 1,
        "paths": [str(folder)],
        "hosts": ["HOST_DARKTABLE"],
        "recipe": {"version": 1, "steps": [{"slider": "contrast", "value": 25}]},
    }
    status, headers, raw = _post(env, "/v1/sidecars", body)
    assert status == 200 and headers["Content-Type"].startswith("application/x-ndjson")
    assert headers.get("Transfer-Encoding") == "chunked"
    lines = [json.loads(line) for line in raw.decode().splitlines()]
    assert [Path(line["file"]["photo"]).name for line in lines[:-1]] == ["one.jpg", "two.png"]
    assert lines[-1]["summary"] == {"photos": 2, "changed": 2, "skipped": 0, "failed": 0, "cancelled": False}
    assert all(line["file"]["outcomes"][0]["action"] == "SIDECAR_ACTION_WRITTEN" for line in lines[:-1])
    assert darktable_sidecar_path(folder / "one.jpg").is_file()
    status, _, raw = _post(env, "/v1/revert", {"protocol_version": 1, "paths": [str(folder / "one.jpg")]})
    data = json.loads(raw)
    assert status == 200 and data["summary"]["changed"] == 1 and data["summary"]["failed"] == 0
    assert not darktable_sidecar_path(folder / "one.jpg").exists()
    assert darktable_sidecar_path(folder / "two.png").is_file()


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "code"),
    [
        ("/v1/suggest", {"protocol_version": 1, "path": "MISSING"}, {}, 404, "NOT_FOUND"),
        ("/v1/suggest", {"protocol_version": 1, "path": "TRUNCATED"}, {}, 400, "INVALID_ARGUMENT"),
        ("/v1/suggest", {"protocol_version": 1, "path": "/etc/hostname"}, {}, 403, "PERMISSION_DENIED"),
        ("/v1/suggest", {"protocol_version": 1, "path": "JPG", "style": "nope"}, {}, 404, "NOT_FOUND"),
        ("/v1/suggest", {"protocol_version": 1, "path": "JPG", "bogus": 1}, {}, 400, "INVALID_ARGUMENT"),
        ("/v1/suggest", b"{not json", {}, 400, "INVALID_ARGUMENT"),
        ("/v1/suggest", {"path": "JPG"}, {}, 400, "INVALID_ARGUMENT"),
        (
            "/v1/suggest",
            {"protocol_version": 1, "path": "JPG"},
            {"Content-Type": "text/plain"},
            400,
            "INVALID_ARGUMENT",
        ),
        ("/v1/suggest", {"protocol_version": 1, "path": "JPG"}, {"Host": "evil.example:80"}, 403, "PERMISSION_DENIED"),
        ("/v1/suggest", b"x" * (300 << 10), {}, 429, "RESOURCE_EXHAUSTED"),
        ("/v1/nothing", {"protocol_version": 1}, {}, 404, "NOT_FOUND"),
        (
            "/v1/sidecars",
            {"protocol_version": 1, "paths": ["OUTSIDE"], "hosts": [2], "style": "warm"},
            {},
            403,
            "PERMISSION_DENIED",
        ),
    ],
    ids=[
        "missing",
        "truncated",
        "outside-roots",
        "unknown-style",
        "unknown-field",
        "bad-json",
        "no-protocol-version",
        "not-json-content-type",
        "foreign-host-header",
        "oversize-body",
        "unknown-endpoint",
        "stream-outside-roots",
    ],
)
def test_errors_are_json_with_mapped_http_status(
    env: dict[str, Any], path: str, body: Any, headers: dict[str, str], status: int, code: str
) -> None:
    names = {
        "MISSING": str(env["root"] / "missing.jpg"),
        "TRUNCATED": str(env["photos"]["truncated"]),
        "JPG": str(env["photos"]["jpg"]),
        "OUTSIDE": "/etc",
    }
    if isinstance(body, dict):
        body = {k: names.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
        if "paths" in body:
            body["paths"] = [names.get(p, p) for p in body["paths"]]
    got, _, raw = _post(env, path, body, headers)
    assert got == status == HTTP_STATUS[code]
    data = json.loads(raw)
    assert data["code"] == code and data["message"] and data["server_version"]
    assert "internal error" not in data["message"]
    conn = _conn(env)
    conn.request("GET", "/healthz")
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["status"] == "SERVING"
    conn.close()


def test_error_body_names_the_file_and_class(env: dict[str, Any]) -> None:
    photo = str(env["photos"]["truncated"])
    status, _, raw = _post(env, "/v1/suggest", {"protocol_version": 1, "path": photo})
    data = json.loads(raw)
    assert status == 400 and photo in data["message"]
    assert data["type"] == "CorruptImageError" and data["exit_code"] == 5
