"""Training pairs from darktable edits (``autoretouch train --darktable``): each photo and darktable's render of it.

The photos' sidecars are read (:func:`_darktable_histories`), darktable-cli renders each active history
(:class:`trainer.darktable_cli.DarktableCli`), and the pairs are cut, turned back where the render is the photo
rotated, and fitted as ``--pairs`` are (:mod:`trainer.restore_pairs`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from backend.recipe import Recipe
from trainer.config import TrainConfig
from trainer.data.dataset import cache_size_of
from trainer.data.pairs import load_paired_views

if TYPE_CHECKING:
    from trainer.restore_pairs import PairSet

__all__ = ["DARKTABLE_EXPORT_SIZE", "load_darktable_pair_set"]

log = logging.getLogger(__name__)


#: darktable-cli exports the edits at most this many pixels wide and high for training.
DARKTABLE_EXPORT_SIZE = 768


def _darktable_histories(
    photos: list[Path], selection: bool
) -> tuple[list[tuple[Path, str, dict[str, Any], dict[str, Any]]], list[str], list[str]]:
    """Each photo's sidecar text, its history mapped into our sliders, and what was mapped (or why it is skipped).

    Args:
        photos: the folder's photos (links to the user's own files when ``selection``).
        selection: the folder is a selection of links (``train --darktable A B``): messages name the user's files.

    Returns:
        ``(photo, sidecar text, slider values, module summary)`` per usable photo, the skip messages
        (``"PHOTO: why"``, every photo skipped), and those skipped because the photo or its sidecar could not be
        read (``"PHOTO (why)"``: an empty or truncated file, a malformed sidecar).
    """
    from backend.decode import decode_preview
    from backend.errors import AutoretouchError
    from backend.sidecar.darktable_doc import active_history, darktable_sidecar_path
    from backend.sidecar.xmp import read_sidecar_readonly
    from trainer.darktable_labels import history_to_settings
    from trainer.data.selection import link_target

    skipped: list[str] = []
    unreadable: list[str] = []
    chosen: list[tuple[Path, str, dict[str, Any], dict[str, Any]]] = []
    for photo in photos:
        sidecar = darktable_sidecar_path(photo)
        # In a selection, messages name the user's own files, not the links in the run folder.
        own, own_sidecar = link_target(photo), link_target(sidecar)
        shown = str(own) if selection else photo.name
        if not sidecar.is_file():
            skipped.append(f"{shown}: no darktable sidecar ({own_sidecar if selection else sidecar.name})")
            continue
        step = "sidecar"
        try:
            entries = active_history(read_sidecar_readonly(own_sidecar))
            if not entries:
                skipped.append(f"{shown}: the sidecar has no active history")
                continue
            step = "photo"
            info = decode_preview(own, long_side=64)
            step = "history"
            mapped = history_to_settings(entries, long_side_px=max(info.full_width, info.full_height))
        except AutoretouchError as exc:
            skipped.append(f"{shown}: {exc}")
            if step != "history":  # the photo or its sidecar could not be read (not: a history we cannot map)
                why = getattr(exc, "reason", None) or str(exc)
                unreadable.append(f"{shown} ({'the sidecar: ' if step == 'sidecar' else ''}{why})")
            continue
        for why in mapped.unreadable:  # trained on all the same: darktable-cli renders what the sidecar says
            log.warning("%s: the sidecar's %s; learnt from darktable's render of it only", shown, why)
        summary = {
            "mapped": list(mapped.mapped),
            "approximate": [name for name, _ in mapped.approximate],
            "not_ours": list(mapped.not_ours),
        }
        chosen.append((photo, sidecar.read_text(encoding="utf-8"), dict(mapped.values), summary))
    return chosen, skipped, unreadable


def load_darktable_pair_set(
    cfg: TrainConfig, folder: str | Path, sliders: tuple[str, ...], *, deadline: float | None = None
) -> PairSet:
    """Pairs from a darktable folder: each photo with a sidecar (``IMG.ext.xmp``), and darktable's render of it.

    The edit of each pair is what darktable makes of the photo's active history (darktable-cli, headless, at most
    :data:`DARKTABLE_EXPORT_SIZE` pixels), so every module the photographer used counts, ours or not; the
    history entries of our own modules are also mapped back into our sliders
    (:func:`trainer.darktable_labels.history_to_settings`) and serve as the nearest-edits labels (the image-space
    fit where a photo has none of ours). Photos without a sidecar or without an active history, and sidecars
    that cannot be read, are reported and skipped; those that cannot be read or decoded are also named in the
    summary (:func:`trainer.restore_pairs._record_left_out`). A render that is its photo rotated is turned back
    onto the photo's frame (:func:`trainer.restore_pairs._turn_back`). ``deadline``: :func:`time.monotonic` time
    (s) the run ends, or ``None`` (:func:`trainer.restore_pairs._fitted`).

    Raises:
        NotFoundError: the folder is missing or holds no usable photo.
        DarktableCliError: darktable-cli is not installed or fails.
    """
    from backend.errors import NotFoundError
    from trainer import restore_pairs as rp  # imported here: it imports this module
    from trainer.darktable_cli import DarktableCli
    from trainer.data.folders import list_photos
    from trainer.data.pairs import Pair
    from trainer.data.selection import link_target

    d, seed = cfg.data, cfg.run.seed
    t0 = time.monotonic()
    photos = list_photos(folder, d.max_images)
    selection = any(p.is_symlink() for p in photos)  # a folder of links to the photos given (train --darktable A B)
    chosen, skipped, unreadable = _darktable_histories(photos, selection)
    for message in skipped:
        if selection:
            log.warning("skipped: %s", message)
        else:
            log.warning("%s: skipped: %s", folder, message)
    if not chosen:
        given = "the photo given has no" if len(photos) == 1 else f"none of the {len(photos)} photos given has a"
        lead = given if selection else f"{folder}: no photo with a"
        raise NotFoundError(f"{lead} darktable history ({'; '.join(skipped[:3])})")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="autoretouch-dt-") as scratch:
        dt = DarktableCli(Path(scratch))
        items = {f"p{i:05d}": (link_target(photo), text) for i, (photo, text, _, _) in enumerate(chosen)}
        result = dt.render_batch(items, max_size=DARKTABLE_EXPORT_SIZE)
    afters = [torch.from_numpy(result.images[k]).permute(2, 0, 1)[None].contiguous() for k in items]
    csize = cache_size_of(d, cfg.agent.thumb)
    pairs = [Pair(p.stem, p, p) for p, _, _, _ in chosen]
    views = load_paired_views(
        pairs,
        cache_size=csize,
        eval_size=d.eval_size,
        crops=d.crops_per_image,
        seed=seed,
        after_images=afters,
    )
    modules = {
        "ours_mapped": sorted({m for *_, sm in chosen for m in sm["mapped"]}),
        "ours_approximate": sorted({m for *_, sm in chosen for m in sm["approximate"]}),
        "not_ours": sorted({m for *_, sm in chosen for m in sm["not_ours"]}),
    }
    source = {"darktable_dir": str(Path(folder).resolve()), "darktable_skipped": skipped, "modules": modules}
    for message in views.skipped:
        log.warning("skipping a photo: %s", message)
    rp._record_left_out(source, "darktable sidecars", [*unreadable, *rp._unreadable_pairs(pairs, views, short=False)])
    views, turned = rp._turn_back(cfg, pairs, views, lambda i: afters[i])
    rp._record_turns(source, turned)
    index_of = rp._kept_indices(pairs, views)

    def frames(j: int) -> str | None:
        pair, i = views.pairs[j], index_of[j]
        size = None if i is None else (int(afters[i].shape[-2]), int(afters[i].shape[-1]))
        return rp._frame_text(pair.input, size, turned.get(pair.name))

    ps = rp._fitted(cfg, views, sliders, 0, t0, source, deadline=deadline, frames=frames)
    labels = {p.stem: values for p, _, values, _ in chosen}
    fitted = {p.name: f.values for p, f in zip(views.pairs, ps.fits, strict=True)}
    ps.labels = [Recipe.from_settings(labels[p.name] or fitted[p.name]).to_dict()["steps"] for p in views.pairs]
    return ps
