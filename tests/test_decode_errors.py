"""Bad input gets a typed error naming the file: empty, truncated, text, unknown, missing, too large."""

from __future__ import annotations

import logging
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import backend.decode.raster as raster
import backend.decode.raw as raw_module
from backend.decode import decode_bytes, decode_image, decode_preview, sniff_kind
from backend.errors import (
    CorruptImageError,
    DecodeError,
    ImageTooLargeError,
    NotFoundError,
    UnsupportedFormatError,
)
from testing.fixtures import (
    make_dng,
    make_jpeg,
    make_png,
    make_png_bomb,
    make_text_file,
    make_tiff,
    make_tiff_bomb,
    make_truncated,
    make_zero_byte,
    pattern_rgb,
)


@pytest.mark.parametrize("name", ["empty.jpg", "empty.png", "empty.tif", "empty.nef", "empty"])
def test_zero_byte_file(tmp_path: Path, name: str) -> None:
    path = make_zero_byte(tmp_path, name)
    with pytest.raises(CorruptImageError, match="empty file") as info:
        decode_image(path)
    assert info.value.path == path and name in str(info.value)
    with pytest.raises(CorruptImageError, match="empty file"):
        sniff_kind(path)
    with pytest.raises(CorruptImageError, match="empty file"):
        decode_bytes(b"", name=name)


@pytest.mark.parametrize(
    ("maker", "fraction"),
    [
        (lambda d: make_jpeg(d, height=96, width=128), 0.6),
        (lambda d: make_jpeg(d, height=96, width=128), 0.02),  # cut inside the header
        (lambda d: make_png(d, bit_depth=16), 0.6),
        (lambda d: make_tiff(d, bit_depth=16), 0.6),
        (lambda d: make_dng(d), 0.6),
    ],
    ids=["jpeg", "jpeg-header", "png", "tiff", "dng"],
)
def test_truncated_file(tmp_path: Path, maker, fraction: float) -> None:  # type: ignore[no-untyped-def]
    path = make_truncated(maker(tmp_path), tmp_path, fraction)
    for decode in (decode_image, decode_preview):
        with pytest.raises(CorruptImageError, match="truncated") as info:
            decode(path)
        assert path.name in str(info.value)


def test_damaged_png_data_is_corrupt_not_a_codec_exception(tmp_path: Path) -> None:
    path = make_png(tmp_path)
    data = bytearray(path.read_bytes())
    idat = data.find(b"IDAT")
    data[idat + 8 : idat + 40] = bytes(32)  # complete chunks, wrong data and CRC
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptImageError, match="could not be decoded"):
        decode_image(path)


def test_text_and_unknown_files(tmp_path: Path) -> None:
    for name in ("notes.jpg", "notes.txt", "notes.nef"):
        with pytest.raises(UnsupportedFormatError, match="text file") as info:
            decode_image(make_text_file(tmp_path, name))
        assert name in str(info.value)
    gif = tmp_path / "anim.gif"
    gif.write_bytes(b"GIF89a" + bytes(100))
    with pytest.raises(UnsupportedFormatError, match="unknown format"):
        decode_image(gif)


def test_binary_junk_with_raw_extension_is_refused_by_libraw(tmp_path: Path) -> None:
    junk = tmp_path / "junk.cr2"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(DecodeError):
        decode_image(junk)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        decode_image(tmp_path / "nope.jpg")
    with pytest.raises(NotFoundError):
        decode_preview(tmp_path / "nope.nef")
    with pytest.raises(NotFoundError):
        sniff_kind(tmp_path / "nope.png")
    with pytest.raises(UnsupportedFormatError, match="directory"):
        decode_image(tmp_path)


def test_a_named_pipe_or_device_is_refused_without_being_opened(tmp_path: Path) -> None:
    """Opening a FIFO would wait for a writer; it is neither an empty file nor a photo."""
    fifo = tmp_path / "p.jpg"
    os.mkfifo(fifo)
    for decode in (decode_image, decode_preview):
        with pytest.raises(UnsupportedFormatError, match=r"p\.jpg: a named pipe \(FIFO\), not a regular file"):
            decode(fifo)
    outcome: list[BaseException] = []

    def sniff() -> None:
        try:
            sniff_kind(fifo)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=sniff, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "sniff_kind opened the FIFO and waits for a writer"
    assert isinstance(outcome[0], UnsupportedFormatError) and "named pipe" in str(outcome[0])
    if Path("/dev/null").exists():
        with pytest.raises(UnsupportedFormatError, match="a character device, not a regular file"):
            decode_image("/dev/null")


def test_truncated_lzw_tiff_whose_directory_is_past_the_end(tmp_path: Path) -> None:
    """PIL writes the image directory after the (LZW) data, so a cut-off file has none: say it is truncated."""
    from PIL import Image

    whole = tmp_path / "whole.tif"
    Image.fromarray(pattern_rgb()).save(whole, compression="tiff_lzw")
    path = make_truncated(whole, tmp_path, 0.6)
    for decode in (decode_image, decode_preview):
        with pytest.raises(CorruptImageError, match=r"truncated or damaged: .* lies past the end of the file") as info:
            decode(path)
        assert path.name in str(info.value)
    data = whole.read_bytes()
    (ifd,) = struct.unpack_from("<I", data, 4)
    cut = make_truncated(whole, tmp_path, (ifd + 20) / len(data), name="cut_in_directory.tif")
    with pytest.raises(CorruptImageError, match=r"truncated or damaged: .* runs past the end of the file"):
        decode_image(cut)


def test_what_tifffile_logs_about_a_damaged_tiff_stays_off_stderr(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """tifffile logs a tag of an unknown type as a warning (to stderr when logging is not set up) and reads on."""
    import tifffile

    path = tmp_path / "odd_tag.tif"
    tifffile.imwrite(path, pattern_rgb(), photometric="rgb", metadata=None, resolution=(72, 72))
    data = bytearray(path.read_bytes())
    (ifd,) = struct.unpack_from("<I", data, 4)
    (entries,) = struct.unpack_from("<H", data, ifd)
    tags = [struct.unpack_from("<H", data, ifd + 2 + 12 * i)[0] for i in range(entries)]
    struct.pack_into("<H", data, ifd + 2 + 12 * tags.index(282) + 2, 99)  # XResolution of field type 99
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        assert decode_image(path).image.shape == (1, 3, 48, 64)
    assert [r.getMessage() for r in caplog.records if r.name == "tifffile"] == []
    script = f"from backend.decode import decode_image; decode_image({str(path)!r})"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert run.stderr == ""


def test_jpeg_with_a_zero_size_in_its_frame_header(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path, height=48, width=64)
    data = bytearray(path.read_bytes())
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">H", data, sof + 5, 0)  # height 0 (to come in a DNL marker)
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptImageError, match=r"JPEG frame header \(SOF\) gives a zero size \(64x0 pixels\)"):
        decode_image(path)


def test_cmyk_tiff_with_alpha_names_what_is_not_supported(tmp_path: Path) -> None:
    import tifffile

    cmyka = np.concatenate([pattern_rgb(), np.zeros((48, 64, 1), np.uint8), np.full((48, 64, 1), 255, np.uint8)], 2)
    path = tmp_path / "cmyka.tif"
    tifffile.imwrite(path, cmyka, photometric="separated", extrasamples=[2], metadata=None)
    with pytest.raises(UnsupportedFormatError, match=r"TIFF CMYK with 1 extra channel \(alpha or spot colour\)"):
        decode_image(path)


def test_png_bomb_is_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_png_bomb(tmp_path, width=20000, height=20000)

    def no_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("the codec must not run for a bomb")

    monkeypatch.setattr(raster.cv2, "imdecode", no_decode)
    start = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match="20000x20000") as info:
        decode_image(path)
    assert time.perf_counter() - start < 0.5
    assert info.value.grpc_status == "RESOURCE_EXHAUSTED"
    with pytest.raises(ImageTooLargeError):
        decode_preview(path)


def test_tiff_bomb_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageTooLargeError, match="20000x20000"):
        decode_image(make_tiff_bomb(tmp_path))


def test_jpeg_header_size_is_checked(tmp_path: Path) -> None:
    path = make_jpeg(tmp_path, height=48, width=64)
    data = bytearray(path.read_bytes())
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 30000, 30000)  # claim 30000x30000
    path.write_bytes(bytes(data))
    with pytest.raises(ImageTooLargeError, match="30000x30000"):
        decode_image(path)


class _NoUnpack:
    """Wraps a RawPy object; unpacking or processing it fails the test."""

    def __init__(self, raw: object) -> None:
        self._raw = raw

    def __getattr__(self, name: str) -> object:
        if name in ("postprocess", "unpack", "raw_image", "raw_image_visible"):
            raise AssertionError("LibRaw must not unpack a raw over the limit")
        return getattr(self._raw, name)

    def __enter__(self) -> _NoUnpack:
        return self

    def __exit__(self, *exc: object) -> None:
        self._raw.close()  # type: ignore[attr-defined]


def test_max_pixels_applies_to_every_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in (make_jpeg(tmp_path), make_png(tmp_path), make_tiff(tmp_path)):
        with pytest.raises(ImageTooLargeError):
            decode_image(path, max_pixels=1000)
        with pytest.raises(ImageTooLargeError):
            decode_preview(path, max_pixels=1000)
    dng = make_dng(tmp_path)
    real_open = raw_module._open
    monkeypatch.setattr(raw_module, "_open", lambda data, where: _NoUnpack(real_open(data, where)))
    with pytest.raises(ImageTooLargeError):
        decode_image(dng, max_pixels=1000)


def test_raw_white_balance_fallback_to_daylight() -> None:
    fake = SimpleNamespace(
        camera_whitebalance=[0.0, 1.0, 0.0, 0.0],
        daylight_whitebalance=[2.0, 1.0, 1.5, 0.0],
        rgb_xyz_matrix=np.zeros((4, 3)),
    )
    as_shot, note = raw_module._white_balance(fake, [])  # type: ignore[arg-type]
    assert note.startswith("camera WB missing")
    assert as_shot.multipliers == (2.0, 1.0, 1.5)
    assert as_shot.kelvin is None
