# Sourced by the scripts that compare two revisions (compare_cli_output.sh, compare_training.sh), with the caller's
# arguments `BEFORE [AFTER]` still in place: the caller sets WORK (its scratch folder: a fresh mktemp folder, removed
# when the comparison succeeds, kept and named when it fails). Provides BEFORE and
# AFTER (the revisions; an empty AFTER is the working tree), ROOT (the checkout) and `checkout REV` (prints a source
# folder: a detached worktree of REV under $WORK, or $ROOT itself for an empty REV), and removes those worktrees
# however the calling script ends.
BEFORE=${1:?usage: $0 BEFORE [AFTER]}
AFTER=${2:-}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

cleanup() {  # worktrees are registered in the repository: remove them however the script ends
  local status=$?
  rm -rf "$WORK"/src-*
  git -C "$ROOT" worktree prune
  if [[ $status -eq 0 ]]; then
    rm -rf "$WORK"
  else
    echo "what the comparison made is kept in $WORK" >&2
  fi
}
shopt -s inherit_errexit  # a failing `git worktree add` inside $(checkout REV) stops the script
trap cleanup EXIT

checkout() {  # $1 rev (empty = working tree) -> prints the source folder
  if [[ -z "$1" ]]; then
    echo "$ROOT"
  else
    git -C "$ROOT" worktree add --detach --quiet "$WORK/src-$1" "$1" >&2 || exit 1
    echo "$WORK/src-$1"
  fi
}
