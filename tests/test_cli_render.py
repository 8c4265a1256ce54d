"""``autoretouch render``: real decode -> render -> encode round trips on generated PNG/JPEG/16-bit TIFF files."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from backend.cli.main import EXIT_PARTIAL, main
from testing.needs import missing

H, W = 40, 64  # stored size; the JPEG fixture is stored sideways (EXIF orientation 6)


# -- fixtures --------------------------------------------------------------------------------------


def _encoded_rgb(seed: int = 0) -> np.ndarray:
    """(H, W, 3) sRGB-encoded values in [0.15, 0.7] (linear <= 0.45, so +1 EV does not clip)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W] / np.array([H - 1, W - 1]).reshape(2, 1, 1)
    base = np.stack((xx, yy, 1 - 0.5 * (xx + yy)), axis=-1)
    return 0.15 + 0.55 * (0.7 * base + 0.3 * rng.random((H, W, 3)))


def _srgb_to_linear(e: np.ndarray) -> np.ndarray:
    return np.where(e <= 0.04045, e / 12.92, ((e + 0.055) / 1.055) ** 2.4)


def _exif_orientation(orientation: int) -> bytes:
    """A minimal big-endian EXIF APP1 segment with one IFD0 entry, Orientation (0x0112)."""
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + b"MM\x00\x2a\x00\x00\x00\x08" + ifd
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def write_png(path: Path, seed: int = 0) -> np.ndarray:
    """8-bit PNG; returns its upright linear RGB (H, W, 3)."""
    rgb8 = np.round(_encoded_rgb(seed) * 255).astype(np.uint8)
    assert cv2.imwrite(str(path), rgb8[..., ::-1])
    return _srgb_to_linear(rgb8 / 255.0)


def write_tiff16(path: Path, seed: int = 1) -> np.ndarray:
    """16-bit RGB TIFF without a profile (read as sRGB); returns its upright linear RGB."""
    rgb16 = np.round(_encoded_rgb(seed) * 65535).astype(np.uint16)
    tifffile.imwrite(path, rgb16, photometric="rgb")
    return _srgb_to_linear(rgb16 / 65535.0)


def write_jpeg_rotated(path: Path, seed: int = 2) -> np.ndarray:
    """JPEG stored sideways with EXIF orientation 6; returns its upright linear RGB (W, H, 3)."""
    rgb8 = np.round(_encoded_rgb(seed) * 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", rgb8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 98])
    assert ok
    data = buf.tobytes()
    path.write_bytes(data[:2] + _exif_orientation(6) + data[2:])
    stored = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    upright = np.rot90(stored[..., ::-1], k=-1)  # orientation 6: rotate 90 degrees clockwise to display
    return _srgb_to_linear(upright / 255.0)


def read_linear(path: Path) -> np.ndarray:
    """Read an sRGB output (TIFF/PNG/JPEG, 8 or 16 bit) as linear RGB (H, W, 3)."""
    if path.suffix == ".tif":
        data = tifffile.imread(path)
    else:
        data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)[..., ::-1]
    scale = 65535.0 if data.dtype == np.uint16 else 255.0
    return _srgb_to_linear(data.astype(np.float64) / scale)


def assert_gain(out: np.ndarray, ref: np.ndarray, gain: float, tol: float) -> None:
    """``out`` is ``gain`` x ``ref`` in linear light (upright shapes must match)."""
    assert out.shape == ref.shape
    mask = ref > 0.03
    ratio = out[mask] / ref[mask]
    assert abs(np.median(ratio) - gain) < tol * gain
    assert np.mean(np.abs(ratio - gain) < 3 * tol * gain) > 0.95


@pytest.fixture
def recipe_plus_one_ev(tmp_path: Path) -> Path:
    path = tmp_path / "plus1.json"
    path.write_text(json.dumps({"version": 1, "steps": [{"slider": "exposure", "value": 1.0}]}), encoding="utf-8")
    return path


# -- the real console script -----------------------------------------------------------------------


def test_console_script_batch_with_a_corrupt_photo(tmp_path: Path, recipe_plus_one_ev: Path) -> None:
    exe = shutil.which("autoretouch")
    if exe is None:
        missing("the autoretouch console script is not installed (pip install -e .)")
    src = tmp_path / "in"
    src.mkdir()
    refs = {
        "a": write_png(src / "a.png"),
        "b": write_jpeg_rotated(src / "b.jpg"),
        "c": write_tiff16(src / "c.tif"),
    }
    (src / "broken.jpg").write_bytes(b"")
    photos = [src / "a.png", src / "broken.jpg", src / "b.jpg", src / "c.tif"]
    out_dir = tmp_path / "out"
    cmd = [exe, "render", *map(str, photos), "--recipe", str(recipe_plus_one_ev), "--out-dir", str(out_dir)]
    proc = subprocess.run([*cmd, "--format", "tif"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == EXIT_PARTIAL, proc.stderr
    assert "broken.jpg" in proc.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.tif", "b.tif", "c.tif"]
    for stem, ref in refs.items():
        out = read_linear(out_dir / f"{stem}.tif")
        assert tifffile.imread(out_dir / f"{stem}.tif").dtype == np.uint16
        assert_gain(out, ref, 2.0, 0.01 if stem != "b" else 0.03)
    assert read_linear(out_dir / "b.tif").shape[:2] == (W, H)  # upright


# -- in-process ------------------------------------------------------------------------------------


def test_single_corrupt_photo_exit_5_names_file(
    tmp_path: Path, recipe_plus_one_ev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "truncated.png"
    good = tmp_path / "good.png"
    write_png(good)
    bad.write_bytes(good.read_bytes()[:60])
    code = main(["render", str(bad), "--recipe", str(recipe_plus_one_ev), "-o", str(tmp_path / "x.png")])
    assert code == 5
    assert "truncated.png" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_strength_and_formats(tmp_path: Path, recipe_plus_one_ev: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "p.png"
    ref = write_png(photo)
    out16 = tmp_path / "half.tif"
    assert main(["render", str(photo), "--recipe", str(recipe_plus_one_ev), "-o", str(out16), "--strength", "0.5"]) == 0
    assert_gain(read_linear(out16), ref, 2**0.5, 0.01)
    out_png = tmp_path / "full.png"
    assert main(["render", str(photo), "--recipe", str(recipe_plus_one_ev), "-o", str(out_png)]) == 0
    assert cv2.imread(str(out_png), cv2.IMREAD_UNCHANGED).dtype == np.uint8
    assert_gain(read_linear(out_png), ref, 2.0, 0.02)
    out_jpg = tmp_path / "full.jpg"
    assert main(["render", str(photo), "--recipe", str(recipe_plus_one_ev), "-o", str(out_jpg), "--json"]) == 0
    assert_gain(read_linear(out_jpg), ref, 2.0, 0.05)
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row == {"photo": str(photo), "ok": True, "output": str(out_jpg), "width": W, "height": H}


def test_strength_zero_is_unedited(tmp_path: Path, recipe_plus_one_ev: Path) -> None:
    photo = tmp_path / "p.tif"
    ref = write_tiff16(photo)
    out = tmp_path / "zero.tif"
    assert main(["render", str(photo), "--recipe", str(recipe_plus_one_ev), "-o", str(out), "--strength", "0"]) == 0
    np.testing.assert_allclose(read_linear(out), ref, atol=2e-4)


def test_never_overwrites_the_input(
    tmp_path: Path, recipe_plus_one_ev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "p.png"
    write_png(photo)
    before = photo.read_bytes()
    assert main(["render", str(photo), "--recipe", str(recipe_plus_one_ev), "-o", str(photo)]) == 7
    link = tmp_path / "link.png"
    link.symlink_to(photo)
    assert main(["render", str(photo), "--recipe", str(recipe_plus_one_ev), "-o", str(link)]) == 7
    # --out-dir next to the photo: PNG keeps its format, so the output would be the photo itself
    assert main(["render", str(photo), "--recipe", str(recipe_plus_one_ev), "--out-dir", str(tmp_path)]) == 7
    assert "refusing to overwrite" in capsys.readouterr().err
    assert photo.read_bytes() == before
    sub = tmp_path / "sub"
    sub.mkdir()
    write_png(sub / "r.png")
    write_png(sub / "p.png", seed=5)  # same name as the first photo: its output is taken
    photos = [str(photo), str(sub / "r.png"), str(sub / "p.png")]
    code = main(["render", *photos, "--recipe", str(recipe_plus_one_ev), "--out-dir", str(tmp_path)])
    assert code == EXIT_PARTIAL  # p.png refused (it is the input), r.png rendered, sub/p.png refused (taken)
    err = capsys.readouterr().err
    assert "refusing to overwrite" in err and "sub/p.png" in err
    assert photo.read_bytes() == before
    assert (tmp_path / "r.png").is_file()


def test_batch_all_formats_keep_their_own_format(tmp_path: Path, recipe_plus_one_ev: Path) -> None:
    write_png(tmp_path / "a.png")
    write_jpeg_rotated(tmp_path / "b.jpg")
    write_tiff16(tmp_path / "c.tif")
    out = tmp_path / "out" / "nested"
    photos = [str(tmp_path / n) for n in ("a.png", "b.jpg", "c.tif")]
    assert main(["render", *photos, "--recipe", str(recipe_plus_one_ev), "--out-dir", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg", "c.tif"]
    assert cv2.imread(str(out / "b.jpg")).shape[:2] == (W, H)


def test_long_side_and_preview(tmp_path: Path, recipe_plus_one_ev: Path) -> None:
    photo = tmp_path / "p.jpg"
    write_jpeg_rotated(photo)
    out = tmp_path / "small.tif"
    assert main(["render", str(photo), "--recipe", str(recipe_plus_one_ev), "-o", str(out), "--long-side", "32"]) == 0
    assert tifffile.imread(out).shape[:2] == (32, 20)  # upright 64 x 40 scaled to a long side of 32
    out_p = tmp_path / "preview.tif"
    args = ["render", str(photo), "--recipe", str(recipe_plus_one_ev), "-o", str(out_p), "--preview"]
    assert main([*args, "--long-side", "32"]) == 0
    h, w = tifffile.imread(out_p).shape[:2]
    assert max(h, w) <= 32 and h > w  # still upright


@pytest.mark.parametrize(
    "extra",
    [
        ["-o", "OUT.png", "SECOND"],  # -o with two photos
        ["-o", "OUT.bmp"],  # unknown output extension
        ["-o", "OUT.png", "--format", "jpg"],  # contradicting format
        ["-o", "OUT.png", "--long-side", "0"],
        ["-o", "OUT.png", "--quality", "101"],
        [],  # neither -o nor --out-dir
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, recipe_plus_one_ev: Path, extra: list[str]) -> None:
    photo = tmp_path / "p.png"
    write_png(photo)
    extra = [str(tmp_path / e) if e.startswith(("OUT", "SECOND")) else e for e in extra]
    with pytest.raises(SystemExit) as info:
        main(["render", str(photo), "--recipe", str(recipe_plus_one_ev), *extra])
    assert info.value.code == 2


def test_recipe_and_photo_errors(tmp_path: Path, recipe_plus_one_ev: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "p.png"
    write_png(photo)
    out = str(tmp_path / "o.png")
    assert main(["render", str(photo), "--recipe", str(tmp_path / "nope.json"), "-o", out]) == 6
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1, "steps": [{"slider": "exposure", "value": 7}]}', encoding="utf-8")
    assert main(["render", str(photo), "--recipe", str(bad), "-o", out]) == 4
    err = capsys.readouterr().err
    for strength in ("2", "nan"):  # a usage error, checked at argument parsing (as suggest and catalog do)
        with pytest.raises(SystemExit) as exc:
            main(["render", str(photo), "--recipe", str(recipe_plus_one_ev), "-o", out, "--strength", strength])
        assert exc.value.code == 2
        assert f"argument --strength: strength must lie in [0, 1], got {strength}" in capsys.readouterr().err
    assert main(["render", str(tmp_path / "ghost.png"), "--recipe", str(recipe_plus_one_ev), "-o", out]) == 6
    err += capsys.readouterr().err
    assert "nope.json" in err and "bad.json" in err and "ghost.png" in err
    assert not Path(out).exists()


def test_help_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["render", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for word in ("--recipe", "--out-dir", "--strength", "--preview", "--long-side", "never overwritten", "--overwrite"):
        assert word in out


def test_help_says_that_metadata_is_not_carried_over(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["render", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "carries none of the photo's metadata" in text
    assert "EXIF (camera, lens, date, copyright, GPS)" in text


def test_raw_photo_becomes_upright_16bit_tiff(tmp_path: Path, recipe_plus_one_ev: Path) -> None:
    from testing.fixtures import make_dng

    dng = make_dng(tmp_path, "shot.dng", orientation=6)  # stored 48 x 64, displayed 64 x 48
    plain, bright = tmp_path / "plain", tmp_path / "bright"
    base = ["render", str(dng), "--recipe", str(recipe_plus_one_ev)]
    assert main([*base, "--out-dir", str(plain), "--strength", "0"]) == 0
    assert main([*base, "--out-dir", str(bright)]) == 0
    ref = read_linear(plain / "shot.tif")  # a raw becomes a 16-bit TIFF by default
    assert tifffile.imread(bright / "shot.tif").dtype == np.uint16
    assert ref.shape[:2] == (64, 48)
    out = read_linear(bright / "shot.tif")
    keep = (ref > 0.03) & (ref < 0.4)  # unclipped after +1 EV
    assert keep.sum() > 100
    assert abs(np.median(out[keep] / ref[keep]) - 2.0) < 0.02


def test_render_banded_equals_render() -> None:
    import torch

    from backend.cli.cmd_render import render_banded
    from backend.render.pipeline import render
    from backend.sliders.catalog import CATALOG

    g = torch.Generator().manual_seed(0)
    image = 0.02 + 0.9 * torch.rand(2, 3, 9, 30, generator=g, dtype=torch.float64)
    settings = {}
    for spec in CATALOG:
        ident = torch.tensor(spec.identity)
        end = spec.maximum if spec.maximum > float(ident.max()) else spec.minimum
        settings[spec.name] = ident + 0.4 * (end - ident)
    want = render(image, settings)
    for band in (64, 200):  # 2 rows per band, 6 rows (ragged last band)
        torch.testing.assert_close(render_banded(image, settings, band_pixels=band), want, rtol=1e-10, atol=1e-12)
    global_only = {k: v for k, v in settings.items() if k in ("exposure", "contrast", "tone_curve", "hsl")}
    copy = image.clone()
    out = render_banded(copy, global_only, band_pixels=90, inplace=True)
    assert out.data_ptr() == copy.data_ptr()  # no image-sized output buffer
    torch.testing.assert_close(out, render(image, global_only), rtol=1e-10, atol=1e-12)
    small = image.float()  # float32: equal up to rounding (vectorised vs. scalar loops)
    torch.testing.assert_close(
        render_banded(small, settings, band_pixels=64), render(small, settings), atol=2e-5, rtol=1e-4
    )
    assert torch.equal(render_banded(image, {}), image)


def test_render_banded_gives_spatial_stages_the_whole_image(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from backend.cli.cmd_render import render_banded
    from backend.render import pipeline

    seen: dict[str, list[tuple[int, ...]]] = {}
    for stage, fn in list(pipeline.STAGES.items()):

        def spy(image: torch.Tensor, values: object, _fn: object = fn, _stage: str = stage) -> torch.Tensor:
            seen.setdefault(_stage, []).append(tuple(image.shape))
            return _fn(image, values)  # type: ignore[operator]

        monkeypatch.setitem(pipeline.STAGES, stage, spy)
    image = torch.rand(1, 3, 12, 10)
    render_banded(
        image, {"exposure": 0.5, "vignette": -30.0, "clarity": 20.0, "hsl": [[10.0, 0.0, 0.0]] * 8}, band_pixels=40
    )
    assert seen["vignette"] == [(1, 3, 12, 10)] and seen["bilat"] == [(1, 3, 12, 10)]
    assert seen["exposure"] == [(1, 3, 4, 10)] * 3 and seen["colorzones"] == [(1, 3, 4, 10)] * 3
    assert list(seen) == ["exposure", "bilat", "colorzones", "vignette"]


def test_render_with_a_style_renders_its_suggestion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``render --style S`` writes exactly what ``render --recipe`` writes for the recipe ``suggest`` prints."""
    from testing.styles import isolate_style_store, save_random_style

    save_random_style(tmp_path / "styles", "mine", 3)
    isolate_style_store(monkeypatch, tmp_path / "styles", tmp_path / "no-shipped-styles")
    photo = tmp_path / "p.png"
    write_png(photo)
    assert (
        main(["render", str(photo), "--style", "mine", "--strength", "0.8", "-o", str(tmp_path / "s.png"), "--json"])
        == 0
    )
    row = json.loads(capsys.readouterr().out)
    assert main(["suggest", str(photo), "--style", "mine", "--strength", "0.8", "--json"]) == 0
    suggested = json.loads(capsys.readouterr().out)["recipes"][0]
    assert row["recipe"] == suggested and suggested["steps"]
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(suggested), encoding="utf-8")
    assert main(["render", str(photo), "--recipe", str(recipe), "-o", str(tmp_path / "r.png")]) == 0
    assert np.array_equal(cv2.imread(str(tmp_path / "s.png")), cv2.imread(str(tmp_path / "r.png")))
    assert main(["render", str(photo), "--style", "ghost", "-o", str(tmp_path / "g.png")]) == 6
    assert "ghost" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["render", str(photo), "--style", "mine", "--recipe", str(recipe), "-o", str(tmp_path / "x.png")])
    assert info.value.code == 2


# -- existing files that autoretouch did not write -------------------------------------------------


def test_never_replaces_a_file_it_did_not_write(
    tmp_path: Path, recipe_plus_one_ev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A camera's JPEG beside its raw, or any other photo, is refused (exit 7); our own earlier outputs are replaced."""
    from testing.fixtures import make_dng

    dng = make_dng(tmp_path, "IMG_0001.dng")
    camera_jpeg = tmp_path / "IMG_0001.jpg"
    assert cv2.imwrite(str(camera_jpeg), np.full((48, 64, 3), 90, np.uint8))
    before = camera_jpeg.read_bytes()
    plus = ["--recipe", str(recipe_plus_one_ev)]
    assert main(["render", str(dng), *plus, "--out-dir", str(tmp_path), "--format", "jpg"]) == 7
    err = capsys.readouterr().err
    assert f"{camera_jpeg}: exists and was not written by autoretouch; pass --overwrite to replace it" in err
    assert camera_jpeg.read_bytes() == before
    other = tmp_path / "other_photo.jpg"
    other.write_bytes(before)
    assert main(["render", str(dng), *plus, "-o", str(other)]) == 7
    assert other.read_bytes() == before
    # a batch: the foreign file is refused, the rest rendered (exit 9)
    photo = tmp_path / "p.png"
    write_png(photo)
    out = tmp_path / "out"
    out.mkdir()
    (out / "IMG_0001.jpg").write_bytes(before)
    photos = [str(dng), str(photo)]
    assert main(["render", *photos, *plus, "--out-dir", str(out), "--format", "jpg"]) == EXIT_PARTIAL
    assert "IMG_0001.jpg: exists and was not written by autoretouch" in capsys.readouterr().err
    assert (out / "IMG_0001.jpg").read_bytes() == before and (out / "p.jpg").is_file()
    # --overwrite replaces it (but never an input photo)
    assert main(["render", *photos, *plus, "--out-dir", str(out), "--format", "jpg", "--overwrite"]) == 0
    assert (out / "IMG_0001.jpg").read_bytes() != before
    assert main(["render", str(photo), *plus, "-o", str(photo), "--overwrite"]) == 7
    assert "refusing to overwrite the input photo" in capsys.readouterr().err
    # a link to our own output is not ours to replace (replacing it would break the link)
    link = tmp_path / "link.jpg"
    link.symlink_to(out / "p.jpg")
    assert main(["render", str(photo), *plus, "-o", str(link)]) == 7
    assert link.is_symlink()


@pytest.mark.parametrize("fmt", ["jpg", "png", "tif"])
def test_rendering_again_replaces_its_own_output(tmp_path: Path, recipe_plus_one_ev: Path, fmt: str) -> None:
    photo = tmp_path / "p.png"
    write_png(photo)
    out = tmp_path / "out"
    base = ["render", str(photo), "--recipe", str(recipe_plus_one_ev), "--out-dir", str(out), "--format", fmt]
    assert main([*base, "--strength", "0"]) == 0
    first = (out / f"p.{fmt}").read_bytes()
    assert main(base) == 0  # our own output of the first run: replaced without --overwrite
    assert (out / f"p.{fmt}").read_bytes() != first
    assert main(["render", str(photo), "--recipe", str(recipe_plus_one_ev), "-o", str(out / f"p.{fmt}")]) == 0


def test_a_photo_too_wide_for_jpeg_is_refused_and_the_batch_goes_on(
    tmp_path: Path, recipe_plus_one_ev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """JPEG holds at most 65,500 pixels a side: such a panorama is refused (typed, exit 5), the others rendered."""
    pano, small = tmp_path / "pano.png", tmp_path / "small.png"
    assert cv2.imwrite(str(pano), np.full((2, 65_501, 3), 128, np.uint8))
    write_png(small)
    out = tmp_path / "out"
    base = ["render", "--recipe", str(recipe_plus_one_ev)]
    assert main([*base, str(pano), str(small), "--out-dir", str(out), "--format", "jpg"]) == EXIT_PARTIAL
    err = capsys.readouterr().err
    assert "pano.png: 65501x2 pixels is too large for JPEG (at most 65,500 pixels a side)" in err
    assert "--format tif" in err and "--long-side" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["small.jpg"]
    assert main([*base, str(pano), "-o", str(tmp_path / "pano.jpg")]) == 5
    assert main([*base, str(pano), "-o", str(tmp_path / "pano.tif")]) == 0  # TIFF holds it
    assert tifffile.imread(tmp_path / "pano.tif").shape == (2, 65_501, 3)
    assert main([*base, str(pano), "-o", str(tmp_path / "pano.jpg"), "--long-side", "65500"]) == 0


def test_an_output_path_that_is_a_folder_or_lies_under_a_file(
    tmp_path: Path, recipe_plus_one_ev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder where an output goes fails that photo (exit 7, the batch goes on); --out-dir under a file is usage."""
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    write_png(a)
    write_png(b, seed=3)
    out = tmp_path / "out"
    (out / "a.png").mkdir(parents=True)
    base = ["render", "--recipe", str(recipe_plus_one_ev)]
    assert main([*base, str(a), str(b), "--out-dir", str(out)]) == EXIT_PARTIAL
    err = capsys.readouterr().err
    assert f"{out / 'a.png'}: is a folder" in err and "Traceback" not in err
    assert (out / "a.png").is_dir() and (out / "b.png").is_file()
    (tmp_path / "dir.jpg").mkdir()
    assert main([*base, str(a), "-o", str(tmp_path / "dir.jpg")]) == 7
    assert "dir.jpg: is a folder" in capsys.readouterr().err
    for under in (a / "sub", a / "sub" / "deeper"):
        with pytest.raises(SystemExit) as info:
            main([*base, str(a), "--out-dir", str(under)])
        assert info.value.code == 2
        assert f"--out-dir {under} lies under the file {a}" in capsys.readouterr().err


# -- which photo a render came from, and whether it changed since ----------------------------------


def _render(photo: Path, recipe: Path, *rest: str) -> int:
    return main(["render", str(photo), "--recipe", str(recipe), *rest])


def test_a_render_of_another_photo_of_the_same_name_is_not_replaced(
    tmp_path: Path, recipe_plus_one_ev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Camera counters repeat IMG_0001 on every card: card b's IMG_0001 must not silently replace card a's render."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "IMG_0001.png", tmp_path / "b" / "IMG_0001.png"
    write_png(first, seed=4)
    write_png(second, seed=5)
    out = tmp_path / "out"
    assert _render(first, recipe_plus_one_ev, "--out-dir", str(out)) == 0
    render_of_a = (out / "IMG_0001.png").read_bytes()
    capsys.readouterr()
    assert _render(second, recipe_plus_one_ev, "--out-dir", str(out)) == 7
    err = capsys.readouterr().err
    assert f"{out / 'IMG_0001.png'}: is autoretouch's render of another photo, not of {second}" in err
    assert "pass --overwrite to replace it" in err
    assert (out / "IMG_0001.png").read_bytes() == render_of_a
    assert _render(first, recipe_plus_one_ev, "--out-dir", str(out)) == 0  # a's own render: replaced
    assert _render(second, recipe_plus_one_ev, "--out-dir", str(out), "--overwrite") == 0
    assert (out / "IMG_0001.png").read_bytes() != render_of_a
    assert _render(second, recipe_plus_one_ev, "--out-dir", str(out)) == 0  # now b's own render


def _append_trailing_bytes(path: Path) -> None:
    """What a tagging tool does to the size (the mark stays in place), with the modification time kept (exiftool -P)."""
    st = path.stat()
    with path.open("ab") as fh:
        fh.write(b"\0rating=5; keywords=holiday\0")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _edit_in_place_later(path: Path) -> None:
    """An edit that keeps the size (the mark stays in place), saved a minute after the render."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x55
    path.write_bytes(bytes(data))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 60 * 10**9))


@pytest.mark.parametrize("fmt", ["jpg", "png", "tif"])
@pytest.mark.parametrize("edit", [_append_trailing_bytes, _edit_in_place_later])
def test_a_render_changed_since_it_was_written_is_not_replaced(
    tmp_path: Path,
    recipe_plus_one_ev: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    edit: Callable[[Path], None],
) -> None:
    """A render the user has tagged or edited since (the mark survives) is the user's work now: refused."""
    photo = tmp_path / "p.png"
    write_png(photo)
    output = tmp_path / "out" / f"p.{fmt}"
    output.parent.mkdir()
    assert _render(photo, recipe_plus_one_ev, "-o", str(output)) == 0
    edit(output)
    edited = output.read_bytes()
    capsys.readouterr()
    assert _render(photo, recipe_plus_one_ev, "-o", str(output)) == 7
    err = capsys.readouterr().err
    assert f"{output}: was changed since autoretouch wrote it at " in err and "pass --overwrite to replace it" in err
    assert output.read_bytes() == edited
    assert _render(photo, recipe_plus_one_ev, "-o", str(output), "--overwrite") == 0
    assert _render(photo, recipe_plus_one_ev, "-o", str(output)) == 0  # autoretouch's own, unchanged, again


@pytest.mark.host
def test_a_render_tagged_with_exiftool_is_not_replaced(
    tmp_path: Path, recipe_plus_one_ev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exe = shutil.which("exiftool")
    if exe is None:
        missing("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    photo = tmp_path / "p.png"
    write_png(photo)
    for name, keep_time in (("p.jpg", True), ("p.tif", False), ("p.png", True)):
        output = tmp_path / "out" / name
        output.parent.mkdir(exist_ok=True)
        assert _render(photo, recipe_plus_one_ev, "-o", str(output)) == 0
        preserve = ["-P"] if keep_time else []
        subprocess.run([exe, "-q", "-q", *preserve, "-overwrite_original", "-Rating=5", str(output)], check=True)
        tagged = output.read_bytes()
        capsys.readouterr()
        assert _render(photo, recipe_plus_one_ev, "-o", str(output)) == 7, name
        assert "was changed since autoretouch wrote it" in capsys.readouterr().err
        assert output.read_bytes() == tagged


def test_a_render_of_the_photo_before_it_changed_or_with_a_bare_mark_is_not_replaced(
    tmp_path: Path, recipe_plus_one_ev: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The photo's file changed (another card's IMG_0001 copied over it, or edited): its old render is refused.

    So is a file with the first version's bare 'autoretouch <version>' mark: it does not say which photo it came from.
    """
    import torch

    from backend.encode import write_image

    photo = tmp_path / "IMG_0001.png"
    write_png(photo)
    output = tmp_path / "IMG_0001.jpg"
    assert _render(photo, recipe_plus_one_ev, "-o", str(output)) == 0
    before = output.read_bytes()
    write_png(photo, seed=7)
    st = photo.stat()
    os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns + 5 * 10**9))
    capsys.readouterr()
    assert _render(photo, recipe_plus_one_ev, "-o", str(output)) == 7
    err = capsys.readouterr().err
    assert f"{output}: is autoretouch's render of {photo} as it was before that file was changed or replaced" in err
    assert output.read_bytes() == before
    bare = tmp_path / "bare.png"
    write_image(bare, torch.full((1, 3, 4, 4), 0.2))  # no photo: the bare mark
    bare_bytes = bare.read_bytes()
    assert _render(photo, recipe_plus_one_ev, "-o", str(bare)) == 7
    err = capsys.readouterr().err
    assert f"{bare}: was written by autoretouch 0.1.0 without recording which photo it came from" in err
    assert bare.read_bytes() == bare_bytes


@pytest.mark.parametrize("there_before", [False, True])
def test_a_file_that_appears_or_changes_during_the_render_is_not_clobbered(
    tmp_path: Path,
    recipe_plus_one_ev: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    there_before: bool,
) -> None:
    """The check runs before a render of several seconds: the final move must not replace what came meanwhile."""
    import backend.cli.cmd_render as cmd_render

    photo = tmp_path / "p.png"
    write_png(photo)
    out = tmp_path / "out"
    if there_before:  # our own render, replaceable when the check runs
        assert _render(photo, recipe_plus_one_ev, "--out-dir", str(out)) == 0
    target = out / "p.png"
    theirs = b"another program's file, written while autoretouch rendered"
    render_banded = cmd_render.render_banded

    def slow_render(*args: object, **kwargs: object) -> object:
        target.write_bytes(theirs)  # appears, or rewrites our render in place
        return render_banded(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cmd_render, "render_banded", slow_render)
    capsys.readouterr()
    assert _render(photo, recipe_plus_one_ev, "--out-dir", str(out)) == 7
    err = capsys.readouterr().err
    how = "changed" if there_before else "created"
    assert f"{target}: was {how} by another program while autoretouch rendered (nothing was replaced)" in err
    assert target.read_bytes() == theirs
    assert sorted(p.name for p in out.iterdir()) == ["p.png"]  # no temporary file left behind
