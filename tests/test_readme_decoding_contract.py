"""The README's "Decoding contract" says what the decoder does with a TIFF that has no usable profile.

Integer samples are read as sRGB (its tone curve), float samples as linear sRGB (``backend/decode/raster.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend.decode import decode_image
from testing.fixtures import make_tiff

README = Path(__file__).resolve().parents[1] / "README.md"


def _decoding_contract() -> str:
    """The section's text, its line breaks as spaces."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Decoding contract", 1)[1].split("\n## ", 1)[0]
    return re.sub(r"\s+", " ", section)


@pytest.mark.parametrize(("bit_depth", "note"), [(16, "sRGB (assumed"), (32, "linear sRGB (assumed")])
def test_an_untagged_tiff_is_read_as_the_readme_says(tmp_path: Path, bit_depth: int, note: str) -> None:
    decoded = decode_image(make_tiff(tmp_path, bit_depth=bit_depth, icc=None))
    assert decoded.colour_note.startswith(note)
    contract = _decoding_contract()
    assert "integer (8/16-bit) samples are read as sRGB (its tone curve)" in contract
    assert "float (16/32/64-bit) samples as linear sRGB" in contract
