"""Seeded mutation fuzzing of everything autoretouch reads from users.

Five targets, each fed mutated copies of valid seed inputs (generated here, nothing from ``../shared``):

* ``image``: photo files (baseline and progressive JPEG, a camera JPEG with EXIF thumbnail, PNG 8/16-bit,
  TIFF, DNG) through :func:`backend.decode.decode_preview` and :func:`backend.decode.decode_image`;
* ``sidecar``: existing sidecars (the user's Lightroom settings, foreign metadata, a darktable history,
  sidecars autoretouch wrote) through :func:`backend.sidecar.apply.apply_to_photo` and
  :func:`backend.sidecar.revert.revert_photo`;
* ``settings``: Lightroom develop-settings text (the Lua tables of a catalog) through
  :func:`trainer.lrcat.luatext.parse_settings` and the PV2012 mapping (:func:`trainer.lrcat.pv2003.map_settings`);
* ``recipe``: recipe JSON through :meth:`backend.recipe.Recipe.from_dict`, the renderer and both translators;
* ``bridge``: HTTP requests to a running daemon's JSON bridge (:func:`fuzz_bridge`, given its port).

What counts as a failure (:class:`Tally`):

* **untyped**: any exception that is not an :class:`~backend.errors.AutoretouchError` (a ``KeyError``,
  ``RecursionError``, ``MemoryError``...), a decoded image that is not ``(1, 3, h, w)`` and finite, or a
  bridge answer that is HTTP 500 (an internal error) or not JSON (typed errors keep their mapped status,
  e.g. 501 for an unsupported ``protocol_version``, 429 when busy);
* **changed**: a sidecar whose bytes changed although apply or revert did not report writing it (a typed
  error, ``skipped``, ``failed``);
* **dead**: the daemon stopped answering ``GET /healthz``.

Every try is reproducible from ``(seed, target, try number)``: :class:`Mutator` is a seeded
:class:`random.Random`, and a failure records the input that caused it.
"""

from __future__ import annotations

import http.client
import json
import math
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backend.errors import AutoretouchError
from testing.dt_sidecar import user_history

__all__ = [
    "TARGETS",
    "Failure",
    "FuzzWorld",
    "Mutator",
    "Tally",
    "bridge_healthy",
    "bridge_photos",
    "format_tally",
    "fuzz_bridge",
    "make_world",
    "run_fuzz",
]

TARGETS = ("image", "sidecar", "settings", "recipe", "bridge")

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_CRS = "http://ns.adobe.com/camera-raw-settings/1.0/"
_DT = "http://darktable.sf.net/"

#: The user's own Lightroom settings, keywords and a foreign namespace (what apply must never lose).
USER_LR = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">
 <rdf:RDF xmlns:rdf="{_RDF}">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:crs="{_CRS}" xmlns:acme="http://acme.example/ns/1.0/"
    xmp:Rating="4" crs:Exposure2012="+1.50" crs:HasSettings="True" acme:Flag="yes">
   <dc:subject><rdf:Bag><rdf:li>fjord</rdf:li><rdf:li>winter</rdf:li></rdf:Bag></dc:subject>
   <crs:Contrast2012>-33</crs:Contrast2012>
   <crs:ToneCurvePV2012><rdf:Seq><rdf:li>0, 0</rdf:li><rdf:li>128, 140</rdf:li><rdf:li>255, 255</rdf:li></rdf:Seq>
   </crs:ToneCurvePV2012>
   <acme:Note>keep &amp; me</acme:Note>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""

#: A darktable sidecar with the user's own history (flip, exposure, vignette).
USER_DT = f"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="{_RDF}">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:darktable="{_DT}"
   xmp:Rating="3" darktable:xmp_version="5" darktable:raw_params="0" darktable:auto_presets_applied="1"
   darktable:history_end="3" darktable:iop_order_version="2">
   <darktable:masks_history><rdf:Seq/></darktable:masks_history>
{user_history("flip", "exposure", "vignette")}  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

#: Lightroom develop settings as a catalog stores them (PV2012, curves, HSL, white balance).
SETTINGS_TEXT = """s = { AutoGrayscaleMix = true,
  Blacks2012 = -12, Clarity2012 = 10, Contrast2012 = 25, Exposure2012 = 0.65, Highlights2012 = -40,
  ProcessVersion = "11.0", Shadows2012 = 30, Whites2012 = 8, Vibrance = 15, Saturation = -5,
  WhiteBalance = "Custom", Temperature = 5600, Tint = 4, Sharpness = 40, HueAdjustmentRed = 3,
  SaturationAdjustmentBlue = -20, LuminanceAdjustmentOrange = 12,
  ToneCurvePV2012 = { 0, 0, 64, 58, 128, 135, 192, 200, 255, 255, },
  ToneCurvePV2012Red = { 0, 0, 255, 255, }, ToneCurveName2012 = "Custom",
  PostCropVignetteAmount = -12, EnableCalibration = false, Look = { Name = "Adobe Color", Amount = 1, },
  ["Name with spaces"] = "text \\"quoted\\" and \\n newline", Texture = 5, Dehaze = 3,
}
"""

_XML_TOKENS = (
    "<", ">", "&", "&amp;", "&#0;", "&#xD800;", "&#1114112;", "&unknown;", '"', "'", "=", "/>", "</rdf:li>",
    "<rdf:li>", "<rdf:Seq>", "</rdf:Seq>", "<![CDATA[x]]>", "<!-- c -->", "<?pi x?>", "\x00", "\ufeff", "é", "\u202e",
    '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>', '<!ENTITY e SYSTEM "file:///etc/passwd">',
    'xmlns:crs="urn:other"', 'crs:Exposure2012="nan"', 'crs:Exposure2012="1e309"', 'crs:HasSettings="False"',
    'darktable:params="zz"', 'darktable:params="gz99AAAA"', 'darktable:num="-1"', 'darktable:history_end="99999999"',
    'darktable:operation="../../x"', 'darktable:modversion="999"', 'darktable:enabled="maybe"',
    'autoretouch:record="{&quot;x&quot;: 1}"', "<darktable:history><rdf:Seq>", 'rdf:about="x"',
)  # fmt: skip
_LUA_TOKENS = (
    "{", "}", "=", ",", '"', "'", "[[", "]]", "[=[", "--", "--[[", "\\", "nil", "true", "false", "-", "..", "#",
    "os.execute('rm -rf /')", "function() end", "require 'x'", "_G", "1e999", "-1e999", "0x1p4", "0/0", "inf",
    "nan", "\x00", "é", "s = ", "return ", "{ {{{{ }}}} }", "[1] = 2", "[true] = 1", ";", "\n", "\t",
)  # fmt: skip
_NUMBERS = ("0", "-0", "1e309", "-1e309", "NaN", "nan", "inf", "99999999999999999999", "0x10", "1.5e-320", "-1", "")


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


class Mutator:
    """Seeded mutations of bytes, text and JSON-like values.

    Args:
        seed: seed of the :class:`random.Random` every choice comes from.
    """

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.rng.random() < p

    def mutate_bytes(self, data: bytes) -> bytes:
        """1-4 byte-level edits: bit flips, interesting bytes, deletions, duplications, truncation."""
        buf = bytearray(data)
        for _ in range(self.rng.randint(1, 4)):
            if not buf:
                buf += bytes([self.rng.randrange(256)])
                continue
            op = self.rng.randrange(7)
            at = self.rng.randrange(len(buf))
            if op == 0:
                buf[at] ^= 1 << self.rng.randrange(8)
            elif op == 1:
                buf[at] = self.rng.choice((0x00, 0xFF, 0x7F, 0x80, 0xD8, 0xD9, 0xDA, 0xC4, 0x01))
            elif op == 2:
                del buf[at : at + self.rng.randint(1, 64)]
            elif op == 3:
                span = buf[at : at + self.rng.randint(1, 256)]
                buf[at:at] = span * self.rng.randint(1, 4)
            elif op == 4:
                del buf[self.rng.randint(1, len(buf)) :]
            elif op == 5:
                buf[at:at] = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 16)))
            else:  # a 16/32-bit field set to an extreme
                value = self.rng.choice((0, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 1, 0x8000))
                width = self.rng.choice((2, 4))
                buf[at : at + width] = value.to_bytes(4, "big")[-width:]
        return bytes(buf)

    def mutate_text(self, text: str, tokens: tuple[str, ...], *, light: bool = False) -> str:
        """1-3 text edits: insert a dictionary token, delete or repeat a span, change a number, nest deeply.

        ``light``: only edits that often keep the text well-formed (numbers changed; a token that starts with
        a letter inserted after a space), so that the code behind the parser is reached too.
        """
        if light:
            return self._mutate_light(text, tuple(t for t in tokens if t[:1].isalpha()))
        for _ in range(self.rng.randint(1, 3)):
            op = self.rng.randrange(7)
            at = self.rng.randrange(len(text) + 1)
            if op in (0, 1):
                text = text[:at] + self.rng.choice(tokens) + text[at:]
            elif op == 2:
                text = text[:at] + text[at + self.rng.randint(1, 80) :]
            elif op == 3:
                span = text[at : at + self.rng.randint(1, 200)]
                text = text[:at] + span * self.rng.randint(2, 50) + text[at:]
            elif op == 4:
                digits = [i for i, c in enumerate(text) if c.isdigit()]
                if digits:
                    text = self._replace_number(text, digits)
            elif op == 5:
                opener = self.rng.choice(("<a>", "{", "<rdf:li>", "[", "{ x = "))
                text = text[:at] + opener * self.rng.choice((50, 500, 5000)) + text[at:]
            else:
                text = text[:at] + "A" * self.rng.choice((1000, 100_000)) + text[at:]
        return text

    def _mutate_light(self, text: str, tokens: tuple[str, ...]) -> str:
        for _ in range(self.rng.randint(1, 3)):
            digits = [i for i, c in enumerate(text) if c.isdigit()]
            spaces = [i for i, c in enumerate(text) if c == " "]
            if digits and (self.chance(0.6) or not spaces or not tokens):
                text = self._replace_number(text, digits)
            elif spaces and tokens:
                at = self.rng.choice(spaces) + 1
                text = text[:at] + self.rng.choice(tokens) + " " + text[at:]
        return text

    def _replace_number(self, text: str, digits: list[int]) -> str:
        """``text`` with the number starting at one of the ``digits`` positions replaced by an extreme one."""
        i = self.rng.choice(digits)
        j = i
        while j < len(text) and (text[j].isdigit() or text[j] in ".-+e"):
            j += 1
        return text[:i] + self.rng.choice(_NUMBERS) + text[j:]

    def random_value(self) -> Any:
        """A value of a random JSON type, often an extreme one."""
        return self.rng.choice(
            (
                None, True, False, 0, -1, 1, 2**63, -(2**70), 1e308, -1e-308, 0.5, "", "x", "NaN", "Infinity",
                "../../../etc/passwd", "A" * 10_000, [], {}, [1, 2, 3], {"a": 1}, _deep(50), _deep(200),
                list(range(1000)), "\x00", "é\u202e",
            )
        )  # fmt: skip

    def mutate_json(self, value: Any, depth: int = 0) -> Any:
        """A structurally mutated copy of a JSON-like ``value`` (one to three changes somewhere inside)."""
        out = json.loads(json.dumps(value))
        for _ in range(self.rng.randint(1, 3)):
            out = self._mutate_node(out, depth)
        return out

    def _mutate_node(self, node: Any, depth: int) -> Any:
        containers = isinstance(node, dict | list) and node and depth < 8
        if containers and self.chance(0.7):
            if isinstance(node, dict):
                key = self.rng.choice(list(node))
                op = self.rng.randrange(6)
                if op == 0:
                    del node[key]
                elif op == 1:
                    node[self.rng.choice(("x", "", key + "_", "version", "steps", "slider", "value"))] = (
                        self.random_value()
                    )
                else:
                    node[key] = self._mutate_node(node[key], depth + 1)
            else:
                i = self.rng.randrange(len(node))
                op = self.rng.randrange(5)
                if op == 0:
                    del node[i]
                elif op == 1:
                    node.insert(i, self.random_value())
                elif op == 2:
                    node.extend(node * self.rng.randint(1, 3))
                else:
                    node[i] = self._mutate_node(node[i], depth + 1)
            return node
        if isinstance(node, int | float) and not isinstance(node, bool) and self.chance(0.5):
            return self.rng.choice((node * 1000, -node, node + 1e-9, 1e308, -1e308, 0, node / 3))
        return self.random_value()


@dataclass
class Failure:
    """One failing input.

    Attributes:
        target: which target.
        kind: ``"untyped"``, ``"changed"`` or ``"dead"``.
        detail: the exception or the invariant broken.
        sample: a short excerpt of the input (repr, at most 300 characters).
    """

    target: str
    kind: str
    detail: str
    sample: str


@dataclass
class Tally:
    """Counts per target: tries, accepted inputs, typed refusals; and the failures."""

    tries: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)
    typed: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)

    def count(self, target: str, outcome: str) -> None:
        """Count one try of ``target`` whose input was ``"accepted"`` or ``"typed"`` (refused with a typed error)."""
        self.tries[target] = self.tries.get(target, 0) + 1
        bucket = self.accepted if outcome == "accepted" else self.typed
        bucket[target] = bucket.get(target, 0) + 1

    def fail(self, target: str, kind: str, detail: str, sample: Any) -> None:
        """Record a failure (it counts as a try)."""
        self.tries[target] = self.tries.get(target, 0) + 1
        self.failures.append(Failure(target, kind, detail[:500], repr(sample)[:300]))

    def classify(self, target: str, sample: Any, attempt: Callable[[], str | None]) -> None:
        """Run one try of ``target`` and count it: ``attempt`` returns ``None`` (the input was accepted) or the
        invariant its result broke (an untyped failure); a typed :class:`~backend.errors.AutoretouchError` is a
        typed refusal, any other exception an untyped failure (``sample`` is the input recorded with a failure).
        """
        try:
            broken = attempt()
        except AutoretouchError:
            self.count(target, "typed")
            return
        except Exception as exc:
            self.fail(target, "untyped", f"{type(exc).__name__}: {exc}", sample)
            return
        if broken is None:
            self.count(target, "accepted")
        else:
            self.fail(target, "untyped", broken, sample)

    def failures_of(self, target: str, kind: str) -> int:
        """Number of failures of ``kind`` for ``target``."""
        return sum(1 for f in self.failures if f.target == target and f.kind == kind)


@dataclass
class FuzzWorld:
    """Seed inputs and scratch space shared by the targets (see :func:`make_world`)."""

    folder: Path
    images: list[tuple[str, bytes]]
    photo: Path
    lr_seeds: list[str]
    dt_seeds: list[str]
    recipes: list[dict[str, Any]]
    recipe: Any
    info: Any


def _image_seeds(folder: Path) -> list[tuple[str, bytes]]:
    import cv2

    from testing.fixtures import make_camera_jpeg, make_dng, make_jpeg, make_png, make_tiff, pattern_rgb

    seeds = folder / "seeds"
    seeds.mkdir(parents=True, exist_ok=True)
    paths = [
        make_jpeg(seeds, "orient.jpg"),
        make_png(seeds, "eight.png"),
        make_png(seeds, "sixteen.png", bit_depth=16),
        make_tiff(seeds, "pro.tif"),
        make_tiff(seeds, "lzw.tif", bit_depth=8, icc=None, lzw=True),
        make_dng(seeds, "tiny.dng"),
        make_camera_jpeg(seeds, pattern_rgb(64, 96), pattern_rgb(32, 48), name="camera.jpg"),
    ]
    rgb = pattern_rgb(160, 240)[..., ::-1]
    ok, prog = cv2.imencode(".jpg", np.ascontiguousarray(rgb), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok
    (seeds / "progressive.jpg").write_bytes(prog.tobytes())
    paths.append(seeds / "progressive.jpg")
    return [(p.suffix, p.read_bytes()) for p in paths]


def make_world(folder: Path) -> FuzzWorld:
    """Generate the seed inputs under ``folder`` (created): photos, sidecars, recipes.

    Sidecar seeds: :data:`USER_LR`, :data:`USER_DT`, and both hosts' sidecars as ``apply`` writes them on
    top of those (so mutations also hit autoretouch's own records). The photo is a tiny DNG named ``.nef``:
    Lightroom takes sidecars only for proprietary raws.
    """
    from backend.recipe import Recipe
    from backend.sidecar.apply import apply_to_photo, probe_photo
    from backend.sidecar.darktable_doc import darktable_sidecar_path
    from backend.sidecar.lightroom_doc import lightroom_sidecar_path
    from testing.fixtures import make_dng
    from testing.recipes import every_slider_recipe

    folder.mkdir(parents=True, exist_ok=True)
    images = _image_seeds(folder)
    recipe = every_slider_recipe()
    small = Recipe.from_dict(
        {"version": 1, "steps": [{"slider": "exposure", "value": 0.4}, {"slider": "contrast", "value": 12}]}
    )
    own = folder / "own"
    own.mkdir(exist_ok=True)
    photo = own / "own.nef"  # a raw by name (DNG inside), so that both hosts take sidecars
    shutil.copyfile(make_dng(own, "own.dng"), photo)
    lightroom_sidecar_path(photo).write_text(USER_LR, encoding="utf-8")
    darktable_sidecar_path(photo).write_text(USER_DT, encoding="utf-8")
    apply_to_photo(photo, recipe, host="both", overwrite=True)
    lr_seeds = [USER_LR, lightroom_sidecar_path(photo).read_text(encoding="utf-8")]
    dt_seeds = [USER_DT, darktable_sidecar_path(photo).read_text(encoding="utf-8")]
    work = folder / "work"
    work.mkdir(exist_ok=True)
    target = work / "photo.nef"
    shutil.copyfile(photo, target)
    return FuzzWorld(
        folder=folder,
        images=images,
        photo=target,
        lr_seeds=lr_seeds,
        dt_seeds=dt_seeds,
        recipes=[recipe.to_dict(), small.to_dict()],
        recipe=small,
        info=probe_photo(target),
    )


# -- targets -----------------------------------------------------------------------------------------


def fuzz_image(m: Mutator, world: FuzzWorld, tally: Tally) -> None:
    """One mutated photo through the preview and full decoders."""
    from backend.decode import decode_image, decode_preview

    suffix, data = m.rng.choice(world.images)
    if m.chance(0.1):
        suffix = m.rng.choice((".jpg", ".png", ".tif", ".dng", ".nef", ".heic", ""))
    mutated = m.mutate_bytes(data)
    path = world.folder / f"fuzz{suffix}"
    path.write_bytes(mutated)

    def attempt() -> str | None:
        for image in (
            decode_preview(path, long_side=m.rng.choice((64, 128, 512))).image,
            decode_image(path, max_pixels=4_000_000).image,
        ):
            if image.ndim != 4 or image.shape[:2] != (1, 3) or not bool(image.isfinite().all()):
                return f"decoded to {tuple(image.shape)}, finite={bool(image.isfinite().all())}"
        return None

    tally.classify("image", mutated[:64], attempt)


def _sidecar_paths(photo: Path) -> dict[str, Path]:
    from backend.sidecar.darktable_doc import darktable_sidecar_path
    from backend.sidecar.lightroom_doc import lightroom_sidecar_path

    return {"lightroom": lightroom_sidecar_path(photo), "darktable": darktable_sidecar_path(photo)}


def fuzz_sidecar(m: Mutator, world: FuzzWorld, tally: Tally) -> None:
    """Mutated existing sidecars, then apply (or revert); unreported changes are failures."""
    from backend.sidecar.apply import apply_to_photo
    from backend.sidecar.atomic import backup_path
    from backend.sidecar.revert import revert_photo

    paths = _sidecar_paths(world.photo)
    before: dict[str, bytes | None] = {}
    for host, path in paths.items():
        for stale in (path, backup_path(path)):
            stale.unlink(missing_ok=True)
        if m.chance(0.85):
            text = m.rng.choice(world.lr_seeds if host == "lightroom" else world.dt_seeds)
            mode = m.rng.random()
            data = m.mutate_text(text, _XML_TOKENS, light=mode < 0.5).encode() if mode < 0.8 else b""
            if not data:
                data = m.mutate_bytes(text.encode("utf-8"))
            path.write_bytes(data)
            before[host] = data
        else:
            before[host] = None
    host = m.rng.choice(("lightroom", "darktable", "both"))
    sample = {h: (b or b"")[:120] for h, b in before.items()}
    try:
        if m.chance(0.2):
            outcomes = revert_photo(world.photo, host=host)
        else:
            outcomes = apply_to_photo(world.photo, world.recipe, host=host, overwrite=m.chance(0.5), info=world.info)
    except AutoretouchError:
        outcomes = []
    except Exception as exc:
        tally.fail("sidecar", "untyped", f"{type(exc).__name__}: {exc}", sample)
        return
    written = {o.host for o in outcomes if o.action in ("written", "reverted", "deleted")}
    for h, path in paths.items():
        now = path.read_bytes() if path.exists() else None
        if h not in written and now != before[h]:
            tally.fail("sidecar", "changed", f"{h} sidecar changed without being reported written", sample)
            return
    tally.count("sidecar", "accepted" if written else "typed")


def fuzz_settings(m: Mutator, world: FuzzWorld, tally: Tally) -> None:
    """Mutated Lightroom develop-settings text through the parser and the PV2012 mapping."""
    from trainer.lrcat.luatext import parse_settings
    from trainer.lrcat.pv2003 import map_settings
    from trainer.lrcat.records import AsShotWhiteBalance

    text = m.mutate_text(SETTINGS_TEXT, _LUA_TOKENS, light=m.chance(0.4))
    as_shot = (
        AsShotWhiteBalance(m.rng.choice((5000.0, 2000.0, 50000.0)), m.rng.choice((0.0, -150.0)))
        if m.chance(0.5)
        else None
    )

    def attempt() -> None:
        map_settings(parse_settings(text, catalog="fuzz.lrcat", where="fuzz"), as_shot=as_shot)

    tally.classify("settings", text, attempt)


def fuzz_recipe(m: Mutator, world: FuzzWorld, tally: Tally) -> None:
    """A mutated recipe through parsing, rendering and both hosts' translators."""
    import torch

    from backend.recipe import Recipe, render_recipe
    from backend.translate.darktable_history import recipe_to_history
    from backend.translate.lightroom import recipe_to_develop_settings

    value = m.mutate_json(m.rng.choice(world.recipes))

    def attempt() -> str | None:
        recipe = Recipe.from_dict(value, source="fuzz")
        out = render_recipe(torch.full((1, 3, 8, 8), 0.18), recipe)
        if not bool(out.isfinite().all()):
            return "render gave non-finite pixels"
        recipe_to_develop_settings(recipe, is_raw=m.chance(0.5))
        recipe_to_history(recipe, is_raw=m.chance(0.5), long_side_px=m.rng.choice((1, 512, 6000)))
        return None

    tally.classify("recipe", value, attempt)


def _bridge_seeds(photos: list[Path], recipe: dict[str, Any]) -> list[tuple[str, str, Any]]:
    p = str(photos[0])
    return [
        ("POST", "/v1/suggest", {"protocol_version": 1, "path": p, "hosts": ["HOST_DARKTABLE"], "variants": 2}),
        ("POST", "/v1/suggest", {"protocol_version": 1, "path": p, "style": "default", "strength": 0.5}),
        (
            "POST",
            "/v1/sidecars",
            {
                "protocol_version": 1,
                "paths": [str(x) for x in photos],
                "recipe": recipe,
                "hosts": ["HOST_LIGHTROOM"],
                "dry_run": True,
            },
        ),
        ("POST", "/v1/revert", {"protocol_version": 1, "paths": [p], "dry_run": True}),
        (
            "POST",
            "/v1/preview",
            {"protocol_version": 1, "suggest": {"path": p, "variants": 2}, "strengths": [0.5, 1.0], "size": 96},
        ),
        ("GET", "/v1/train/status?protocol_version=1", None),
        ("GET", "/v1/styles?protocol_version=1", None),
        ("GET", "/healthz", None),
    ]


def bridge_photos(world: FuzzWorld, root: Path, count: int) -> list[Path]:
    """Photos for the bridge target: ``count`` (at least 2) copies of the world's photo, ``root/p0.nef`` ...,
    the first with the user's Lightroom sidecar (:data:`USER_LR`), the second with their darktable one
    (:data:`USER_DT`).
    """
    from backend.sidecar.darktable_doc import darktable_sidecar_path
    from backend.sidecar.lightroom_doc import lightroom_sidecar_path

    root.mkdir(parents=True, exist_ok=True)
    photos = []
    for i in range(count):
        photo = root / f"p{i}.nef"
        shutil.copyfile(world.photo, photo)
        photos.append(photo)
    lightroom_sidecar_path(photos[0]).write_text(USER_LR, encoding="utf-8")
    darktable_sidecar_path(photos[1]).write_text(USER_DT, encoding="utf-8")
    return photos


def bridge_healthy(port: int) -> bool:
    """Whether the bridge on ``127.0.0.1:port`` answers ``GET /healthz`` with 200."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        ok = resp.status == 200
        resp.read()
        conn.close()
        return ok
    except OSError:
        return False


def fuzz_bridge(
    m: Mutator, tally: Tally, *, port: int, photos: list[Path], recipe: dict[str, Any], token: str | None = None
) -> None:
    """One mutated request to the JSON bridge on ``127.0.0.1:port``; then the daemon must still be healthy.

    Requests keep ``dry_run`` where the seed has it unless the mutation removes it, so sidecars may be
    written under the daemon's root: point it at a scratch root.
    """
    method, path, body = m.rng.choice(_bridge_seeds(photos, recipe))
    if m.chance(0.15):
        path = m.rng.choice(
            ("/v1/train", "/v1/suggest/../x", "/%00", "/v1/styles?protocol_version=x", "//", "/" + "a" * 3000)
        )
    if m.chance(0.1):
        method = m.rng.choice(("PUT", "DELETE", "GET", "POST", "OPTIONS"))
    raw: bytes | None = None
    if body is not None:
        if m.chance(0.75):
            body = m.mutate_json(body)
        raw = json.dumps(body).encode()
        if m.chance(0.25):
            raw = m.mutate_bytes(raw)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if m.chance(0.05):
        headers["Content-Type"] = m.rng.choice(("text/plain", "", "application/json; charset=latin-1"))
    sample = (method, path[:80], (raw or b"")[:200])
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request(method, path, body=raw, headers=headers)
        resp = conn.getresponse()
        status, payload = resp.status, resp.read()
        conn.close()
    except (OSError, http.client.HTTPException) as exc:
        if bridge_healthy(port):
            tally.fail("bridge", "untyped", f"no answer: {type(exc).__name__}: {exc}", sample)
        else:
            tally.fail("bridge", "dead", f"daemon stopped answering after: {exc}", sample)
        return
    if status == 500:
        tally.fail("bridge", "untyped", f"HTTP {status}: {payload[:200]!r}", sample)
        return
    try:
        lines = payload.splitlines() if b"\n" in payload.strip() else [payload]
        for line in lines:
            if line.strip():
                json.loads(line)
    except ValueError:
        tally.fail("bridge", "untyped", f"HTTP {status} answer is not JSON: {payload[:200]!r}", sample)
        return
    tally.count("bridge", "accepted" if status == 200 else "typed")


_LOCAL: dict[str, Callable[[Mutator, FuzzWorld, Tally], None]] = {
    "image": fuzz_image,
    "sidecar": fuzz_sidecar,
    "settings": fuzz_settings,
    "recipe": fuzz_recipe,
}


def run_fuzz(
    world: FuzzWorld,
    *,
    seed: int,
    targets: tuple[str, ...] = ("image", "sidecar", "settings", "recipe"),
    tries: int | None = None,
    seconds: float | None = None,
    bridge: Callable[[Mutator, Tally], None] | None = None,
    tally: Tally | None = None,
) -> Tally:
    """Fuzz ``targets`` round-robin until ``tries`` per target or ``seconds`` have passed (whichever first).

    Args:
        world: seeds and scratch space (:func:`make_world`).
        seed: seed of the mutations (try ``i`` of target ``t`` uses ``Mutator(hash((seed, t, i)))``-like
            seeds, so one try can be replayed alone).
        targets: names from :data:`TARGETS`; ``"bridge"`` needs ``bridge``.
        tries: tries per target.
        seconds: wall-clock budget.
        bridge: ``(mutator, tally) -> None`` sending one bridge request (e.g. :func:`fuzz_bridge` bound to a
            daemon's port).
        tally: add to this tally instead of a new one.

    Returns:
        The :class:`Tally`.
    """
    if tries is None and seconds is None:
        raise ValueError("run_fuzz needs tries or seconds")
    tally = tally or Tally()
    deadline = time.monotonic() + seconds if seconds is not None else math.inf
    for i in _count(tries):
        for t in targets:
            if time.monotonic() >= deadline:
                return tally
            m = Mutator(seed * 1_000_003 + TARGETS.index(t) * 10_000_019 + i)
            if t == "bridge":
                if bridge is None:
                    raise ValueError("the bridge target needs a bridge callable")
                bridge(m, tally)
            else:
                _LOCAL[t](m, world, tally)
    return tally


def _count(limit: int | None) -> Iterator[int]:
    i = 0
    while limit is None or i < limit:
        yield i
        i += 1


def format_tally(tally: Tally) -> str:
    """A Markdown table: per target tries, accepted, typed refusals, untyped errors, changed sidecars, deaths."""
    lines = [
        "| target | tries | accepted | typed refusals | untyped errors | changed sidecars | daemon deaths |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in TARGETS:
        if t not in tally.tries:
            continue
        lines.append(
            f"| {t} | {tally.tries[t]} | {tally.accepted.get(t, 0)} | {tally.typed.get(t, 0)} "
            f"| {tally.failures_of(t, 'untyped')} | {tally.failures_of(t, 'changed')} | {tally.failures_of(t, 'dead')} |"
        )
    total = sum(tally.tries.values())
    lines.append(f"| **all** | {total} | {sum(tally.accepted.values())} | {sum(tally.typed.values())} "
                 f"| {sum(f.kind == 'untyped' for f in tally.failures)} | {sum(f.kind == 'changed' for f in tally.failures)} "
                 f"| {sum(f.kind == 'dead' for f in tally.failures)} |")  # fmt: skip
    return "\n".join(lines)
