"""Safe XMP parsing and namespace-preserving serialisation (backend.sidecar.xmp)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.errors import SidecarError
from backend.sidecar import xmp
from backend.sidecar.xmp import NS, get_simple, parse_sidecar, read_sidecar, serialize, take_property
from testing.xmp_canonical import canonical

FOREIGN = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">
 <rdf:RDF xmlns:rdf="{NS["rdf"]}">
  <!-- keep me -->
  <rdf:Description rdf:about=""
    xmlns:xmp="{NS["xmp"]}" xmlns:dc="{NS["dc"]}" xmlns:lr="{NS["lr"]}"
    xmlns:acme="http://acme.example/ns/1.0/" xmlns:crs="{NS["crs"]}"
   xmp:Rating="4" xmp:Label="Red" acme:Flag="a&amp;b &quot;q&quot;" crs:Exposure2012="+0.30">
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Fjörd &lt;1&gt;</rdf:li></rdf:Alt></dc:title>
   <dc:subject><rdf:Bag><rdf:li>fjord</rdf:li><rdf:li>norway</rdf:li></rdf:Bag></dc:subject>
   <lr:hierarchicalSubject><rdf:Bag><rdf:li>Places|Norway</rdf:li></rdf:Bag></lr:hierarchicalSubject>
   <acme:Nested><rdf:Description acme:Inner="1"/></acme:Nested>
   <crs:Contrast2012>-20</crs:Contrast2012>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
""".encode()


def test_round_trip_keeps_every_node_and_the_prefixes() -> None:
    doc = parse_sidecar(FOREIGN, "a.xmp")
    out = serialize(doc)
    assert canonical(out) == canonical(FOREIGN)
    text = out.decode()
    for prefix in ("xmp", "dc", "lr", "acme", "crs", "rdf", "x"):
        assert f"xmlns:{prefix}=" in text
    assert "ns0" not in text and "ns1" not in text
    assert text.startswith("<?xpacket begin=") and text.rstrip().endswith('<?xpacket end="w"?>')
    assert "<!-- keep me -->" in text
    assert 'acme:Flag="a&amp;b &quot;q&quot;"' in text


def test_unknown_namespace_without_source_prefix_gets_a_generated_one() -> None:
    doc = parse_sidecar(FOREIGN, "a.xmp")
    desc = doc.descriptions()[0]
    desc.set("{http://other.example/}Thing", "1")
    text = serialize(doc).decode()
    assert 'xmlns:ns="http://other.example/"' in text and 'ns:Thing="1"' in text
    assert canonical(text.encode())  # still parses


def test_attribute_and_element_forms_read_alike() -> None:
    desc = parse_sidecar(FOREIGN, "a.xmp").descriptions()[0]
    assert get_simple(desc, f"{{{NS['crs']}}}Exposure2012") == "+0.30"
    assert get_simple(desc, f"{{{NS['crs']}}}Contrast2012") == "-20"
    assert get_simple(desc, f"{{{NS['crs']}}}Missing") is None


def test_take_property_removes_either_form_and_remembers_it() -> None:
    desc = parse_sidecar(FOREIGN, "a.xmp").descriptions()[0]
    prev = take_property(desc, f"{{{NS['crs']}}}Contrast2012")
    assert prev is not None and prev.element is not None and prev.element.text == "-20"
    assert get_simple(desc, f"{{{NS['crs']}}}Contrast2012") is None
    prev = take_property(desc, f"{{{NS['crs']}}}Exposure2012")
    assert prev is not None and prev.attribute == "+0.30"
    assert take_property(desc, f"{{{NS['crs']}}}Exposure2012") is None


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="&lol9;"/>
</rdf:RDF></x:xmpmeta>"""


def external_entity(target: Path) -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE x:xmpmeta [<!ENTITY ext SYSTEM "file://{target}">]>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:format>&ext;</dc:format>
</rdf:Description></rdf:RDF></x:xmpmeta>""".encode()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"this is not xml at all", "not well-formed"),
        (b"", "not well-formed"),
        (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF", "not well-formed"),
        (BILLION_LAUGHS, "unsafe"),
        (b"<foo/>", "not an XMP packet"),
        (b"<xmpmeta xmlns='adobe:ns:meta/'/>", "not an XMP packet"),  # no rdf:RDF
        (b"<x:xmpmeta xmlns:x='http://wrong.example/'><rdf:RDF xmlns:rdf='urn:x'/></x:xmpmeta>", "not an XMP"),
        (b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'/>", "not an XMP packet"),
    ],
    ids=["not-xml", "empty", "truncated", "billion-laughs", "wrong-root", "no-rdf", "wrong-ns", "bare-rdf"],
)
def test_malformed_sidecars_raise_a_clear_error(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "IMG_1.xmp"
    path.write_bytes(content)
    with pytest.raises(SidecarError) as info:
        read_sidecar(path)
    assert str(path) in str(info.value) and needle in str(info.value)
    assert info.value.path == path
    assert path.read_bytes() == content


def test_external_entity_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    path = tmp_path / "IMG_1.xmp"
    path.write_bytes(external_entity(secret))
    with pytest.raises(SidecarError) as info:
        read_sidecar(path)
    assert "TOP-SECRET-CONTENT" not in str(info.value)
    assert "unsafe" in str(info.value)


def test_entity_declaration_without_doctype_use_is_refused_too() -> None:
    data = b'<!DOCTYPE x [<!ENTITY a "b">]><x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    with pytest.raises(SidecarError, match="unsafe"):
        parse_sidecar(data, "e.xmp")


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.xmp"
    pad = b" " * (xmp.MAX_SIDECAR_BYTES + 10)
    path.write_bytes(
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='"
        + NS["rdf"].encode()
        + b"'/>"
        + pad
        + b"</x:xmpmeta>"
    )
    with pytest.raises(SidecarError, match=r"over the \d+-byte limit"):
        read_sidecar(path)
    with pytest.raises(SidecarError, match="limit"):
        parse_sidecar(path.read_bytes(), path)


def test_directory_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SidecarError, match="directory"):
        read_sidecar(tmp_path)
    with pytest.raises(FileNotFoundError):
        read_sidecar(tmp_path / "nope.xmp")


def test_new_document_shapes() -> None:
    doc = xmp.new_document(packet_wrapper=False)
    desc = doc.description_for(NS["darktable"])
    desc.set(f"{{{NS['darktable']}}}xmp_version", "5")
    text = serialize(doc).decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert 'xmlns:darktable="http://darktable.sf.net/"' in text
    assert doc.description_for(NS["xmp"]) is desc  # one description is reused
