"""Lightroom develop settings as ``crs:`` properties in an XMP sidecar (the writing side of the translator).

:func:`apply_crs` writes the table of :func:`backend.translate.lightroom.recipe_to_develop_settings` into an
``rdf:Description`` (attribute form, as Lightroom writes; curves as ``rdf:Seq`` of ``"x, y"``; signed values with an
explicit ``+``), plus the flags a sidecar needs, and returns what it replaced.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from backend.sidecar.xmp import NS, PreviousValue, insert_child, qname, take_property
from backend.translate.lightroom import UNSIGNED_KEYS, WHITE_BALANCE_KEYS

__all__ = [
    "ALREADY_APPLIED",
    "CAMERA_RAW_VERSION",
    "PROCESS_VERSION",
    "apply_crs",
    "crs_properties",
    "format_crs_value",
]

#: ``crs:ProcessVersion`` written to sidecars: "Version 5" (Camera Raw 11.0, Lightroom Classic 8+), the
#: oldest process version with every key we write, so older Lightroom versions read our sidecars too.
PROCESS_VERSION = "11.0"
#: ``crs:Version``: the Camera Raw build the settings claim to come from (matches the process version).
CAMERA_RAW_VERSION = "11.0"
#: Sidecars for raws carry settings to apply, never already-rendered ones.
ALREADY_APPLIED = False


def format_crs_value(key: str, value: Any) -> str | list[str]:
    """A develop-settings value as Lightroom writes it in XMP.

    Booleans ``True``/``False``; exposure with two decimals and a sign (``+0.60``, ``0.00``); integers with an
    explicit ``+`` except the unsigned ones (Temperature, Sharpness); curves as ``["x, y", ...]``.
    """
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return [f"{value[i]}, {value[i + 1]}" for i in range(0, len(value), 2)]
    if isinstance(value, int):
        return str(value) if key in UNSIGNED_KEYS or value == 0 else f"{value:+d}"
    if isinstance(value, float):
        return "0.00" if abs(value) < 0.005 else f"{value:+.2f}"
    return str(value)


def crs_properties(settings: dict[str, Any], *, is_raw: bool, photo_name: str) -> list[tuple[str, str | list[str]]]:
    """Every property :func:`apply_crs` sets: ``({uri}name, text or list of Seq items)``, in writing order."""
    crs = NS["crs"]
    props: list[tuple[str, str | list[str]]] = []
    suffix = photo_name.rpartition(".")[2] if "." in photo_name else ""
    if is_raw and suffix:
        props.append((qname("photoshop", "SidecarForExtension"), suffix))
    props += [
        (f"{{{crs}}}Version", CAMERA_RAW_VERSION),
        (f"{{{crs}}}ProcessVersion", PROCESS_VERSION),
        (f"{{{crs}}}RawFileName", photo_name),
    ]
    wb_keys = set(WHITE_BALANCE_KEYS[:4])
    if wb_keys & set(settings):
        props.append((f"{{{crs}}}WhiteBalance", "Custom"))
    props += [(f"{{{crs}}}{k}", format_crs_value(k, v)) for k, v in settings.items() if k != WHITE_BALANCE_KEYS[4]]
    props += [
        (f"{{{crs}}}HasSettings", "True"),
        (f"{{{crs}}}AlreadyApplied", format_crs_value("AlreadyApplied", ALREADY_APPLIED)),
    ]
    return props


def _seq_element(name: str, items: list[str]) -> ET.Element:
    prop = ET.Element(name)
    seq = ET.SubElement(prop, qname("rdf", "Seq"))
    for item in items:
        ET.SubElement(seq, qname("rdf", "li")).text = item
    ET.indent(prop, space=" ", level=3)
    return prop


def apply_crs(
    description: ET.Element, settings: dict[str, Any], *, is_raw: bool, photo_name: str
) -> dict[str, PreviousValue | None]:
    """Write develop settings as ``crs:`` properties into an XMP ``rdf:Description``.

    Sets ``crs:Version``/``ProcessVersion`` (:data:`PROCESS_VERSION`), ``crs:RawFileName``, ``crs:HasSettings``
    True, ``crs:AlreadyApplied`` False, ``crs:WhiteBalance`` Custom when a white-balance key is set, and
    ``photoshop:SidecarForExtension`` for raws. Scalars go in attribute form, curves as ``rdf:Seq`` elements.
    A property already present (in either form) is replaced; nothing else in the description is touched.

    Args:
        description: the ``rdf:Description`` to write into (modified in place).
        settings: the table from :func:`recipe_to_develop_settings`.
        is_raw: the photo is a raw (this is its sidecar).
        photo_name: the photo's file name, e.g. ``IMG_0001.CR2``.

    Returns:
        ``{uri}name`` -> the property's previous value (``None`` when it was absent), for every property set.
    """
    props = crs_properties(settings, is_raw=is_raw, photo_name=photo_name)
    replaced = {name: take_property(description, name) for name, _ in props}
    for name, value in props:
        if isinstance(value, list):
            insert_child(description, _seq_element(name, value), level=2)
        else:
            description.set(name, value)
    return replaced
