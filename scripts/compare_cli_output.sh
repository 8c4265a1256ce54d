#!/usr/bin/env bash
# Runs the README's main job (`make demo`: suggest, render, catalog --host both on the bundled sample photos) with
# the code of two git revisions and compares what they print and write, byte for byte.
#
#   scripts/compare_cli_output.sh BEFORE [AFTER]     # AFTER defaults to the working tree
#
# Both runs use the same folder (WORK/run, WORK a fresh /tmp/autoretouch-cli-compare.XXXXXX of this invocation,
# so two comparisons can run at once), so the paths they print are the same. Masked
# before comparing, because they change from run to run: the time stamps of the catalog journal and of the sidecars'
# provenance, the photos' mtime in the journal, the catalog's "in X s (Y photos/s" timing, and in the renders'
# `Software` mark the hash of the photo's size and mtime and the time written (the version, the hash of the photo's
# path, the size written and every other PNG chunk, pixels and ICC profile included, are compared). Exits 0 when
# everything else is identical, 1 and a diff otherwise. Needs the project's Python environment (scripts/setup.sh).
set -euo pipefail
WORK=$(mktemp -d "${TMPDIR:-/tmp}/autoretouch-cli-compare.XXXXXX")
# shellcheck source=scripts/worktrees.sh
source "$(dirname "$0")/worktrees.sh"  # BEFORE, AFTER, ROOT and checkout

run_demo() {  # $1 source folder, $2 label
  local src=$1 out=$WORK/$2 run=$WORK/run
  rm -rf "$run" && mkdir -p "$run/photos" "$out"
  cp "$src"/samples/*.png "$run/photos/"
  (
    cd "$run"
    export PYTHONPATH="$src" AUTORETOUCH_STYLES="$WORK/no-user-styles"  # only the shipped styles
    python -m backend suggest photos/*.png
    python -m backend render photos/*.png --style default --out-dir retouched
    python -m backend catalog photos --host both
  ) >"$out/stdout.txt" 2>"$out/stderr.txt"
  cp -r "$run/photos" "$run/retouched" "$out/"
  find "$out" -type f \( -name '*.txt' -o -name '*.xmp' -o -name '*.jsonl' -o -name '*.json' \) -exec sed -i -E \
    -e 's/"(created|time)":"[^"]*"/"\1":"<time>"/g' -e 's/"mtime_ns":[0-9]+/"mtime_ns":<mtime>/g' \
    -e 's/(autoretouch:Timestamp=)"[^"]*"/\1"<time>"/' -e 's/ in [0-9.]+ s \([0-9.]+ photos\/s/ in <t> s (<r> photos\/s/' {} +
  python - "$out"/retouched/*.png <<'PY'
import re, struct, sys, zlib
for name in sys.argv[1:]:  # mask the run-dependent parts of each PNG's Software mark; the rest stays a valid PNG
    data = open(name, "rb").read()
    out, pos = bytearray(data[:8]), 8
    while pos < len(data):
        (size,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + size]
        if kind == b"tEXt" and body.startswith(b"Software\0"):
            body = re.sub(rb"(photo [0-9a-f]{12})-[0-9a-f]{8}", rb"\1-<mtime>", body)
            body = re.sub(rb"written [^,]+Z", b"written <time>", body)
        out += struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        pos += 12 + size
    open(name, "wb").write(bytes(out))
PY
}

run_demo "$(checkout "$BEFORE")" before
run_demo "$(checkout "$AFTER")" after
if diff -r "$WORK/before" "$WORK/after"; then
  echo "identical: stdout, stderr, sidecars and renders of $BEFORE and ${AFTER:-the working tree}"
else
  exit 1
fi
