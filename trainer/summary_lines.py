"""The lines of a training summary that read the run's final metrics, shared by ``train`` and ``train --server``.

Both print the same thing whether the style was trained here or on a daemon (whose ``TrainFinished`` carries
the same metrics): :func:`outcome_lines` below the heading. :func:`counted` words every count of the trainer's
summaries, notes and style descriptions ("1 pair", "2 pairs"); :func:`note_lines` prints the notes, which name
photos from the user's folders, with their control characters escaped (:func:`backend.text.printable`; ``--json``
and the training record keep them as they are).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from backend.text import printable

__all__ = ["counted", "metric_lines", "note_lines", "outcome_lines"]


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``n`` with its noun, singular for exactly one: ``"1 favourite"``, ``"0 favourites"``, ``"2 favourites"``.

    Args:
        n: the count.
        singular: the noun (or phrase) for one: ``"pair"``, ``"duplicate before/after pair"``.
        plural: the words for any other count, where adding ``s`` to ``singular`` is wrong (``"photos edited in
            darktable"``); default ``singular + "s"``.

    Returns:
        The count and the noun, e.g. ``"3 sources"``.

    Example:
        >>> counted(1, "step"), counted(2, "photo edited in Lightroom", "photos edited in Lightroom")
        ('1 step', '2 photos edited in Lightroom')
    """
    return f"{n} {singular if n == 1 else (plural if plural is not None else singular + 's')}"


def metric_lines(metrics: Mapping[str, float], *, from_edits: bool) -> list[str]:
    """The summary lines for a run's final metrics (indented two spaces; none for metrics a run did not make).

    Args:
        metrics: the run's final metrics (``val_psnr``, ``val_psnr_identity``, ``val_gain_db`` in dB;
            ``val_unseen`` 1 when the check scored photos the style did not see, 0 when too few photos left it
            to the training ones; ``pairs_fit_psnr`` in dB, ``poor_fits`` a count; ``best_step``; the GAN
            run's ``look_dist_*``, ``critic_gap_*`` and ``edits``).
        from_edits: the style was learnt from the photographer's edits (pairs, catalog, darktable), not from
            favourites alone.

    Returns:
        The lines, without line ends.
    """
    m = metrics
    lines: list[str] = []
    unseen = m.get("val_unseen", 1.0) > 0
    scored = all(k in m for k in ("val_gain_db", "val_psnr", "val_psnr_identity"))  # a daemon drops NaN metrics
    if scored and from_edits:
        where = "pairs it did not see" if unseen else "its training pairs (too few pairs to check on unseen ones)"
        lines.append(
            f"  {where}, original -> edit: {m['val_psnr']:.2f} dB PSNR, doing nothing "
            f"{m['val_psnr_identity']:.2f} dB ({m['val_gain_db']:+.2f} dB)"
        )
        if not unseen:
            lines.append("  not checked on pairs it did not see: that takes 4 pairs or more (a cross-fitted check)")
        lines.append(
            f"  our sliders reproduce your edits to {m.get('pairs_fit_psnr', float('nan')):.1f} dB on average; "
            f"{m.get('poor_fits', 0):.0f} poorly fitted (named above, counted less)"
        )
    elif scored:
        where = "held-out favourites" if unseen else "its training favourites (too few to hold any out)"
        lines.append(
            f"  {where}, un-edited and restored: {m['val_psnr']:.2f} dB PSNR, doing nothing "
            f"{m['val_psnr_identity']:.2f} dB ({m['val_gain_db']:+.2f} dB; checkpoint of step "
            f"{m.get('best_step', float('nan')):.0f})"
        )
    if all(k in m for k in ("look_dist_before", "look_dist_after", "critic_gap_before", "critic_gap_after", "edits")):
        lines.append(
            f"  held-out look distance to the favourites: {m['look_dist_before']:.3f} -> {m['look_dist_after']:.3f}"
            f"; critic gap {m['critic_gap_before']:.3f} -> {m['critic_gap_after']:.3f}; {m['edits']:.1f} edits/photo"
        )
    return lines


def note_lines(notes: Iterable[str]) -> list[str]:
    r"""The summary's ``  note: ...`` lines, one per note, control characters escaped.

    A note names the photos a run left out, and a photo's name may hold a line break or an escape sequence: printed
    raw, it would split the note (or forge a line of the summary) or drive the terminal. Each note is
    :func:`backend.text.printable` (``\n``, ``\x1b``); the notes themselves (``--json``, the training record) keep
    the names as they are.

    Args:
        notes: the notes (a run's ``notes``, :attr:`trainer.result.TrainResult.notes`).

    Returns:
        The lines, without line ends.

    Example:
        >>> note_lines(["1 photo left out: a\nb.jpg (why)"])
        ['  note: 1 photo left out: a\\nb.jpg (why)']
    """
    return [f"  note: {printable(note)}" for note in notes]


def outcome_lines(
    run_dir: str,
    style_path: str | None,
    installed_path: str | None,
    *,
    metrics: Mapping[str, float],
    from_edits: bool,
    notes: Iterable[str],
) -> list[str]:
    """The summary's lines below its heading (``trained style ...``): run folder, style, metrics, notes.

    Paths are :func:`backend.text.printable` (escaped, as the notes are).

    Args:
        run_dir: the run folder.
        style_path: the style file in the run folder, shown where the style was not installed (``None``: not shown).
        installed_path: the installed style file, or ``None``.
        metrics: the run's final metrics (:func:`metric_lines`).
        from_edits: the style was learnt from the photographer's edits (:func:`metric_lines`).
        notes: the summary's notes (:func:`note_lines`).

    Returns:
        The lines, without line ends.
    """
    lines = [f"  run folder: {printable(run_dir)}{os.sep}"]
    if installed_path is not None:
        lines.append(f"  installed:  {printable(installed_path)}")
    elif style_path is not None:
        lines.append(f"  style:      {printable(style_path)}")
    return lines + metric_lines(metrics, from_edits=from_edits) + note_lines(notes)
