"""A gRPC request that cannot be decoded (a recipe value nested 90 deep) is INVALID_ARGUMENT, not INTERNAL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from backend.rpc import pb
from testing.daemon import config_for, make_photos, make_style_dir, start_daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Any, int, Path]]:
    root = tmp_path / "root"
    photo = next(iter(make_photos(root).values()))
    d, ports = start_daemon(config_for(root, make_style_dir(tmp_path / "styles"), http_port=None))
    assert d.wait_until_serving(30)
    yield d, ports.grpc, photo
    d.stop(0.5)


def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _nested_value(depth: int) -> bytes:
    """A google.protobuf.Value holding a list holding a list ... ``depth`` levels deep (encoded by hand)."""
    value = _varint(2 << 3 | 1) + b"\x00" * 8  # number_value = 0.0 (field 2, 64-bit)
    for _ in range(depth):
        value = _field(6, _field(1, value))  # Value.list_value = ListValue{values: [value]}
    return value


def _request(photo: Path, depth: int) -> bytes:
    step = _field(1, b"exposure") + _field(2, _nested_value(depth))
    recipe = _varint(1 << 3) + _varint(1) + _field(2, step)  # version = 1, steps = [step]
    head = pb.WriteSidecarsRequest(protocol_version=1, paths=[str(photo)], hosts=[pb.HOST_DARKTABLE])
    return head.SerializeToString() + _field(5, recipe)


def test_a_request_nested_too_deep_is_invalid_argument(daemon: tuple[Any, int, Path]) -> None:
    d, port, photo = daemon
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_stream(
            "/autoretouch.v1.Retoucher/WriteSidecars",
            request_serializer=lambda b: b,
            response_deserializer=pb.WriteSidecarsResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as err:
            list(call(_request(photo, 90), timeout=30))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
        assert "nested too deeply" in (err.value.details() or "")
        # a shallow value through the same raw path is decoded and reaches the servicer (which rejects the
        # list for a scalar slider with its own typed error), and the daemon keeps serving
        with pytest.raises(grpc.RpcError) as shallow:
            list(call(_request(photo, 1), timeout=30))
        assert shallow.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "nested too deeply" not in (shallow.value.details() or "")
    assert d.status == "SERVING"
