#!/usr/bin/env bash
# Packages the Lightroom Classic plug-in: dist/autoretouch.lrplugin.zip.
#
#   scripts/build_lrplugin.sh [--out DIR] [--dev]
#
# Adds two files that are never committed:
#   AutoretouchKeys.lua  the develop-setting whitelist, generated from the slider catalog
#                        (`autoretouch sliders --json` -> lightroom_plugin/tools/gen_keys.lua);
#   dkjson.lua           David Kolf's JSON module (MIT licence), copied from the Debian package
#                        lua-dkjson (or $DKJSON); its licence goes into THIRD_PARTY_LICENSES.txt.
# Nothing is downloaded. --dev also writes the two files into lightroom_plugin/autoretouch.lrplugin/
# (git-ignored) so that folder can be added in the Plug-in Manager while developing.
# Needs: python3 with autoretouch importable (or $PYTHON), lua5.1 (or $LUA) with dkjson on its path.
# $CATALOG_JSON may name a file already holding the output of `autoretouch sliders --json` (the tests do).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
LUA="${LUA:-lua5.1}"
DKJSON="${DKJSON:-/usr/share/lua/5.1/dkjson.lua}"
OUT="$ROOT/dist"
DEV=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --dev) DEV=1; shift ;;
    *) echo "build_lrplugin: unknown argument $1" >&2; exit 2 ;;
  esac
done

SRC="$ROOT/lightroom_plugin/autoretouch.lrplugin"
[ -f "$DKJSON" ] || { echo "build_lrplugin: $DKJSON not found (apt-get install lua-dkjson, or set DKJSON)" >&2; exit 1; }
command -v "$LUA" >/dev/null || { echo "build_lrplugin: $LUA not found" >&2; exit 1; }

STAGE="$(mktemp -d "${TMPDIR:-/tmp}/lrplugin.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
PKG="$STAGE/autoretouch.lrplugin"
mkdir -p "$PKG"

# The plug-in's own files (generated ones from a --dev build are regenerated below).
for f in "$SRC"/*.lua; do
  case "$(basename "$f")" in AutoretouchKeys.lua | dkjson.lua) continue ;; esac
  cp "$f" "$PKG/"
done

# The whitelist, from the single source of truth.
if [ -n "${CATALOG_JSON:-}" ]; then
  cp "$CATALOG_JSON" "$STAGE/catalog.json"
else
  (cd "$ROOT" && "$PYTHON" -m backend sliders --json) >"$STAGE/catalog.json"
fi
"$LUA" "$ROOT/lightroom_plugin/tools/gen_keys.lua" "$STAGE/catalog.json" "$PKG/AutoretouchKeys.lua"

# Third-party JSON module and its licence notice.
cp "$DKJSON" "$PKG/dkjson.lua"
{
  echo "autoretouch.lrplugin bundles dkjson.lua (dkjson 2.6, David Kolf's JSON module for Lua),"
  echo "http://dkolf.de/src/dkjson-lua.fsl/, under the MIT licence:"
  echo
  sed -n '/^Copyright (C)/,/^SOFTWARE\.$/p' "$DKJSON"
} >"$PKG/THIRD_PARTY_LICENSES.txt"
grep -q "Permission is hereby granted" "$PKG/THIRD_PARTY_LICENSES.txt" || {
  echo "build_lrplugin: could not find the MIT notice in $DKJSON" >&2
  exit 1
}

mkdir -p "$OUT"
ZIP="$OUT/autoretouch.lrplugin.zip"
rm -f "$ZIP"
# Stable order and timestamps, so the same sources give the same zip.
"$PYTHON" - "$STAGE" "$ZIP" <<'PY'
import sys
import zipfile
from pathlib import Path

stage, out = Path(sys.argv[1]), Path(sys.argv[2])
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
    for path in sorted((stage / "autoretouch.lrplugin").rglob("*")):
        info = zipfile.ZipInfo(path.relative_to(stage).as_posix(), date_time=(2024, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, path.read_bytes())
PY

if [ "$DEV" = 1 ]; then
  cp "$PKG/AutoretouchKeys.lua" "$PKG/dkjson.lua" "$SRC/"
fi
echo "build_lrplugin: wrote $ZIP"
