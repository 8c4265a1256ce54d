"""The plug-in's "preview on virtual copies" inside a real darktable 4.2 GUI (under ``xvfb-run``).

The plug-in is installed as a user would (see ``tests/test_darktable_plugin_gui.py``), with the daemon started
on demand switched off (``start_daemon=FALSE``: every call runs this checkout's real command line), and a
``--luacmd`` driver calls its entry points (what the lighttable buttons call):

* photo B: preview, then "discard previews": no preview copy is left, nor its sidecar;
* photo A, which has the user's own history (sharpen, exposure -0.5 EV): preview at strength 1, then again at
  strength 0.5: one preview copy remains, and the first one is gone.

After darktable quits, darktable's library shows: A's history unchanged; A's one virtual copy holding A's
history followed by exactly the modules (in darktable's order) ``apply --host=darktable`` would append for the suggestion at 0.5
(computed here in process); no imported style left in darktable's style list.

"apply chosen preview", in a second session: A (with the user's history) previewed with 2 variants, variant 2's
copy chosen and applied: A's library history is the user's followed by exactly variant 2's modules (their
parameter blobs, from the suggestion computed here in process with the same seed, and unlike variant 1's); the
chosen copy and its kept recipe are gone, while variant 1's copy, which the user edited after the preview (a style
applied to it), is kept with its sidecar.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.darktable_gui import gui_photo, library_histories, require_darktable_gui
from testing.darktable_plugin import PREVIEW_COUNTER, run_plugin_session

pytestmark = [pytest.mark.host, pytest.mark.slow]

SESSION_TIMEOUT_S = 120
#: Photo A's own history, the user's edit (in its sidecar, for a 96 px long side).
USER_HISTORY = [{"slider": "sharpen", "value": 60.0}, {"slider": "exposure", "value": -0.5}]

#: The driver's work (see write_driver): previews of B, discarded, then two of A; counts in ``result``.
DRIVER = (
    PREVIEW_COUNTER
    + """
  local function brief(s)
    local failed = {{}}
    for _, f in ipairs(s.failed) do
      failed[#failed + 1] = f.reason
    end
    return {{ copies = #s.copies, removed = s.removed, failed = failed, text = s.text }}
  end
  local a = dt.database.import({photo_a})
  local b = dt.database.import({photo_b})
  local s = assert(ar.preview_images({{ b }}, {{ style = "throwaway", strength = 1.0 }}))
  result.b_preview = brief(s)
  result.b_sidecar = s.copies[1] and s.copies[1].sidecar or ""
  result.b_count = previews()
  result.discarded = ar.discard_previews()
  result.after_discard = previews()
  s = assert(ar.preview_images({{ a }}, {{ style = "throwaway", strength = 1.0 }}))
  result.a_first = brief(s)
  result.a_first_sidecar = s.copies[1] and s.copies[1].sidecar or ""
  s = assert(ar.preview_images({{ a }}, {{ style = "throwaway", strength = 0.5 }}))
  result.a_second = brief(s)
  result.a_count = previews()
  local n = 0
  for _ in ipairs(dt.styles) do
    n = n + 1
  end
  result.styles_left = n
"""
)


def test_preview_copies_replace_each_other_and_leave_the_original_alone(tmp_path: Path) -> None:
    require_darktable_gui()
    from backend.agent.style import load_style
    from backend.agent.suggest import suggest_for_photo
    from backend.translate.darktable import recipe_to_history

    photos = tmp_path / "photos it's"
    photo_a = gui_photo(photos, "a photo.png", USER_HISTORY, long_side_px=96)
    photo_b = gui_photo(photos, "b.png")
    root = tmp_path / "dt"
    result, _log = run_plugin_session(root, DRIVER, timeout_s=SESSION_TIMEOUT_S, photo_a=photo_a, photo_b=photo_b)
    styles = root / "styles"  # the session's throw-away style

    # B: one copy, then discarded: none left in the library, nor its sidecar
    assert result["b_preview"]["copies"] == 1 and result["b_preview"]["failed"] == [], result
    assert result["b_count"] == 1 and result["discarded"] == 1 and result["after_discard"] == 0
    assert result["b_sidecar"].endswith("b_01.png.xmp") and not Path(result["b_sidecar"]).exists()
    # A: the second preview replaced the first copy
    assert result["a_first"]["copies"] == 1 and result["a_first"]["removed"] == 0, result
    assert result["a_second"]["copies"] == 1 and result["a_second"]["removed"] == 1, result
    assert result["a_count"] == 1
    assert not Path(result["a_first_sidecar"]).exists()
    assert result["styles_left"] == 0  # every imported (and created) style was deleted again

    history = library_histories(root / "library.db")  # (operation, instance) items
    assert sorted(k for k in history if k[0] == "b.png") == [("b.png", 0)]
    a_versions = sorted(v for (name, v) in history if name == photo_a.name)
    assert len(a_versions) == 2, history  # the original and one preview copy
    original, copy = history[(photo_a.name, 0)], history[(photo_a.name, a_versions[1])]
    assert original == [("exposure", 0), ("sharpen", 0)]  # the user's history, untouched

    (recipe,) = suggest_for_photo(photo_a, [(load_style(styles / "throwaway.safetensors"), 1.0)], strength=0.5)
    ours = [(e.operation, e.multi_priority) for e in recipe_to_history(recipe, is_raw=False, long_side_px=96)]
    assert ours, "the throw-away style suggested no change: the test would prove nothing"
    # the original's history first, then ours (darktable applies a style's items in its own module order)
    assert copy[: len(original)] == original
    assert sorted(copy[len(original) :]) == sorted(ours), (copy, ours)


#: The driver of the "apply chosen preview" session: A previewed with 2 variants, the copy of variant 2 chosen.
CHOSEN_DRIVER = (
    PREVIEW_COUNTER
    + """
  local a = dt.database.import({photo_a})
  local s = assert(ar.preview_images({{ a }}, {{ style = "throwaway", strength = 0.8, preview_variants = 2,
    preview_seed = 3 }}))
  result.copies = #s.copies
  local chosen = s.copies[2]
  result.title = chosen.title
  local kept_path = ar.internals.preview_recipe_path(chosen)
  local f = io.open(kept_path, "r")
  result.kept = f and f:read("*a") or ""
  if f then
    f:close()
  end
  -- the user edits the other copy (variant 1) in the meantime: apply must keep it
  local edited = s.copies[1]
  local edit = dt.styles.create(a, "user edit of the copy", "")
  dt.styles.apply(edit, edited)
  edit:delete()
  local applied = assert(ar.apply_chosen_previews({{ chosen }}))
  result.applied = {{ written = applied.written, skipped = applied.skipped, failed = applied.failed,
    removed = applied.previews_removed, kept = applied.previews_kept }}
  result.edited_sidecar = io.open(edited.sidecar, "r") ~= nil
  result.left = previews()
  result.kept_left = io.open(kept_path, "r") ~= nil
"""
)


def test_apply_chosen_preview_applies_that_variant_to_the_original(tmp_path: Path) -> None:
    require_darktable_gui()
    import json

    from backend.agent.style import load_style
    from backend.agent.suggest import suggest_for_photo
    from backend.recipe import Recipe
    from backend.translate.darktable import recipe_to_history
    from backend.translate.darktable_pack import decode_params

    photo_a = gui_photo(tmp_path / "photos it's", "a photo.png", USER_HISTORY, long_side_px=96)
    root = tmp_path / "dt"
    result, _log = run_plugin_session(root, CHOSEN_DRIVER, timeout_s=SESSION_TIMEOUT_S, photo_a=photo_a)

    assert result["copies"] == 2 and "preview 2" in result["title"], result
    # the chosen copy removed; the copy the user edited since the preview kept, with its sidecar
    assert result["applied"] == {"written": 1, "skipped": 0, "failed": 0, "removed": 1, "kept": 1}, result
    assert result["left"] == 1 and result["kept_left"] is False and result["edited_sidecar"] is True

    style = load_style(root / "styles" / "throwaway.safetensors")
    first, second = suggest_for_photo(photo_a, [(style, 1.0)], strength=0.8, variants=2, seed=3)
    kept = Recipe.from_dict(json.loads(json.loads(result["kept"])["recipe"]))
    assert [s.slider for s in kept.steps] == [s.slider for s in second.steps]

    def blobs(recipe: Recipe) -> list[tuple[str, bytes]]:
        """(operation, parameter blob) of the modules apply appends for ``recipe``, sorted."""
        entries = recipe_to_history(recipe, is_raw=False, long_side_px=96)
        return sorted((e.operation, decode_params(e.params)) for e in entries)

    assert blobs(second) and blobs(second) != blobs(first), "the variants do not differ: the test would prove nothing"
    history = library_histories(root / "library.db", columns=("operation", "multi_priority", "op_params"))
    assert sorted(history) == [(photo_a.name, 0), (photo_a.name, 1)], history  # only the edited copy left
    items = history[(photo_a.name, 0)]
    # the user's history first (darktable's order), then exactly variant 2's modules
    assert [(op, prio) for op, prio, _ in items[:2]] == [("exposure", 0), ("sharpen", 0)], items
    assert sorted((op, bytes(params)) for op, _, params in items[2:]) == blobs(second)
