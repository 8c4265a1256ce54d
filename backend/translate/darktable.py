"""Recipe -> darktable 4.2 history stack (public API of the darktable translator).

The pieces live in small modules; import from here:

* :mod:`~backend.translate.darktable_pack` — parameter struct layouts (``darktable_layouts.json``), packing,
  hex / gz encodings;
* :mod:`~backend.translate.darktable_history` — :class:`HistoryEntry` and :func:`recipe_to_history`;
* :mod:`~backend.translate.darktable_order` — ``iop_order_version`` and ``iop_order_list``.

Pure values, no XML: the history entries go into sidecars (fresh ones, appended to a user's history) and
``.dtstyle`` files through :mod:`backend.sidecar.darktable_xmp`.

Example::

    entries = recipe_to_history(recipe, is_raw=False, long_side_px=4000)
"""

from __future__ import annotations

from backend.translate.darktable_history import BLENDOP_VERSION, HistoryEntry, history_instances, recipe_to_history
from backend.translate.darktable_order import (
    IOP_ORDER_V30,
    IOP_ORDER_V30_JPG,
    build_iop_order_list,
    iop_order_version_for,
    parse_iop_order_list,
)
from backend.translate.darktable_pack import (
    DARKTABLE_VERSION,
    decode_params,
    encode_params,
    module_layout,
    module_layouts,
    pack_params,
    unpack_params,
)

__all__ = [
    "BLENDOP_VERSION",
    "DARKTABLE_VERSION",
    "IOP_ORDER_V30",
    "IOP_ORDER_V30_JPG",
    "HistoryEntry",
    "build_iop_order_list",
    "decode_params",
    "encode_params",
    "history_instances",
    "iop_order_version_for",
    "module_layout",
    "module_layouts",
    "pack_params",
    "parse_iop_order_list",
    "recipe_to_history",
    "unpack_params",
]
