"""The committed generated code equals what scripts/gen_protos.sh produces from protos/ (CI keeps it current)."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "gen_protos.sh"
COMMITTED = REPO / "backend" / "rpc"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2_grpc.py", "_pb2.pyi")


def _pinned_version() -> str:
    match = re.search(r'^GRPCIO_TOOLS_VERSION="([^"]+)"', SCRIPT.read_text(), re.MULTILINE)
    assert match, "scripts/gen_protos.sh must pin GRPCIO_TOOLS_VERSION"
    return match.group(1)


def _generated(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name.endswith(GENERATED_SUFFIXES)
    }


def test_committed_stubs_are_current(tmp_path: Path) -> None:
    installed = importlib.metadata.version("grpcio-tools")
    pinned = _pinned_version()
    assert installed == pinned, (
        f"grpcio-tools {installed} is installed but scripts/gen_protos.sh pins {pinned}; "
        f"pip install grpcio-tools=={pinned}"
    )
    env = dict(os.environ, PYTHON=sys.executable)
    result = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    fresh, committed = _generated(tmp_path), _generated(COMMITTED)
    assert fresh, "the generator produced nothing"
    assert sorted(fresh) == sorted(committed), "generated file set differs; run: bash scripts/gen_protos.sh"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"committed stubs are stale ({stale}); run: bash scripts/gen_protos.sh"


def test_every_proto_element_is_commented_and_enums_start_unspecified() -> None:
    from google.protobuf import descriptor_pb2

    from backend.rpc import pb

    proto = descriptor_pb2.FileDescriptorProto()
    pb.DESCRIPTOR.CopyToProto(proto)
    assert proto.package == "autoretouch.v1"
    for enum in proto.enum_type:
        assert enum.value[0].number == 0 and enum.value[0].name.endswith("_UNSPECIFIED"), enum.name
    for message in proto.message_type:
        if message.name.endswith("Request"):
            assert message.field[0].name == "protocol_version" and message.field[0].number == 1, message.name
        if message.name.endswith("Response") and message.name != "ErrorResponse":
            names = [f.name for f in message.field[:2]]
            assert names == ["server_version", "model_version"], message.name
    text = (REPO / "protos" / "autoretouch" / "v1" / "retoucher.proto").read_text()
    lines = text.splitlines()
    declaration = re.compile(
        r"^\s*(service|rpc|message|enum|oneof)\s|^\s*(optional |repeated )?[\w.<>, ]+ \w+ = \d+;|^\s*[A-Z0-9_]+ = \d+;"
    )
    checked = 0
    for i, line in enumerate(lines):
        if declaration.search(line) and not line.strip().startswith("//"):
            assert lines[i - 1].strip().startswith("//"), f"line {i + 1} lacks a comment: {line.strip()}"
            checked += 1
    assert checked > 100  # services, rpcs, messages, enums, fields and enum values


@pytest.mark.parametrize("suffix", GENERATED_SUFFIXES)
def test_generated_files_exist(suffix: str) -> None:
    assert (COMMITTED / "autoretouch" / "v1" / f"retoucher{suffix}").is_file()
