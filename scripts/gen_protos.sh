#!/usr/bin/env bash
# Regenerates the committed gRPC/protobuf Python code from protos/ -- the one pinned generator command.
#
#   bash scripts/gen_protos.sh            # writes backend/rpc/autoretouch/v1/*_pb2.py, *_pb2_grpc.py, *_pb2.pyi
#   bash scripts/gen_protos.sh OUT_DIR    # writes the same tree under OUT_DIR (tests/test_protos_current.py)
#
# Layout: protos/autoretouch/v1/*.proto (package autoretouch.v1) is compiled with protos/ as the import root,
# so the generated modules are autoretouch/v1/*_pb2*.py and import each other as `autoretouch.v1.X`. They are
# written under backend/rpc/, which backend/rpc/__init__.py puts on sys.path: the generated imports resolve
# as generated, nothing is rewritten. Import them only through `backend.rpc`.
#
# The generator is pinned: generated code refuses to run on an older protobuf/grpcio runtime than the tools
# that produced it, and a different grpcio-tools writes different bytes (the CI check would fail).
set -euo pipefail
cd "$(dirname "$0")/.."

GRPCIO_TOOLS_VERSION="1.85.1"
PYTHON="${PYTHON:-python3}"
OUT="${1:-backend/rpc}"

installed="$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("grpcio-tools"))' 2>/dev/null || echo none)"
if [ "$installed" != "$GRPCIO_TOOLS_VERSION" ]; then
  echo "gen_protos: grpcio-tools==$GRPCIO_TOOLS_VERSION is required (found: $installed);" \
    "run: $PYTHON -m pip install grpcio-tools==$GRPCIO_TOOLS_VERSION" >&2
  exit 1
fi

mkdir -p "$OUT"
"$PYTHON" -m grpc_tools.protoc -I protos \
  --python_out="$OUT" --grpc_python_out="$OUT" --pyi_out="$OUT" \
  protos/autoretouch/v1/*.proto
