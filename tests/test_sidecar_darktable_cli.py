"""darktable-cli 4.2 loads a sidecar that apply_to_photo merged into a foreign packet, and renders our edit.

Needs darktable-cli: skipped when it is missing, a failure under CI=true.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from backend.recipe import Recipe
from backend.sidecar.apply import PhotoInfo, apply_to_photo
from backend.sidecar.xmp import read_sidecar
from testing.darktable_cli import DarktableCli, darktable_cli_path
from testing.needs import missing

pytestmark = pytest.mark.host

if darktable_cli_path() is None:
    missing("darktable-cli is not installed (apt-get install darktable)", module_level=True)

FOREIGN = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:acme="http://acme.example/ns/1.0/" xmp:Rating="4" acme:Flag="1">
   <dc:subject><rdf:Bag><rdf:li>grey</rdf:li></rdf:Bag></dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


def test_darktable_renders_the_merged_sidecar(tmp_path: Path) -> None:
    photo = tmp_path / "grey.png"
    assert cv2.imwrite(str(photo), np.full((48, 64, 3), 100, np.uint8))
    sidecar = photo.with_name(photo.name + ".xmp")
    sidecar.write_text(FOREIGN, encoding="utf-8")
    recipe = Recipe.from_dict({"version": 1, "steps": [{"slider": "exposure", "value": 1.0}]})
    (outcome,) = apply_to_photo(photo, recipe, host="darktable", info=PhotoInfo(is_raw=False, long_side_px=64))
    assert outcome.action == "written"
    assert read_sidecar(sidecar).packet_wrapper  # still the user's Adobe-style packet

    dt = DarktableCli(tmp_path / "dt", timeout=240)
    result = dt.render_batch({"ours": (photo, sidecar.read_text(encoding="utf-8")), "plain": (photo, None)})
    assert result.problems == []
    ours, plain = result.images["ours"], result.images["plain"]
    ratio = float(np.median(ours) / np.median(plain))
    assert ratio == pytest.approx(2.0, rel=0.02)  # +1 EV in linear light: darktable applied our entry
