"""autoretouch's own record in a sidecar: what was applied and what it replaced.

The record lives in the namespace ``https://autoretouch.invalid/ns/1.0/`` (prefix ``autoretouch``), as
simple properties in attribute form on the ``rdf:Description`` that holds the host's settings:

=============================  =======================================================================
property                       value
=============================  =======================================================================
``autoretouch:FormatVersion``  version of this record layout (:data:`FORMAT_VERSION`)
``autoretouch:Host``           ``lightroom`` or ``darktable``
``autoretouch:Recipe``         the applied recipe as JSON (values already at the applied strength)
``autoretouch:Style``          style name (absent when the recipe has none)
``autoretouch:ModelVersion``   model / style version (absent when the recipe has none)
``autoretouch:Strength``       strength alpha in [0, 1] already applied to the recipe
``autoretouch:CatalogVersion`` slider catalog version the translation used
``autoretouch:Timestamp``      UTC time of the write, ISO 8601 (``2024-05-01T12:00:00Z``)
``autoretouch:Software``       ``autoretouch <version>``
``autoretouch:Created``        ``True`` when autoretouch created the sidecar (revert may then delete it)
``autoretouch:Replaced``       JSON, host specific: the previous value of every property autoretouch set
                               (Lightroom), or the history length and description attributes before
                               autoretouch's entries (darktable)
=============================  =======================================================================

Readers accept the element form too (exiftool rewrites attributes as elements).
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from backend import __version__
from backend.errors import SidecarError
from backend.recipe import Recipe
from backend.sidecar.xmp import NS, XmpDocument, get_simple, take_property
from backend.sliders.catalog import CATALOG_VERSION

__all__ = ["FORMAT_VERSION", "Provenance", "find_provenance", "remove_provenance", "write_provenance"]

#: Layout version of the record.
FORMAT_VERSION = 1
_NS = NS["autoretouch"]


def _q(local: str) -> str:
    return f"{{{_NS}}}{local}"


@dataclass(frozen=True)
class Provenance:
    """One application of a recipe to a sidecar.

    Attributes:
        host: ``"lightroom"`` or ``"darktable"``.
        recipe: the applied recipe.
        replaced: host-specific JSON-ready record of the previous state (see the host modules).
        created: autoretouch created the sidecar file.
        catalog_version: slider catalog version used.
        timestamp: ISO 8601 UTC time of the write.
        software: ``autoretouch <version>``.
    """

    host: str
    recipe: Recipe
    replaced: dict[str, Any]
    created: bool = False
    catalog_version: int = CATALOG_VERSION
    timestamp: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    software: str = f"autoretouch {__version__}"


def write_provenance(desc: ET.Element, prov: Provenance) -> None:
    """Add the record to ``desc`` in attribute form (after removing any earlier record there)."""
    for local in list(_local_names(desc)):
        take_property(desc, _q(local))
    values: dict[str, str | None] = {
        "FormatVersion": str(FORMAT_VERSION),
        "Host": prov.host,
        "Recipe": prov.recipe.to_json(indent=None),
        "Style": prov.recipe.style,
        "ModelVersion": prov.recipe.model,
        "Strength": repr(float(prov.recipe.strength)),
        "CatalogVersion": str(prov.catalog_version),
        "Timestamp": prov.timestamp,
        "Software": prov.software,
        "Created": "True" if prov.created else "False",
        "Replaced": json.dumps(prov.replaced, separators=(",", ":")),
    }
    for local, value in values.items():
        if value is not None:
            desc.set(_q(local), value)


def _local_names(desc: ET.Element) -> set[str]:
    names = {a[len(_NS) + 2 :] for a in desc.attrib if a.startswith(f"{{{_NS}}}")}
    names |= {c.tag[len(_NS) + 2 :] for c in desc if isinstance(c.tag, str) and c.tag.startswith(f"{{{_NS}}}")}
    return names


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a value a record holds")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is not a finite number")
    return value


def _strict_json(text: str) -> Any:
    """JSON as autoretouch writes it: no NaN / Infinity, no number that overflows a float."""
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite)


def find_provenance(doc: XmpDocument) -> tuple[ET.Element, Provenance] | None:
    """The description holding autoretouch's record and the record; ``None`` when there is none.

    Raises:
        SidecarError: a record is present but damaged (the message names the sidecar).
    """
    where = doc.path or "<sidecar>"
    for desc in doc.descriptions():
        host = get_simple(desc, _q("Host"))
        if host is None:
            continue
        try:
            recipe_text = get_simple(desc, _q("Recipe"))
            replaced = _strict_json(get_simple(desc, _q("Replaced")) or "")
            if recipe_text is None or not isinstance(replaced, dict):
                raise ValueError("missing Recipe or Replaced")
            recipe = Recipe.from_json(recipe_text, source="autoretouch:Recipe")
            prov = Provenance(
                host=host,
                recipe=recipe,
                replaced=replaced,
                created=(get_simple(desc, _q("Created")) or "").strip().lower() == "true",
                catalog_version=int(get_simple(desc, _q("CatalogVersion")) or CATALOG_VERSION),
                timestamp=get_simple(desc, _q("Timestamp")) or "",
                software=get_simple(desc, _q("Software")) or "",
            )
        except (ValueError, SidecarError) as exc:  # InvalidRecipeError is a ValueError
            raise SidecarError(where, f"the autoretouch record in this sidecar is damaged ({exc})") from None
        except RecursionError:
            raise SidecarError(where, "the autoretouch record in this sidecar is damaged (nested too deeply)") from None
        return desc, prov
    return None


def remove_provenance(doc: XmpDocument) -> None:
    """Remove every autoretouch property from every description."""
    for desc in doc.descriptions():
        for local in _local_names(desc):
            take_property(desc, _q(local))
