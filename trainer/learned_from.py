"""What kind of the photographer's own edits a training run learnt from, as the style's summary names it.

Used by the local ``train`` command (:mod:`trainer.cli`) and by ``train --server`` (:mod:`trainer.remote_train`).
"""

from __future__ import annotations

__all__ = ["learned_from"]


def learned_from(*, pairs: object, catalog: object, darktable: object) -> str | None:
    """The summary's ``learned_from``: which of the photographer's own edits were given (``None`` = not given).

    Returns:
        ``"pairs"``, ``"lightroom catalog"``, ``"darktable sidecars"``, or ``None`` (favourites, expert histories).
    """
    if pairs is not None:
        return "pairs"
    if catalog is not None:
        return "lightroom catalog"
    return "darktable sidecars" if darktable is not None else None
