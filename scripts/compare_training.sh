#!/usr/bin/env bash
# Trains the same tiny style with the code of two git revisions and compares the trained tensors bit for bit: the
# bundled sample photos as favourites, 40 steps, seed 0, one thread (a step-bounded run is deterministic; the
# file's bytes are not compared because its header is not). A check that a refactor left training unchanged.
#
#   scripts/compare_training.sh BEFORE [AFTER]     # AFTER defaults to the working tree
#
# Exits 0 and prints "identical" when every tensor of the two styles is equal, 1 otherwise. Needs the project's
# Python environment (scripts/setup.sh). A revision that changed training on purpose (e.g. the prior carried in
# the style since c71a324) is expected to differ.
set -euo pipefail
WORK=$(mktemp -d "${TMPDIR:-/tmp}/autoretouch-train-compare.XXXXXX")  # per invocation: comparisons may run at once
# shellcheck source=scripts/worktrees.sh
source "$(dirname "$0")/worktrees.sh"  # BEFORE, AFTER, ROOT and checkout

train_tiny() {  # $1 source folder, $2 label -> prints a digest of the trained tensors
  local src=$1 out=$WORK/$2
  mkdir -p "$out/favourites"
  cp "$ROOT"/samples/*.png "$out/favourites/"
  (
    cd "$out"
    export PYTHONPATH="$src" AUTORETOUCH_STYLES="$out/styles" OMP_NUM_THREADS=1
    python -m backend train --style tiny --targets favourites --steps 40 --seed 0 --set run.threads=1 \
      --run-dir run --force --quiet
  ) >"$out/log.txt" 2>&1 || { tail -5 "$out/log.txt" >&2; exit 1; }
  python - "$out/run/style/tiny.safetensors" <<'PY'
import hashlib
import sys

from safetensors import safe_open

f = safe_open(sys.argv[1], "pt")
h = hashlib.sha256()
for key in sorted(f.keys()):
    h.update(key.encode())
    h.update(f.get_tensor(key).numpy().tobytes())
print(h.hexdigest())
PY
}

before=$(train_tiny "$(checkout "$BEFORE")" before)
after=$(train_tiny "$(checkout "$AFTER")" after)
echo "before ($BEFORE): $before"
echo "after (${AFTER:-working tree}): $after"
if [[ "$before" == "$after" ]]; then
  echo "identical: the trained tensors of $BEFORE and ${AFTER:-the working tree}"
else
  exit 1
fi
