"""Helpers shared by the catalog batch tests (generated photos, random styles, sidecar checks); no tests here."""

from __future__ import annotations

import functools
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import torch

from backend.agent.style import Style, load_style
from backend.agent.suggest import suggest_for_photo
from backend.batch.worker import PhotoResult, PhotoTask, run_task
from backend.recipe import Recipe
from backend.sidecar.darktable_doc import history_fingerprint
from backend.sidecar.provenance import find_provenance
from backend.sidecar.xmp import NS, read_sidecar
from testing.dt_sidecar import user_history
from testing.styles import save_random_style

RDF, DT = NS["rdf"], NS["darktable"]
JOURNAL = ".autoretouch-journal.jsonl"

#: A darktable sidecar written by someone else: rating, label, keywords, a foreign namespace, two history
#: entries of the user's own. ``{end}`` is the history end.
FOREIGN_DT = f"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="{RDF}">
  <rdf:Description rdf:about=""
    xmlns:xmp="{NS["xmp"]}" xmlns:dc="{NS["dc"]}" xmlns:darktable="{DT}"
    xmlns:acme="http://acme.example/ns/1.0/"
   xmp:Rating="4" xmp:Label="Blue" acme:Flag="keep-me"
   darktable:xmp_version="5" darktable:raw_params="0" darktable:auto_presets_applied="1"
   darktable:history_end="2" darktable:iop_order_version="3">
   <dc:subject><rdf:Bag><rdf:li>fjord</rdf:li><rdf:li>winter</rdf:li></rdf:Bag></dc:subject>
   <acme:Note>foreign &amp; precious</acme:Note>
   <darktable:masks_history><rdf:Seq/></darktable:masks_history>
{user_history("flip", "vignette")}  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def make_style(directory: Path, name: str = "batchy", seed: int = 7) -> Path:
    """A randomly initialised (seeded) style saved in ``directory``; returns its weights path."""
    return save_random_style(directory, name, seed, training={"seed": seed})


def make_jpeg(path: Path, seed: int, size: tuple[int, int] = (96, 128)) -> Path:
    """A small smooth JPEG whose colours depend on ``seed`` (so recipes differ between photos)."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w]).reshape(2, 1, 1)
    base = rng.uniform(0.05, 0.8, size=3)
    gain = rng.uniform(0.1, 0.6, size=3)
    rgb = base + gain * np.stack((xx, yy, xx * yy), axis=-1) + 0.03 * rng.random((h, w, 3))
    ok, buf = cv2.imencode(".jpg", np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)[..., ::-1])
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def make_photos(folder: Path, count: int, *, prefix: str = "IMG_", start: int = 0) -> list[Path]:
    """``count`` JPEGs ``IMG_0000.jpg`` ... in ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [make_jpeg(folder / f"{prefix}{i:04d}.jpg", seed=i) for i in range(start, start + count)]


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder`` (relative path -> content and mtime), hidden ones included."""
    out: dict[str, tuple[bytes, int]] = {}
    for top, _, files in os.walk(folder):
        for name in files:
            p = Path(top) / name
            out[str(p.relative_to(folder))] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out


@functools.lru_cache(maxsize=8)
def _style(path: Path, mtime_ns: int) -> Style:
    return load_style(path)


def expected_recipe(photo: Path, style_path: Path, strength: float = 1.0) -> Recipe:
    """What the batch must write for ``photo``: the library's deterministic suggestion."""
    style = _style(style_path, style_path.stat().st_mtime_ns)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 64x64 work: more threads only fight over the CPU (20x slower when loaded)
    try:
        (recipe,) = suggest_for_photo(photo, [(style, 1.0)], strength=strength)
    finally:
        torch.set_num_threads(threads)
    return recipe


def check_darktable_sidecar(photo: Path, recipe: Recipe, *, foreign_entries: int = 0) -> ET.Element:
    """Assert ``photo``'s darktable sidecar holds ``recipe`` applied exactly once; returns its description.

    Checks the autoretouch record (host, recipe), that our history entries follow the ``foreign_entries``
    the user had, that ``history_end`` covers them, and that the history is exactly what our record
    fingerprinted (nothing appended twice).
    """
    sidecar = photo.with_name(photo.name + ".xmp")
    doc = read_sidecar(sidecar)
    found = find_provenance(doc)
    assert found is not None, f"{sidecar}: no autoretouch record"
    desc, prov = found
    assert prov.host == "darktable"
    assert prov.recipe == recipe, f"{sidecar}: wrong recipe"
    record = prov.replaced
    items = desc.findall(f"{{{DT}}}history/{{{RDF}}}Seq/{{{RDF}}}li")
    assert record["first_num"] == foreign_entries
    assert record["added"] >= 1
    assert len(items) == foreign_entries + record["added"]
    assert [int(li.get(f"{{{DT}}}num", "-1")) for li in items] == list(range(len(items)))
    assert desc.get(f"{{{DT}}}history_end") == str(len(items))
    assert record["fingerprint"] == history_fingerprint(desc)
    return desc


def crashing_task(task: PhotoTask) -> PhotoResult:
    """Pool task for the crash test: a photo whose name contains ``crash`` kills its worker process."""
    if "crash" in Path(task.photo).name:
        os._exit(3)
    return run_task(task)
