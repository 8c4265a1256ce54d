"""What the renderer-vs-darktable tests share: a one-module darktable sidecar and the mean CIEDE2000 of two renders."""

from __future__ import annotations

import base64
import warnings
import zlib

import torch

__all__ = ["gz_params", "mean_delta_e_2000", "one_entry_sidecar"]


def one_entry_sidecar(operation: str, modversion: int, params: bytes, *, blendop_version: int | None = 11) -> str:
    """A darktable 4.2 sidecar whose history is one module instance (for a PNG: iop order V30_JPG, auto presets
    marked applied).

    Args:
        operation: darktable module name, e.g. ``"exposure"``.
        modversion: the module's parameter version.
        params: the packed parameter struct (written as hex).
        blendop_version: the entry's ``blendop_version`` attribute, or ``None`` to leave it out.
    """
    blendop = f' darktable:blendop_version="{blendop_version}"' if blendop_version is not None else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:darktable="http://darktable.sf.net/"
   xmp:Rating="1" darktable:xmp_version="5" darktable:raw_params="0" darktable:auto_presets_applied="1"
   darktable:history_end="1" darktable:iop_order_version="3">
   <darktable:masks_history><rdf:Seq/></darktable:masks_history>
   <darktable:history><rdf:Seq>
    <rdf:li darktable:num="0" darktable:operation="{operation}" darktable:enabled="1"
     darktable:modversion="{modversion}" darktable:params="{params.hex()}" darktable:multi_name=""
     darktable:multi_priority="0"{blendop}/>
   </rdf:Seq></darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def mean_delta_e_2000(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean CIEDE2000 between two ``(1, 3, H, W)`` linear Rec.2020 renders, as a display shows them (sRGB, clipped)."""
    from testing.darktable_cli import delta_e_2000, rec2020_to_display_srgb

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        srgb = [rec2020_to_display_srgb(x[0].permute(1, 2, 0).numpy()) for x in (a, b)]
        return float(delta_e_2000(*srgb).mean())


def gz_params(blob: bytes) -> str:
    """A parameter struct in darktable's compressed sidecar form (``gzNN`` + base64 of zlib), written here
    independently of :func:`backend.translate.darktable.encode_params`."""
    packed = zlib.compress(blob)
    return f"gz{min(len(blob) // len(packed) + 1, 99):02d}" + base64.b64encode(packed).decode()
