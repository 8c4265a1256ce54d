"""XMP packets: safe parsing, namespace-preserving serialisation and small property helpers.

Parsing never expands entities: DTDs, entity declarations and external references are refused
(``defusedxml``), the input is limited to :data:`MAX_SIDECAR_BYTES`, and the root must be an
``x:xmpmeta`` element holding an ``rdf:RDF``. Anything else raises :class:`~backend.errors.SidecarError`
naming the file.

The document is an :mod:`xml.etree.ElementTree` tree. Every node is kept as parsed (comments and
processing instructions inside the packet included); :func:`serialize` writes it back with the
source's own namespace prefixes, falling back to the usual XMP prefixes (:data:`KNOWN_PREFIXES`)
for namespaces the source did not declare. Namespace declarations go where XMP writers put them:
``x`` on ``x:xmpmeta``, ``rdf`` on ``rdf:RDF``, and every namespace of a description's subtree on
that ``rdf:Description``.

Property helpers work on one ``rdf:Description`` and understand both RDF forms of a simple property:
the attribute form (``crs:Exposure2012="+0.50"``, as Lightroom writes) and the element form
(``<crs:Exposure2012>+0.50</crs:Exposure2012>``, as exiftool writes).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from backend.errors import SidecarError
from backend.sidecar.atomic import read_regular, read_replaceable

__all__ = [
    "KNOWN_PREFIXES",
    "MAX_SIDECAR_BYTES",
    "NS",
    "RDF_DESCRIPTION",
    "RDF_RDF",
    "XMPMETA",
    "PreviousValue",
    "XmpDocument",
    "element_from_string",
    "element_to_string",
    "get_simple",
    "insert_child",
    "new_document",
    "parse_sidecar",
    "qname",
    "read_sidecar",
    "read_sidecar_readonly",
    "remove_child",
    "restore_property",
    "serialize",
    "take_property",
]

#: Largest sidecar we read, in bytes (16 MiB). Real sidecars are a few kB; a darktable history with
#: hundreds of entries stays well below 1 MB.
MAX_SIDECAR_BYTES = 16 * 1024 * 1024
#: Deepest element nesting accepted in a sidecar (real XMP nests about 10 deep; deeper input would exhaust the
#: recursion of the tree walks that merge and write it).
MAX_SIDECAR_DEPTH = 200

#: Namespace URIs by their usual prefix.
NS: dict[str, str] = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "stRef": "http://ns.adobe.com/xap/1.0/sType/ResourceRef#",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "crs": "http://ns.adobe.com/camera-raw-settings/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "aux": "http://ns.adobe.com/exif/1.0/aux/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "exifEX": "http://cipa.jp/exif/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "darktable": "http://darktable.sf.net/",
    "digiKam": "http://www.digikam.org/ns/1.0/",
    # autoretouch's own provenance namespace. The ``.invalid`` top-level domain is reserved (RFC 2606),
    # so this URI never resolves and never collides; it is fixed for good and must not change.
    "autoretouch": "https://autoretouch.invalid/ns/1.0/",
}

#: Preferred prefix of every known namespace URI.
KNOWN_PREFIXES: dict[str, str] = {uri: prefix for prefix, uri in NS.items()}

_XML_NS = "http://www.w3.org/XML/1998/namespace"
_XPACKET_HEADER = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_XPACKET_FOOTER = '\n<?xpacket end="w"?>\n'
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def qname(prefix: str, local: str) -> str:
    """ElementTree's ``{uri}local`` name of a property, from one of the known prefixes (:data:`NS`)."""
    return f"{{{NS[prefix]}}}{local}"


def _split(tag: str) -> tuple[str, str]:
    """``{uri}local`` -> ``(uri, local)``; an unqualified name has uri ``""``."""
    if tag.startswith("{"):
        uri, _, local = tag[1:].partition("}")
        return uri, local
    return "", tag


RDF_DESCRIPTION = qname("rdf", "Description")
RDF_RDF = qname("rdf", "RDF")
XMPMETA = qname("x", "xmpmeta")


@dataclass
class XmpDocument:
    """A parsed (or new) XMP packet.

    Attributes:
        root: the ``x:xmpmeta`` element.
        prefixes: namespace URI -> prefix as declared in the source (first declaration wins).
        packet_wrapper: whether the packet is written inside ``<?xpacket?>`` markers (Adobe style);
            ``False`` writes an XML declaration instead (darktable style).
        path: the file it was read from, if any (used in error messages).
    """

    root: ET.Element
    prefixes: dict[str, str] = field(default_factory=dict)
    packet_wrapper: bool = True
    path: Path | None = None

    @property
    def rdf(self) -> ET.Element:
        """The ``rdf:RDF`` element."""
        rdf = self.root.find(RDF_RDF)
        assert rdf is not None  # guaranteed by parse_sidecar / new_document
        return rdf

    def descriptions(self) -> list[ET.Element]:
        """Every top-level ``rdf:Description``, in document order."""
        return self.rdf.findall(RDF_DESCRIPTION)

    def description_for(self, namespace: str) -> ET.Element:
        """The description to write ``namespace``'s properties into.

        Returns the first description that already uses ``namespace`` (attribute or child), else the
        first description; a new empty ``rdf:Description rdf:about=""`` is appended when there is none.
        """
        descriptions = self.descriptions()
        for desc in descriptions:
            if any(_split(a)[0] == namespace for a in desc.attrib) or any(
                isinstance(c.tag, str) and _split(c.tag)[0] == namespace for c in desc
            ):
                return desc
        if descriptions:
            return descriptions[0]
        desc = ET.Element(RDF_DESCRIPTION, {qname("rdf", "about"): ""})
        insert_child(self.rdf, desc, level=1)
        return desc

    def namespaces_used(self) -> set[str]:
        """Every namespace URI used by an element or attribute name."""
        return _subtree_namespaces(self.root)


def new_document(*, packet_wrapper: bool = True, toolkit: str | None = None) -> XmpDocument:
    """An empty packet: ``x:xmpmeta`` / ``rdf:RDF`` with no description yet.

    Args:
        packet_wrapper: write ``<?xpacket?>`` markers (Lightroom) or an XML declaration (darktable).
        toolkit: value of ``x:xmptk``, if any.
    """
    root = ET.Element(XMPMETA)
    if toolkit is not None:
        root.set(qname("x", "xmptk"), toolkit)
    rdf = ET.SubElement(root, RDF_RDF)
    root.text, rdf.tail, rdf.text = "\n ", "\n", "\n "
    return XmpDocument(root=root, prefixes={}, packet_wrapper=packet_wrapper)


# -- parsing ------------------------------------------------------------------------------------------


class _TooDeepError(Exception):
    """Raised by :class:`_Builder` when elements nest deeper than :data:`MAX_SIDECAR_DEPTH`."""


class _Builder:
    """Tree-builder target that keeps comments and PIs, records the source's namespace prefixes and bounds depth."""

    def __init__(self) -> None:
        self._tb = ET.TreeBuilder(insert_comments=True, insert_pis=True)
        self.prefixes: dict[str, str] = {}
        self._depth = 0

    def start_ns(self, prefix: str, uri: str) -> None:
        if prefix and uri not in self.prefixes:
            self.prefixes[uri] = prefix

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        self._depth += 1
        if self._depth > MAX_SIDECAR_DEPTH:
            raise _TooDeepError
        return self._tb.start(tag, attrs)

    def end(self, tag: str) -> ET.Element:
        self._depth -= 1
        return self._tb.end(tag)

    def data(self, data: str) -> None:
        self._tb.data(data)

    def comment(self, text: str) -> ET.Element:
        return self._tb.comment(text)

    def pi(self, target: str, text: str | None = None) -> ET.Element:
        return self._tb.pi(target, text)

    def close(self) -> ET.Element:
        return self._tb.close()


def parse_sidecar(data: bytes, path: str | Path) -> XmpDocument:
    """Parse sidecar bytes safely.

    Args:
        data: the file's content.
        path: the file name, for error messages.

    Raises:
        SidecarError: larger than :data:`MAX_SIDECAR_BYTES`, nested deeper than :data:`MAX_SIDECAR_DEPTH`, not
            well-formed XML, declares an unknown encoding, contains a DTD, an entity declaration or an external
            reference, or is not an ``x:xmpmeta``/``rdf:RDF`` packet.
    """
    if len(data) > MAX_SIDECAR_BYTES:
        raise SidecarError(path, f"sidecar is {len(data)} bytes, over the {MAX_SIDECAR_BYTES}-byte limit")
    builder = _Builder()
    parser = SafeET.XMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException as exc:
        raise SidecarError(
            path, f"refused unsafe XML ({type(exc).__name__}: DTDs and entities are not allowed)"
        ) from None
    except ET.ParseError as exc:
        raise SidecarError(path, f"not well-formed XML ({exc})") from None
    except LookupError as exc:  # the XML declaration names an encoding Python does not know
        raise SidecarError(path, f"not readable XML ({exc})") from None
    except _TooDeepError:
        raise SidecarError(
            path, f"elements nest deeper than {MAX_SIDECAR_DEPTH} levels; not a sidecar we can edit"
        ) from None
    if root.tag != XMPMETA:
        raise SidecarError(path, f"not an XMP packet: root element is {root.tag!r}, expected x:xmpmeta ({NS['x']})")
    if root.find(RDF_RDF) is None:
        raise SidecarError(path, "not an XMP packet: x:xmpmeta holds no rdf:RDF element")
    wrapper = data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<?xpacket")
    return XmpDocument(root=root, prefixes=builder.prefixes, packet_wrapper=wrapper, path=Path(path))


def read_sidecar(path: str | Path) -> XmpDocument:
    """Read and parse a sidecar file (see :func:`parse_sidecar`), for a change autoretouch may make to it.

    Only a regular file with one link is read (:func:`backend.sidecar.atomic.read_replaceable`): a symbolic
    link (it may be another photo's sidecar), a hard-linked file, a folder, and a named pipe, device or socket
    (never opened: a pipe would wait for a writer) are refused. To only look at a sidecar, use
    :func:`read_sidecar_readonly`.

    Raises:
        SidecarError: not a file autoretouch may replace, unreadable, too large, unsafe or malformed (the
            message names the file).
        FileNotFoundError: the file does not exist.
    """
    p = Path(path)
    data = read_replaceable(p, MAX_SIDECAR_BYTES)
    return parse_sidecar(data, p)


def read_sidecar_readonly(path: str | Path) -> XmpDocument:
    """Read and parse a sidecar only to look at it (``train --darktable``): nothing is written to it.

    A symbolic link is followed and a hard-linked file read (:func:`backend.sidecar.atomic.read_regular`); only
    what is no regular file (a folder, named pipe, device or socket) is refused, and a pipe is never waited on.
    Use :func:`read_sidecar` where autoretouch changes the file.

    Raises:
        SidecarError: not a regular file, unreadable, too large, unsafe or malformed (the message names the file).
        FileNotFoundError: the file does not exist.
    """
    p = Path(path)
    return parse_sidecar(read_regular(p, MAX_SIDECAR_BYTES), p)


def element_from_string(text: str) -> ET.Element:
    """Parse an XML fragment written by :func:`element_to_string` (same safety rules as sidecars).

    Raises:
        ValueError: the text is not one well-formed, safe element (also for forbidden DTDs and entities).
    """
    parser = SafeET.XMLParser(
        target=ET.TreeBuilder(insert_comments=True, insert_pis=True),
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )
    try:
        parser.feed(text)
        return parser.close()
    except ET.ParseError as exc:
        raise ValueError(f"not a well-formed XML element ({exc})") from None


# -- serialising --------------------------------------------------------------------------------------


def _subtree_namespaces(elem: ET.Element) -> set[str]:
    out: set[str] = set()
    for e in elem.iter():
        if not isinstance(e.tag, str):
            continue
        out.add(_split(e.tag)[0])
        out.update(_split(a)[0] for a in e.attrib)
    out.discard("")
    out.discard(_XML_NS)
    return out


def _assign_prefixes(uris: set[str], source: dict[str, str]) -> dict[str, str]:
    """Namespace URI -> unique prefix: the source's prefix, else the known one, else ``nsN``."""
    out: dict[str, str] = {}
    taken: set[str] = {"xml", "xmlns"}
    ordered = sorted(uris, key=lambda u: (u not in source, u not in KNOWN_PREFIXES, u))
    for uri in ordered:
        base = source.get(uri) or KNOWN_PREFIXES.get(uri) or "ns"
        prefix, n = base, 1
        while prefix in taken or (prefix.lower().startswith("xml")):
            prefix, n = f"{base}{n}", n + 1
        out[uri] = prefix
        taken.add(prefix)
    return out


def _escape_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _escape_attr(s: str) -> str:
    return _escape_text(s).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;").replace("\r", "&#13;")


class _Writer:
    def __init__(self, prefixes: dict[str, str]) -> None:
        self.prefixes = prefixes
        self.out: list[str] = []

    def name(self, tag: str) -> str:
        uri, local = _split(tag)
        if not uri:
            return local
        if uri == _XML_NS:
            return f"xml:{local}"
        return f"{self.prefixes[uri]}:{local}"

    def write(self, elem: ET.Element, scope: frozenset[str], *, declare_subtree: bool, level: int = 0) -> None:
        if elem.tag is ET.Comment:
            self.out.append(f"<!--{elem.text or ''}-->")
        elif elem.tag is ET.ProcessingInstruction:
            self.out.append(f"<?{elem.text or ''}?>")
        else:
            assert isinstance(elem.tag, str)
            here = _subtree_namespaces(elem) if declare_subtree else set()
            here.add(_split(elem.tag)[0])
            here.update(_split(a)[0] for a in elem.attrib)
            here -= {"", _XML_NS}
            new = sorted(here - scope, key=lambda u: self.prefixes[u])
            scope = scope | frozenset(new)
            parts = [self.name(elem.tag)]
            parts += [f'xmlns:{self.prefixes[u]}="{_escape_attr(u)}"' for u in new]
            parts += [f'{self.name(k)}="{_escape_attr(v)}"' for k, v in elem.attrib.items()]
            sep = "\n" + " " * (level + 1) if len(parts) > 3 else " "
            head = sep.join(parts)
            if elem.text is None and len(elem) == 0:
                self.out.append(f"<{head}/>")
            else:
                self.out.append(f"<{head}>")
                if elem.text:
                    self.out.append(_escape_text(elem.text))
                children_declare = elem.tag == RDF_RDF
                for child in elem:
                    self.write(child, scope, declare_subtree=children_declare, level=level + 1)
                self.out.append(f"</{self.name(elem.tag)}>")
        if elem.tail:
            self.out.append(_escape_text(elem.tail))


def element_to_string(elem: ET.Element, prefixes: dict[str, str] | None = None) -> str:
    """Serialise one element (without its tail) as a standalone XML fragment declaring its namespaces."""
    tail, elem.tail = elem.tail, None
    try:
        w = _Writer(_assign_prefixes(_subtree_namespaces(elem), prefixes or {}))
        w.write(elem, frozenset(), declare_subtree=True)
    finally:
        elem.tail = tail
    return "".join(w.out)


def serialize(doc: XmpDocument) -> bytes:
    """The packet as UTF-8 bytes, ready to write (see the module docstring for prefixes and layout)."""
    w = _Writer(_assign_prefixes(doc.namespaces_used(), doc.prefixes))
    tail, doc.root.tail = doc.root.tail, None
    try:
        w.write(doc.root, frozenset(), declare_subtree=False)
    finally:
        doc.root.tail = tail
    body = "".join(w.out)
    text = _XPACKET_HEADER + body + _XPACKET_FOOTER if doc.packet_wrapper else _XML_DECLARATION + body + "\n"
    return text.encode("utf-8")


# -- whitespace-aware tree edits ------------------------------------------------------------------------


def _is_blank(s: str | None) -> bool:
    return s is None or not s.strip()


def insert_child(parent: ET.Element, child: ET.Element, index: int | None = None, *, level: int = 2) -> None:
    """Insert ``child`` into ``parent`` at ``index`` (default: the end), keeping the indentation.

    Args:
        parent: the element to insert into.
        child: the new element; its subtree should already be indented for its depth.
        index: position among ``parent``'s children; ``None`` appends.
        level: nesting depth of ``parent`` (x:xmpmeta is 0), used when ``parent`` has no children yet.
    """
    n = len(parent)
    index = n if index is None else max(0, min(index, n))
    if n == 0:
        if _is_blank(parent.text):
            parent.text = "\n" + " " * (level + 1)
            child.tail = "\n" + " " * level
        else:
            child.tail = None
        parent.insert(0, child)
        return
    if index == n:
        child.tail = parent[n - 1].tail
        parent[n - 1].tail = parent.text if n == 1 else parent[n - 2].tail
    else:
        child.tail = parent.text if index == 0 else parent[index - 1].tail
    parent.insert(index, child)


def remove_child(parent: ET.Element, child: ET.Element) -> int:
    """Remove ``child`` from ``parent``, keeping the closing indentation; returns its former index."""
    index = list(parent).index(child)
    if index == len(parent) - 1 and index > 0:
        parent[index - 1].tail = child.tail
    parent.remove(child)
    if len(parent) == 0 and _is_blank(parent.text):
        parent.text = None
    return index


# -- simple properties --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviousValue:
    """A property as it was before autoretouch replaced it.

    Attributes:
        attribute: its value when it was in attribute form, else ``None``.
        element: the removed property element (element form), else ``None``.
        index: the element's position among the description's children (element form).
    """

    attribute: str | None = None
    element: ET.Element | None = None
    index: int = 0

    def to_json(self, prefixes: dict[str, str] | None = None) -> dict[str, object]:
        """JSON-ready form, used in the provenance record."""
        if self.element is not None:
            return {"element": element_to_string(self.element, prefixes), "index": self.index}
        return {"attribute": self.attribute}

    @classmethod
    def from_json(cls, data: object) -> PreviousValue:
        """Inverse of :meth:`to_json`.

        Raises:
            ValueError: the data is not a recorded previous value.
        """
        if not isinstance(data, dict):
            raise ValueError(f"not a recorded previous value: {data!r}")
        if "element" in data:
            return cls(element=element_from_string(str(data["element"])), index=int(data.get("index", 0)))
        if "attribute" in data and isinstance(data["attribute"], str):
            return cls(attribute=data["attribute"])
        raise ValueError(f"not a recorded previous value: {data!r}")


def _property_elements(desc: ET.Element, name: str) -> Iterator[ET.Element]:
    return (c for c in list(desc) if c.tag == name)


def get_simple(desc: ET.Element, name: str) -> str | None:
    """The text of a simple property in attribute or element form; ``None`` when absent."""
    if name in desc.attrib:
        return desc.attrib[name]
    for child in _property_elements(desc, name):
        if len(child) == 0:
            return child.text or ""
    return None


def take_property(desc: ET.Element, name: str) -> PreviousValue | None:
    """Remove a property (attribute and any element forms) from ``desc`` and return what it was.

    When both forms are present (invalid RDF, but seen in the wild) all are removed and the attribute
    form is recorded.
    """
    prev: PreviousValue | None = None
    elements = list(_property_elements(desc, name))
    for elem in elements:
        index = remove_child(desc, elem)
        if prev is None:
            elem.tail = None
            prev = PreviousValue(element=elem, index=index)
    if name in desc.attrib:
        prev = PreviousValue(attribute=desc.attrib.pop(name))
    return prev


def restore_property(desc: ET.Element, name: str, prev: PreviousValue | None) -> None:
    """Put a property back as it was: absent, attribute form, or element form at its former position."""
    take_property(desc, name)
    if prev is None:
        return
    if prev.element is not None:
        insert_child(desc, prev.element, prev.index, level=2)
    elif prev.attribute is not None:
        desc.set(name, prev.attribute)
