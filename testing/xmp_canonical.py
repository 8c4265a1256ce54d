"""A whitespace-insensitive form of an XMP packet, for tests that compare sidecars by their structure."""

from __future__ import annotations

from backend.sidecar.xmp import parse_sidecar

__all__ = ["canonical"]


def canonical(data: bytes) -> list[object]:
    """The structure of an XMP packet: tags, sorted attributes, non-blank text and children in order.

    Comments and processing instructions count too (as ``["#other", text]``), so a lost comment is a difference;
    only whitespace between elements is not.

    Args:
        data: the packet's bytes (parsed with :func:`backend.sidecar.xmp.parse_sidecar`).

    Returns:
        Nested lists ``[tag, [(attribute, value), ...], text, [children...]]``, comparable with ``==``.
    """
    root = parse_sidecar(data, "canonical.xmp").root

    def walk(e: object) -> list[object]:
        tag = getattr(e, "tag", None)
        if not isinstance(tag, str):
            return ["#other", (getattr(e, "text", "") or "").strip()]
        return [tag, sorted(e.attrib.items()), (e.text or "").strip(), [walk(c) for c in e]]  # type: ignore[attr-defined]

    return walk(root)
