"""Lightroom / Camera Raw develop settings embedded as ``crs:`` XMP (in a rendition, a DNG or a ``.xmp`` sidecar).

Lightroom writes a photo's develop settings into the XMP packet of every export and into ``.xmp`` sidecars of
raws, in the Camera Raw Settings namespace (``http://ns.adobe.com/camera-raw-settings/1.0/``), either as
attributes of an ``rdf:Description`` (``crs:Exposure2012="+0.50"``) or as elements (``<crs:Exposure2012>``,
and for curves an ``rdf:Seq`` of ``"x, y"`` items). :func:`crs_settings` returns them as the same plain data
the catalog's settings text gives (:mod:`trainer.lrcat.luatext`), so :func:`trainer.lrcat.pv2003.map_settings`
maps either:

* numbers: ``"+1.15"`` -> ``1.15``, ``"4750"`` -> ``4750`` (int when integral);
* ``"True"`` / ``"False"`` -> booleans;
* point curves (``ToneCurve``, ``ToneCurvePV2012``, ``...Red/Green/Blue``): ``["0, 0", "255, 255"]`` -> the flat
  list ``[0, 0, 255, 255]``; other sequences -> lists of parsed items;
* anything else stays a string (``"As Shot"``, ``"Linear"``).

The XML is parsed with :mod:`defusedxml` (no entity expansion, no external references), at most
:data:`MAX_XMP_BYTES` of it; the packet can come from a file's embedded XMP (read by exiftool, which is already a
dependency of the tests and the benchmarks) or from a sidecar file.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from backend.errors import AutoretouchError
from backend.sidecar.xmp import NS

__all__ = ["CRS_NS", "MAX_XMP_BYTES", "XmpSettingsError", "crs_settings", "embedded_xmp"]

#: The Camera Raw Settings namespace.
CRS_NS = NS["crs"]
_RDF_NS = NS["rdf"]
#: Larger XMP packets are refused.
MAX_XMP_BYTES = 4 << 20
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_CURVE_ITEM = re.compile(r"\s*([+-]?\d+(?:\.\d*)?)\s*,\s*([+-]?\d+(?:\.\d*)?)\s*")


class XmpSettingsError(AutoretouchError):
    """An XMP packet that cannot be read as develop settings (the message names the file)."""

    grpc_status = "FAILED_PRECONDITION"


def _scalar(text: str) -> Any:
    t = text.strip()
    if _NUMBER.fullmatch(t):
        value = float(t)
        return int(value) if value.is_integer() and "." not in t and "e" not in t.lower() else value
    if t in ("True", "False"):
        return t == "True"
    return t


def _items(element: Any) -> list[str] | None:
    for container in ("Seq", "Bag", "Alt"):
        seq = element.find(f"{{{_RDF_NS}}}{container}")
        if seq is not None:
            return [(li.text or "") for li in seq.findall(f"{{{_RDF_NS}}}li")]
    return None


def _curve(items: list[str]) -> list[float] | None:
    flat: list[float] = []
    for item in items:
        m = _CURVE_ITEM.fullmatch(item)
        if m is None:
            return None
        flat += [float(m.group(1)), float(m.group(2))]
    return flat


def crs_settings(xmp: str | bytes, *, where: str = "XMP") -> dict[str, Any]:
    """The ``crs:`` develop settings of an XMP packet (module docstring), by Lightroom key.

    Args:
        xmp: the packet (with or without the ``<?xpacket?>`` wrapper), or a whole ``.xmp`` sidecar.
        where: what to name in errors (the file).

    Returns:
        Key (without prefix) -> value; empty when the packet is empty or has no ``crs:`` settings.

    Raises:
        XmpSettingsError: larger than :data:`MAX_XMP_BYTES`, not well-formed, or forbidden XML (entities).
    """
    data = xmp.encode("utf-8") if isinstance(xmp, str) else xmp
    if len(data) > MAX_XMP_BYTES:
        raise XmpSettingsError(f"{where}: XMP packet of {len(data)} bytes is larger than {MAX_XMP_BYTES}")
    if not data.strip():
        return {}
    try:
        root = ElementTree.fromstring(data)
    except DefusedXmlException as exc:
        raise XmpSettingsError(f"{where}: forbidden XML in the XMP packet ({type(exc).__name__})") from None
    except ElementTree.ParseError as exc:
        raise XmpSettingsError(f"{where}: the XMP packet is not well-formed XML ({exc})") from None
    out: dict[str, Any] = {}
    prefix = f"{{{CRS_NS}}}"
    for desc in root.iter(f"{{{_RDF_NS}}}Description"):
        for name, value in desc.attrib.items():
            if name.startswith(prefix):
                out[name[len(prefix) :]] = _scalar(value)
        for child in desc:
            if not isinstance(child.tag, str) or not child.tag.startswith(prefix):
                continue
            key = child.tag[len(prefix) :]
            items = _items(child)
            if items is None:
                out[key] = _scalar(child.text or "")
            elif key.startswith("ToneCurve") and not key.startswith("ToneCurveName"):
                curve = _curve(items)
                if curve is not None:
                    out[key] = curve
            else:
                out[key] = [_scalar(i) for i in items]
    return out


def embedded_xmp(path: str | Path, *, exiftool: str = "exiftool", timeout: float = 30.0) -> bytes:
    """The XMP packet embedded in a photo (``exiftool -b -XMP``); empty when it has none.

    Raises:
        XmpSettingsError: exiftool is missing or fails on the file.
    """
    try:
        proc = subprocess.run(
            [exiftool, "-b", "-XMP", "--", str(path)], capture_output=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise XmpSettingsError(f"{path}: cannot run exiftool ({exc})") from None
    if proc.returncode != 0 and not proc.stdout:
        message = proc.stderr.decode("utf-8", "replace").strip() or f"exit status {proc.returncode}"
        raise XmpSettingsError(f"{path}: exiftool could not read the XMP ({message})")
    return proc.stdout
