"""Recipe -> darktable 4.2 history stack (public API of the darktable translator).

The pieces live in small modules; import from here:

* :mod:`~backend.translate.darktable_pack` — parameter struct layouts (``darktable_layouts.json``), packing,
  hex / gz encodings;
* :mod:`~backend.translate.darktable_history` — :class:`HistoryEntry` and :func:`recipe_to_history`;
* :mod:`~backend.translate.darktable_order` — ``iop_order_version`` and ``iop_order_list``;
* :mod:`~backend.translate.darktable_xmp` — fresh sidecars, appending to a user's history, ``.dtstyle``.

Example::

    entries = recipe_to_history(recipe, is_raw=False, long_side_px=4000)
    root = new_darktable_xmp(entries, is_raw=False)          # a fresh IMG_0001.JPG.xmp
    text = xmp_to_string(root)
    result = append_history(description, entries, is_raw=False)   # into an existing sidecar
    style = history_to_dtstyle(entries, "autoretouch 2024-05-01 12:00", "warm, punchy")
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
from backend.translate.darktable_xmp import (
    DT_NS,
    XMP_VERSION,
    AppendResult,
    append_history,
    entry_from_li,
    entry_to_li,
    history_to_dtstyle,
    new_darktable_description,
    new_darktable_xmp,
    xmp_to_string,
)

__all__ = [
    "BLENDOP_VERSION",
    "DARKTABLE_VERSION",
    "DT_NS",
    "IOP_ORDER_V30",
    "IOP_ORDER_V30_JPG",
    "XMP_VERSION",
    "AppendResult",
    "HistoryEntry",
    "append_history",
    "build_iop_order_list",
    "decode_params",
    "encode_params",
    "entry_from_li",
    "entry_to_li",
    "history_instances",
    "history_to_dtstyle",
    "iop_order_version_for",
    "module_layout",
    "module_layouts",
    "new_darktable_description",
    "new_darktable_xmp",
    "pack_params",
    "parse_iop_order_list",
    "recipe_to_history",
    "unpack_params",
    "xmp_to_string",
]
