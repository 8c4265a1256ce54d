"""What the tests that meet darktable share: sidecars, test charts, darktable-cli renders and how to compare them.

* :func:`one_entry_sidecar`, :func:`gz_params`: a sidecar whose history is one module instance, and a parameter
  struct in darktable's compressed form.
* :func:`user_history`: the history of a user's own darktable edit (flip, exposure, vignette) that the
  sidecar-preservation tests put in front of autoretouch's.
* :func:`darktable_raw_defaults`: what darktable 4.2 auto-applies to a raw (filmic rgb, +0.7 EV exposure).
* :func:`history_sidecar`, :func:`blend_params`, :func:`compress_history`: a sidecar holding given history
  entries (a user's own, blended or switched off), and what darktable's "compress history" makes of a sidecar.
* :func:`darktable_appends`: a user's darkroom steps as darktable writes them after the history (a switch, a blend
  or drawn mask, a new name of a module), the whole sidecar rewritten.
* :func:`write_png16`, :func:`synthetic_png`, :func:`edges_png`: 16-bit sRGB PNG charts, returned as what
  darktable's ``colorin`` sees (linear Rec.2020).
* :func:`render_darktable`: one darktable-cli batch (skipped locally, a failure under CI, when darktable-cli is
  missing); :func:`as_batch` turns one of its images into a ``(1, 3, H, W)`` tensor.
* :func:`assert_within_darktable_floor`, :func:`assert_close_to_darktable`, :func:`mean_delta_e_2000`: the
  comparisons of a renderer stage with darktable's own render.
"""

from __future__ import annotations

import base64
import struct
import warnings
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch, pytest and darktable-cli load when used: testing.fuzz's seeds come from here
    import torch

    from backend.translate.darktable import HistoryEntry
    from testing.darktable_cli import DarktableResult

__all__ = [
    "DEFAULT_EXPOSURE",
    "DEFAULT_FILMIC",
    "DT_ATOL",
    "DT_MEAN_TOL",
    "DT_RTOL",
    "as_batch",
    "assert_close_to_darktable",
    "assert_within_darktable_floor",
    "blend_params",
    "compress_history",
    "darktable_appends",
    "darktable_raw_defaults",
    "edges_png",
    "gz_params",
    "history_sidecar",
    "mean_delta_e_2000",
    "one_entry_sidecar",
    "render_darktable",
    "synthetic_png",
    "user_history",
    "write_png16",
]

# -- sidecars ---------------------------------------------------------------------------------------------


def one_entry_sidecar(
    operation: str, modversion: int, params: bytes, *, blendop_version: int | None = 11, iop_order_version: int = 3
) -> str:
    """A darktable 4.2 sidecar whose history is one module instance (auto presets marked applied).

    Args:
        operation: darktable module name, e.g. ``"exposure"``.
        modversion: the module's parameter version.
        params: the packed parameter struct (written as hex).
        blendop_version: the entry's ``blendop_version`` attribute, or ``None`` to leave it out.
        iop_order_version: the pipe order darktable uses: 3 (V30_JPG) for a PNG, TIFF or JPEG, 2 (V30) for a raw.
    """
    blendop = f' darktable:blendop_version="{blendop_version}"' if blendop_version is not None else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:darktable="http://darktable.sf.net/"
   xmp:Rating="1" darktable:xmp_version="5" darktable:raw_params="0" darktable:auto_presets_applied="1"
   darktable:history_end="1" darktable:iop_order_version="{iop_order_version}">
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


#: A user's own history entries as darktable 4.2 writes them (``{num}`` is the entry's place in the history):
#: a flip, +1 EV exposure and a vignette.
_USER_ENTRIES: dict[str, str] = {
    "flip": """\
     <rdf:li darktable:num="{num}" darktable:operation="flip" darktable:enabled="1" darktable:modversion="2"
      darktable:params="ffffffff" darktable:multi_name="" darktable:multi_priority="0"
      darktable:blendop_version="11"/>
""",
    "exposure": """\
     <rdf:li darktable:num="{num}" darktable:operation="exposure" darktable:enabled="1" darktable:modversion="6"
      darktable:params="00000000000000000000803f00004842000080c000000000" darktable:multi_name=""
      darktable:multi_priority="0" darktable:blendop_version="11"/>
""",
    "vignette": """\
     <rdf:li darktable:num="{num}" darktable:operation="vignette" darktable:enabled="1" darktable:modversion="4"
      darktable:params="gz05eJxjYICAaBOuQfEwAUWw2c2BAAAtNRNg" darktable:multi_name=""
      darktable:multi_priority="0" darktable:blendop_version="11"/>
""",
}


def user_history(*operations: str, more: str = "") -> str:
    """The ``<darktable:history>`` element of a user's own darktable edit, laid out as darktable writes it.

    Args:
        operations: ``"flip"``, ``"exposure"`` or ``"vignette"`` entries, numbered from 0 in the order given.
        more: further ``rdf:li`` lines (numbered by the caller) after those.

    Returns:
        The element, indented to sit in an ``rdf:Description`` and ending in a newline.
    """
    entries = "".join(_USER_ENTRIES[op].format(num=num) for num, op in enumerate(operations))
    return f"   <darktable:history>\n    <rdf:Seq>\n{entries}{more}    </rdf:Seq>\n   </darktable:history>\n"


#: darktable 4.2's default blend parameters of a scene-referred RGB module (``blend_cst`` 4), as it writes them.
_DEFAULT_BLEND_RGB_SCENE = "gz10eJxjYGBgYAFiCQYYOOHEgAZY0QVwggZ7CB6pfOygYtaVAyCMi08IAAB/xiOk"


def blend_params(*, opacity: float = 100.0, mask_mode: int = 1, mask_id: int = 0) -> str:
    """darktable 4.2 blend parameters (v11, hex) of a scene-referred RGB module: blending on (``mask_mode`` 1,
    uniformly), at ``opacity`` percent; ``mask_mode`` 3 with a ``mask_id`` is a drawn mask."""
    packed = base64.b64decode(_DEFAULT_BLEND_RGB_SCENE[4:])
    blob = bytearray(zlib.decompress(packed))
    struct.pack_into("<I", blob, 0, mask_mode)
    struct.pack_into("<f", blob, 16, opacity)
    struct.pack_into("<I", blob, 24, mask_id)
    return bytes(blob).hex()


#: darktable 4.2.1's auto-applied "scene-referred default" exposure: black −2⁻¹², +0.7 EV, exposure bias compensated.
DEFAULT_EXPOSURE = "00000000000080b93333333f00004842000080c001000000"
#: The filmic rgb darktable 4.2.1 auto-applied to a raw (QA: a Nikon D1 NEF imported without a sidecar).
DEFAULT_FILMIC = "gz02eJybNXOy49kzXw60vp7owAAGDkD6hBMEQ8AsoBr9ZRU2IDG1yHQHruvKQHaDPUz+7BkfO2YgDcKMUDFGJDYMMEFpALwGFBc="


def darktable_raw_defaults(exposure: str = DEFAULT_EXPOSURE) -> list[HistoryEntry]:
    """The history darktable 4.2 writes for a raw on import: its auto-applied filmic rgb and default exposure (its
    mandatory modules, which it adds on load anyway, left out); ``exposure``: that entry's params."""
    from backend.translate.darktable import HistoryEntry

    return [
        HistoryEntry("filmicrgb", 6, DEFAULT_FILMIC, blendop_params=_DEFAULT_BLEND_RGB_SCENE),
        HistoryEntry("exposure", 6, exposure, blendop_params=_DEFAULT_BLEND_RGB_SCENE),
        HistoryEntry("flip", 2, "ffffffff"),
    ]


def history_sidecar(
    entries: Sequence[HistoryEntry],
    *,
    history_end: int | None = None,
    iop_order_version: int = 3,
    attributes: Mapping[str, str] | None = None,
) -> str:
    """A darktable 4.2 sidecar whose history is ``entries`` (a user's own edit), as darktable lays it out.

    Args:
        entries: the history entries, numbered from 0.
        history_end: the entries active (default: all).
        iop_order_version: 3 (V30_JPG) or 2 (V30, what darktable writes for every image).
        attributes: more ``darktable:`` description attributes (``iop_order_list``, ``history_auto_hash``, ...).
    """
    from backend.sidecar.darktable_xmp import DT_NS, entry_to_li, new_darktable_xmp, xmp_to_string

    root = new_darktable_xmp([], is_raw=iop_order_version == 2)
    desc = root[0][0]
    seq = desc.find(f"{{{DT_NS}}}history")[0]  # type: ignore[index]
    for num, entry in enumerate(entries):
        seq.append(entry_to_li(entry, num))
    values = {
        "history_end": str(len(entries) if history_end is None else history_end),
        "auto_presets_applied": "1",
        "iop_order_version": str(iop_order_version),
        **(attributes or {}),
    }
    for name, value in values.items():
        desc.set(f"{{{DT_NS}}}{name}", value)
    return xmp_to_string(root)


def compress_history(text: str) -> str:
    """What darktable 4.2's "compress history" writes for a sidecar: only the last active entry of each module
    instance, in their order, undone entries dropped, renumbered, every entry with its blend parameters."""
    from defusedxml import ElementTree as SafeET

    from backend.sidecar.darktable_xmp import DT_NS, RDF_NS, xmp_to_string

    def dt(name: str) -> str:
        return f"{{{DT_NS}}}{name}"

    root = SafeET.fromstring(text)
    desc = next(d for d in root.iter(f"{{{RDF_NS}}}Description") if d.find(dt("history")) is not None)
    seq = desc.find(dt("history"))[0]  # type: ignore[index]
    items = list(seq)[: int(desc.get(dt("history_end"), str(len(seq))))]
    last = {(li.get(dt("operation")), li.get(dt("multi_priority"))): li for li in items}
    kept = [li for li in items if last[(li.get(dt("operation")), li.get(dt("multi_priority")))] is li]
    for li in list(seq):
        seq.remove(li)
    for num, li in enumerate(kept):
        li.set(dt("num"), str(num))
        li.set(dt("blendop_params"), li.get(dt("blendop_params")) or _DEFAULT_BLEND_RGB_SCENE)
        seq.append(li)
    desc.set(dt("history_end"), str(len(kept)))
    return xmp_to_string(root)


def darktable_appends(sidecar: Path, *steps: HistoryEntry, mask_shape: int | None = None) -> None:
    """The user's darkroom steps, as darktable 4.2 writes the sidecar after them (in place).

    darktable rewrites the whole history: every entry with its blend parameters (the module default, blending off,
    where there were none), each step appended after ``history_end`` (the entries after it, undone, are dropped
    as darktable drops its redo branch), ``history_end`` after the last.

    Args:
        sidecar: the sidecar to change.
        steps: the entries darktable appends (a step without blend parameters gets the default, blending off).
        mask_shape: the ``mask_id`` of a drawn shape (a circle) that the last step's blending uses: it goes into
            ``masks_history``, numbered with that step, as darktable keeps a drawn mask's shapes.
    """
    import xml.etree.ElementTree as ET

    from defusedxml import ElementTree as SafeET

    from backend.sidecar.darktable_xmp import DT_NS, RDF_NS, entry_to_li, xmp_to_string

    def dt(name: str) -> str:
        return f"{{{DT_NS}}}{name}"

    root = SafeET.fromstring(sidecar.read_text(encoding="utf-8"))
    desc = next(d for d in root.iter(f"{{{RDF_NS}}}Description") if d.find(dt("history")) is not None)
    seq = desc.find(dt("history"))[0]  # type: ignore[index]
    end = int(desc.get(dt("history_end"), str(len(seq))))
    for li in list(seq)[end:]:
        seq.remove(li)
    off = blend_params(mask_mode=0)
    for li in seq:
        li.set(dt("blendop_params"), li.get(dt("blendop_params")) or off)
    for step in steps:
        seq.append(entry_to_li(step, len(seq)))
        seq[-1].set(dt("blendop_params"), step.blendop_params or off)
    desc.set(dt("history_end"), str(len(seq)))
    if mask_shape is not None:
        masks = desc.find(dt("masks_history"))
        assert masks is not None
        shapes = masks[0] if len(masks) else ET.SubElement(masks, f"{{{RDF_NS}}}Seq")
        shape = {"mask_num": len(seq) - 1, "mask_id": mask_shape, "mask_type": 1, "mask_name": "circle #1"}
        ET.SubElement(shapes, f"{{{RDF_NS}}}li", {dt(k): str(v) for k, v in shape.items()})
    sidecar.write_text(xmp_to_string(root), encoding="utf-8")


def gz_params(blob: bytes) -> str:
    """A parameter struct in darktable's compressed sidecar form (``gzNN`` + base64 of zlib), written here
    independently of :func:`backend.translate.darktable.encode_params`."""
    packed = zlib.compress(blob)
    return f"gz{min(len(blob) // len(packed) + 1, 99):02d}" + base64.b64encode(packed).decode()


# -- test charts ------------------------------------------------------------------------------------------


def write_png16(path: Path, srgb: np.ndarray) -> torch.Tensor:
    """Write ``(H, W, 3)`` sRGB-encoded values (clipped to [0, 1]) as a 16-bit PNG.

    Returns:
        What darktable's ``colorin`` sees: the quantised values decoded as linear Rec.2020, ``(1, 3, H, W)`` float64.
    """
    import pytest
    import torch

    from backend.render.color import SRGB_TO_REC2020, apply_matrix, srgb_decode

    cv2 = pytest.importorskip("cv2")
    img16 = np.round(np.clip(srgb, 0.0, 1.0) * 65535).astype(np.uint16)
    assert cv2.imwrite(str(path), np.ascontiguousarray(img16[..., ::-1]))
    encoded = torch.from_numpy(img16.astype(np.float64) / 65535.0).permute(2, 0, 1)[None]
    return apply_matrix(srgb_decode(encoded), SRGB_TO_REC2020)


def synthetic_png(path: Path) -> torch.Tensor:
    """A 64x48 16-bit sRGB PNG (gradients + colour patches) written by :func:`write_png16`; returns its result."""
    h, w = 48, 64
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx / (w - 1), yy / (h - 1), ((xx + yy) % 17) / 16], axis=-1)
    patches = [(0.5, 0.5, 0.5), (0.9, 0.2, 0.1), (0.1, 0.3, 0.9), (0.2, 0.7, 0.2), (0.95, 0.95, 0.95), (0.05,) * 3]
    for k, colour in enumerate(patches):
        img[(k // 3) * 8 : (k // 3) * 8 + 8, (k % 3) * 8 : (k % 3) * 8 + 8] = colour
    return write_png16(path, img)


def edges_png(path: Path, h: int, w: int, tint: tuple[float, float, float], seed: int) -> torch.Tensor:
    """An ``h x w`` 16-bit sRGB PNG of step edges, rings and Gaussian noise (sigma 0.04), written by
    :func:`write_png16`; returns its result.

    Args:
        path: output ``.png`` path.
        h: height in pixels.
        w: width in pixels.
        tint: the per-channel factor of the step edges (R, G, B).
        seed: seed of the noise.
    """
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = (0.25 + 0.5 * (x > w / 2) + 0.15 * (y > 0.6 * h))[..., None] * np.array(tint)
    ring = 0.1 * np.sin(np.hypot(x - w / 3, y - h / 3) / 3.0)[..., None]
    return write_png16(
        path, np.clip(base + ring + np.random.default_rng(seed).normal(0.0, 0.04, (h, w, 3)), 0.02, 0.98)
    )


# -- darktable-cli renders and comparisons ------------------------------------------------------------------


def render_darktable(items: Mapping[str, tuple[Path, str | None]], workdir: Path) -> DarktableResult:
    """Render ``items`` (name -> (image, sidecar text)) in one darktable-cli batch run from ``workdir``.

    Skips (fails under ``CI=true``) when darktable-cli is not installed, and asserts that darktable rejected no
    history entry (no :attr:`~testing.darktable_cli.DarktableResult.problems`).
    """
    from testing.darktable_cli import DarktableCli, darktable_cli_path
    from testing.needs import missing

    if darktable_cli_path() is None:
        missing("darktable-cli not installed")
    result = DarktableCli(workdir).render_batch(items)
    assert result.problems == [], result.problems
    return result


def as_batch(image: np.ndarray) -> torch.Tensor:
    """An ``(H, W, 3)`` image (e.g. one of darktable-cli's renders) as a ``(1, 3, H, W)`` float64 tensor."""
    import torch

    return torch.from_numpy(image.astype(np.float64)).permute(2, 0, 1)[None]


#: Tolerance against darktable (per pixel, |darktable - ours| <= DT_ATOL + DT_RTOL * |ours|, and mean <= DT_MEAN_TOL).
#: darktable's pipeline floor, measured with identity stacks on the same PNG: its sRGB decode in colorin
#: differs from srgb_decode + SRGB_TO_REC2020 by up to 5.7e-5 (mean 1e-5), and its float path after the
#: module (working RGB -> Lab -> output profile) is accurate to ~1e-4 relative (up to ~2e-3 relative below
#: 0.05). The measured worst case for the module tests is 0.45 of this tolerance; a 1 % error in a gain
#: or a wrong sign exceeds it tenfold.
DT_ATOL, DT_RTOL, DT_MEAN_TOL = 1e-4, 1e-3, 5e-5


def assert_within_darktable_floor(
    ours: torch.Tensor, theirs: np.ndarray, reference: torch.Tensor, label: object
) -> None:
    """Our render equals darktable's to darktable's own pipeline floor, and the module visibly did something.

    Args:
        ours: our render, ``(1, 3, H, W)`` linear Rec.2020.
        theirs: darktable's render of the same settings, ``(H, W, 3)``.
        reference: the unedited input, ``(1, 3, H, W)``; ``ours`` must differ from it by more than 20 x
            :data:`DT_MEAN_TOL` on average.
        label: what the failure messages name (the slider and its value).
    """
    mine = ours[0].permute(1, 2, 0).numpy()
    err = np.abs(theirs.astype(np.float64) - mine)
    assert np.abs(mine - reference[0].permute(1, 2, 0).numpy()).mean() > 20 * DT_MEAN_TOL, label
    assert (err <= DT_ATOL + DT_RTOL * np.abs(mine)).all(), (label, err.max())
    assert err.mean() <= DT_MEAN_TOL, (label, err.mean())


def assert_close_to_darktable(
    ours: torch.Tensor, theirs: torch.Tensor, label: object, *, max_abs: float, mean_abs: float, mean_de: float
) -> None:
    """Our render is within ``max_abs`` (largest) and ``mean_abs`` (mean) of darktable's, and within ``mean_de``
    mean CIEDE2000 as a display shows them (both ``(1, 3, H, W)`` linear Rec.2020; ``label`` names the case)."""
    diff = (ours - theirs).abs()
    assert diff.max().item() < max_abs, (label, diff.max().item())
    assert diff.mean().item() < mean_abs, (label, diff.mean().item())
    assert mean_delta_e_2000(ours, theirs) < mean_de


def mean_delta_e_2000(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean CIEDE2000 between two ``(1, 3, H, W)`` linear Rec.2020 renders, as a display shows them (sRGB, clipped)."""
    from testing.darktable_cli import delta_e_2000, rec2020_to_display_srgb

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        srgb = [rec2020_to_display_srgb(x[0].permute(1, 2, 0).numpy()) for x in (a, b)]
        return float(delta_e_2000(*srgb).mean())
