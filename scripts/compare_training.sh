#!/usr/bin/env bash
# Trains the same tiny styles with the code of two git revisions and compares the trained tensors bit for bit: the
# bundled sample photos as favourites, and as before/after pairs (`train --pairs`: the samples and their renders of
# samples/recipes/warm_punchy.json, made once with the working tree's code at 256 px), 40 steps, seed 0, one thread
# (a step-bounded run is deterministic; the file's bytes are not compared because its header is not). A check that
# a refactor left training unchanged.
#
#   scripts/compare_training.sh BEFORE [AFTER]     # AFTER defaults to the working tree
#
# Exits 0 and prints "identical" twice when every tensor of both pairs of styles is equal, 1 otherwise. Needs the
# project's Python environment (scripts/setup.sh). A revision that changed training on purpose (e.g. the prior carried in
# the style since c71a324) is expected to differ.
set -euo pipefail
WORK=$(mktemp -d "${TMPDIR:-/tmp}/autoretouch-train-compare.XXXXXX")  # per invocation: comparisons may run at once
# shellcheck source=scripts/worktrees.sh
source "$(dirname "$0")/worktrees.sh"  # BEFORE, AFTER, ROOT and checkout

PAIRS=$WORK/pairs
make_pairs() {  # the before/after pairs both revisions train on, made once with the working tree's code
  mkdir -p "$PAIRS/before" "$PAIRS/after"
  cp "$ROOT"/samples/*.png "$PAIRS/before/"
  PYTHONPATH="$ROOT" python -m backend render "$PAIRS"/before/*.png --recipe "$ROOT/samples/recipes/warm_punchy.json" \
    --out-dir "$PAIRS/after" --format png --long-side 256 >"$WORK/pairs-log.txt" 2>&1 \
    || { tail -5 "$WORK/pairs-log.txt" >&2; exit 1; }
}

train_tiny() {  # $1 source folder, $2 label, $3 favourites|pairs -> prints a digest of the trained tensors
  local src=$1 out=$WORK/$2-$3
  local -a data=(--targets favourites)
  mkdir -p "$out/favourites"
  cp "$ROOT"/samples/*.png "$out/favourites/"
  [[ $3 == pairs ]] && data=(--pairs "$PAIRS/before" "$PAIRS/after")
  (
    cd "$out"
    export PYTHONPATH="$src" AUTORETOUCH_STYLES="$out/styles" OMP_NUM_THREADS=1
    python -m backend train --style tiny "${data[@]}" --steps 40 --seed 0 --set run.threads=1 \
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

make_pairs
before_src=$(checkout "$BEFORE")
after_src=$(checkout "$AFTER")
status=0
for kind in favourites pairs; do
  before=$(train_tiny "$before_src" before "$kind")
  after=$(train_tiny "$after_src" after "$kind")
  echo "$kind, before ($BEFORE): $before"
  echo "$kind, after (${AFTER:-working tree}): $after"
  if [[ "$before" == "$after" ]]; then
    echo "identical: the trained tensors ($kind) of $BEFORE and ${AFTER:-the working tree}"
  else
    echo "DIFFERENT: the trained tensors ($kind) of $BEFORE and ${AFTER:-the working tree}"
    status=1
  fi
done
exit $status
