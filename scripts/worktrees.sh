# Sourced by the scripts that compare two revisions (compare_cli_output.sh, compare_training.sh): the caller sets
# ROOT (the checkout) and WORK (its scratch folder, wiped). Provides `checkout REV` (prints a source folder: a
# detached worktree of REV under $WORK, or $ROOT itself for an empty REV) and removes those worktrees however the
# calling script ends.
cleanup() {  # worktrees are registered in the repository: remove them however the script ends
  rm -rf "$WORK"/src-*
  git -C "$ROOT" worktree prune
}
cleanup
trap cleanup EXIT
rm -rf "$WORK"
mkdir -p "$WORK"

checkout() {  # $1 rev (empty = working tree) -> prints the source folder
  if [[ -z "$1" ]]; then
    echo "$ROOT"
  else
    git -C "$ROOT" worktree add --detach --quiet "$WORK/src-$1" "$1"
    echo "$WORK/src-$1"
  fi
}
