"""Writing linear Rec.2020 tensors as sRGB files: round trips, gamut clipping, ICC, atomicity, errors."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import backend.encode as encode
import backend.fsio as fsio
from backend.decode import decode_image
from backend.decode.icc import parse_icc
from backend.encode import to_srgb8, write_image
from backend.errors import NotFoundError, OutputExistsError, UnsupportedFormatError
from backend.render.color import SRGB_TO_REC2020, apply_matrix
from testing.needs import missing


def _in_gamut(h: int = 40, w: int = 56, seed: int = 0) -> torch.Tensor:
    """Random linear Rec.2020 colours that lie inside the sRGB gamut, ``(1, 3, H, W)``."""
    g = torch.Generator().manual_seed(seed)
    return apply_matrix(torch.rand(1, 3, h, w, generator=g, dtype=torch.float64), SRGB_TO_REC2020).float()


@pytest.mark.parametrize("name", ["out.tif", "out.tiff", "out16.png"])
def test_16bit_round_trip_within_1e4(tmp_path: Path, name: str) -> None:
    image = _in_gamut()
    write_image(tmp_path / name, image, bit_depth=16)
    decoded = decode_image(tmp_path / name)
    assert decoded.colour_note == "sRGB (embedded ICC)"
    assert float((decoded.image - image).abs().max()) < 1e-4


def test_tiff_defaults_to_16_bit(tmp_path: Path) -> None:
    import tifffile

    write_image(tmp_path / "x.tif", _in_gamut())
    assert tifffile.imread(tmp_path / "x.tif").dtype == np.uint16


@pytest.mark.parametrize("name", ["out.png", "out.jpg", "out.jpeg", "out8.tif"])
def test_8bit_round_trip(tmp_path: Path, name: str) -> None:
    # smooth content so JPEG error stays small; 8-bit quantisation error in linear light is < 0.005
    y, x = torch.meshgrid(torch.linspace(0.05, 0.9, 40), torch.linspace(0.05, 0.9, 56), indexing="ij")
    image = apply_matrix(torch.stack([x, y, (x + y) / 2])[None].double(), SRGB_TO_REC2020).float()
    write_image(tmp_path / name, image, bit_depth=8 if name.endswith(".tif") else None, quality=98)
    decoded = decode_image(tmp_path / name)
    error = (decoded.image - image).abs()
    if name.endswith((".jpg", ".jpeg")):  # lossy, chroma subsampled
        assert float(error.mean()) < 0.005 and float(error.max()) < 0.05
    else:
        assert float(error.max()) < 0.005
    assert decoded.colour_note == "sRGB (embedded ICC)"


def test_out_of_gamut_is_clipped(tmp_path: Path) -> None:
    pixels = [[-0.5, 0.2, 3.0], [0.5, float("nan"), 1.0], [0.1, 0.1, 0.1]]  # three pixels (Rec.2020 RGB)
    image = torch.tensor(pixels).T.reshape(1, 3, 1, 3)
    rgb = to_srgb8(image)
    assert rgb.shape == (1, 3, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] == 0 and rgb[0, 0, 2] == 255  # negative red and blue 3.0 clipped
    assert rgb[0, 1].tolist() == [0, 0, 0]  # NaN poisons its pixel, written as black
    assert rgb[0, 2].tolist() == [89, 89, 89]
    write_image(tmp_path / "clip.tif", image)
    decoded = decode_image(tmp_path / "clip.tif").image
    srgb = apply_matrix(decoded.double(), np.linalg.inv(SRGB_TO_REC2020))
    assert float(srgb.min()) > -1e-4 and float(srgb.max()) < 1 + 1e-4


def test_to_srgb8_known_values() -> None:
    grey = torch.full((1, 3, 2, 2), 0.18)
    assert (to_srgb8(grey) == 118).all()  # 0.18 linear -> 0.4614 encoded -> 117.6
    assert (to_srgb8(torch.ones(3, 2, 2)) == 255).all()
    red = apply_matrix(torch.tensor([1.0, 0.0, 0.0]).reshape(1, 3, 1, 1), SRGB_TO_REC2020)
    assert to_srgb8(red)[0, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize("name", ["p.tif", "p.png", "p.jpg"])
def test_embedded_profile_is_srgb(tmp_path: Path, name: str) -> None:
    from backend.decode.containers import jpeg_info, png_info

    write_image(tmp_path / name, _in_gamut(8, 8))
    data = (tmp_path / name).read_bytes()
    if name.endswith(".tif"):
        import tifffile

        with tifffile.TiffFile(tmp_path / name) as tif:
            icc = bytes(tif.pages.first.tags[34675].value)
    else:
        icc = (jpeg_info(data) if name.endswith(".jpg") else png_info(data)).icc
    assert icc is not None
    assert parse_icc(icc).known_space == "sRGB"


def test_every_file_carries_the_autoretouch_mark_and_others_do_not(tmp_path: Path) -> None:
    import cv2
    import tifffile

    from backend.encode import SOFTWARE, written_by_autoretouch

    for name, depth in (("m.jpg", None), ("m.png", 8), ("m16.png", 16), ("m.tif", None), ("m8.tif", 8)):
        write_image(tmp_path / name, _in_gamut(6, 5), bit_depth=depth)
        assert written_by_autoretouch(tmp_path / name), name
    with tifffile.TiffFile(tmp_path / "m.tif") as tif:
        assert tif.pages.first.tags[305].value == SOFTWARE
    (tmp_path / "renamed.jpg").write_bytes((tmp_path / "m.png").read_bytes())  # told by content, not extension
    assert written_by_autoretouch(tmp_path / "renamed.jpg")
    pixels = np.zeros((4, 4, 3), np.uint8)
    assert cv2.imwrite(str(tmp_path / "camera.jpg"), pixels) and cv2.imwrite(str(tmp_path / "other.png"), pixels)
    tifffile.imwrite(tmp_path / "other.tif", pixels, software="not autoretouch")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("autoretouch 0.1.0", encoding="utf-8")
    (tmp_path / "folder.png").mkdir()
    os.mkfifo(tmp_path / "pipe.png")  # not opened: that would wait for a writer
    names = ("camera.jpg", "other.png", "other.tif", "empty.jpg", "text.png", "folder.png", "pipe.png", "missing.png")
    for name in names:
        assert not written_by_autoretouch(tmp_path / name), name


def test_write_is_atomic_and_replaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"previous")
    write_image(target, _in_gamut(4, 4))
    assert target.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
    good = target.read_bytes()

    def broken_encode(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("encoder exploded")

    def broken_replace(src: str, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(encode, "_encode", broken_encode)
    with pytest.raises(RuntimeError):
        write_image(target, _in_gamut(4, 4))
    monkeypatch.undo()
    monkeypatch.setattr(os, "replace", broken_replace)  # whoever replaces the file
    with pytest.raises(OSError, match="disk full"):
        write_image(target, _in_gamut(4, 4))
    assert target.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_file_mode_follows_umask(tmp_path: Path) -> None:
    write_image(tmp_path / "m.jpg", _in_gamut(4, 4))
    assert (tmp_path / "m.jpg").stat().st_mode & 0o777 == 0o666 & ~fsio.UMASK


def test_write_errors(tmp_path: Path) -> None:
    image = _in_gamut(4, 4)
    with pytest.raises(UnsupportedFormatError, match=r"\.bmp"):
        write_image(tmp_path / "x.bmp", image)
    with pytest.raises(UnsupportedFormatError, match="16 bits"):
        write_image(tmp_path / "x.jpg", image, bit_depth=16)
    with pytest.raises(UnsupportedFormatError):
        write_image(tmp_path / "x.png", image, bit_depth=12)
    with pytest.raises(ValueError, match="shape"):
        write_image(tmp_path / "x.png", image[:, :2])
    with pytest.raises(ValueError, match="quality"):
        write_image(tmp_path / "x.jpg", image, quality=0)
    with pytest.raises(NotFoundError):
        write_image(tmp_path / "missing" / "x.png", image)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.host
def test_exiftool_reads_the_profile(tmp_path: Path) -> None:
    exe = shutil.which("exiftool")
    if exe is None:
        missing("exiftool is not installed (apt-get install libimage-exiftool-perl)")
    for name in ("e.tif", "e.png", "e.jpg"):
        write_image(tmp_path / name, _in_gamut(8, 8))
        out = subprocess.run(
            [exe, "-s3", "-ProfileDescription", "-ColorSpaceData", "-ProfileClass", str(tmp_path / name)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        assert out == ["sRGB IEC61966-2.1 (autoretouch)", "RGB", "Display Device Profile"], name


def test_sizes_past_a_format_limit_are_refused_before_encoding(tmp_path: Path) -> None:
    from backend.encode import max_side
    from backend.errors import ImageTooLargeError

    assert (max_side("a.jpg"), max_side("a.JPEG"), max_side("a.png")) == (65_500, 65_500, 1_000_000)
    assert max_side("a.tif") >= 2**31
    with pytest.raises(ImageTooLargeError, match=r"a\.jpg: 65501x1 pixels is too large for JPEG \(at most 65,500"):
        write_image(tmp_path / "a.jpg", torch.zeros(1, 3, 1, 65_501))
    with pytest.raises(ImageTooLargeError, match=r"1x1000001 pixels is too large for PNG \(at most 1,000,000"):
        write_image(tmp_path / "a.png", torch.zeros(1, 3, 1_000_001, 1))
    write_image(tmp_path / "edge.jpg", torch.zeros(1, 3, 1, 65_500))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edge.jpg"]


def test_writing_onto_a_folder_is_a_typed_error(tmp_path: Path) -> None:
    from backend.errors import OutputExistsError

    (tmp_path / "taken.png").mkdir()
    with pytest.raises(OutputExistsError, match=r"taken\.png: is a folder"):
        write_image(tmp_path / "taken.png", _in_gamut(4, 4))
    assert [p.name for p in tmp_path.iterdir()] == ["taken.png"]  # no temporary file left behind


# -- the mark of a render: its photo, time and size ------------------------------------------------


@pytest.mark.parametrize("name", ["r.jpg", "r.png", "r.tif"])
def test_a_render_s_mark_names_its_photo_when_it_was_written_and_its_size(tmp_path: Path, name: str) -> None:
    import time

    from backend.encode import SOFTWARE, check_replaceable, photo_id, read_mark

    photo = tmp_path / "IMG_0001.png"
    photo.write_bytes(b"the photo")
    before = time.time_ns()
    write_image(tmp_path / name, _in_gamut(6, 5), photo=photo_id(photo))
    mark = read_mark(tmp_path / name)
    assert mark is not None and mark.photo == photo_id(photo) and mark.version == SOFTWARE.split()[1]
    st = (tmp_path / name).stat()
    assert mark.size == st.st_size
    assert mark.written_ns is not None and before - 10**6 <= mark.written_ns <= time.time_ns()
    assert abs(st.st_mtime_ns - mark.written_ns) < 10**7  # the file's time is the mark's
    guard = check_replaceable(tmp_path / name, photo)
    assert guard.state is not None and guard.state.inode == st.st_ino
    other = tmp_path / "elsewhere" / "IMG_0001.png"
    other.parent.mkdir()
    other.write_bytes(b"the photo")  # same name and size, another folder: another photo
    assert photo_id(other).split("-")[1] == photo_id(photo).split("-")[1]
    assert photo_id(other).split("-")[0] != photo_id(photo).split("-")[0]
    with pytest.raises(OutputExistsError, match="render of another photo"):
        check_replaceable(tmp_path / name, other)
    assert check_replaceable(tmp_path / "missing.png", other).state is None


def test_bigtiff_marks_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tifffile writes BigTIFF ('II+\\0' / 'MM\\0+') past 4 GiB: such a render is still ours."""
    import tifffile

    from backend.encode import SOFTWARE, written_by_autoretouch

    pixels = np.zeros((4, 4, 3), np.uint16)
    for order in ("<", ">"):
        path = tmp_path / f"big{order == '<'}.tif"
        tifffile.imwrite(path, pixels, bigtiff=True, byteorder=order, software=SOFTWARE)
        assert path.read_bytes()[:4] in (b"II+\0", b"MM\0+")
        assert written_by_autoretouch(path), order
    from backend.encode import check_replaceable, photo_id, read_mark

    imwrite = tifffile.imwrite
    monkeypatch.setattr(tifffile, "imwrite", lambda *a, **k: imwrite(*a, bigtiff=True, **k))  # as past 4 GiB
    photo = tmp_path / "p.png"
    photo.write_bytes(b"photo")
    write_image(tmp_path / "render.tif", _in_gamut(6, 5), photo=photo_id(photo))
    assert (tmp_path / "render.tif").read_bytes()[:4] == b"II+\0"
    mark = read_mark(tmp_path / "render.tif")
    assert mark is not None and mark.size == (tmp_path / "render.tif").stat().st_size
    assert check_replaceable(tmp_path / "render.tif", photo).state is not None


def test_reading_a_mark_is_bounded_on_hostile_files(tmp_path: Path) -> None:
    """Headers only and a bounded number of them: a huge or looping structure is 'not ours', quickly."""
    import struct
    import time
    import zlib

    from backend.encode import written_by_autoretouch

    def chunk(ctype: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))

    sig = b"\x89PNG\r\n\x1a\n"
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    files = {
        # a Software text of 64 MiB (claimed; the file is short)
        "long_text.png": sig + ihdr + struct.pack(">I", 1 << 26) + b"tEXtSoftware\0autoretouch 0.1.0",
        # 100,000 chunks before the image data, the mark last
        "many.png": sig + ihdr + chunk(b"zzZz", b"") * 100_000 + chunk(b"tEXt", b"Software\0autoretouch 0.1.0"),
        # 100,000 empty segments before the EXIF one
        "many.jpg": b"\xff\xd8" + b"\xff\xfe\x00\x02" * 100_000,
        # IFD0 far past the end of the file; a classic TIFF whose Software value claims 4 GiB
        "far.tif": b"II+\0\x08\0\0\0" + struct.pack("<Q", 1 << 60),
        "huge_value.tif": b"II*\0\x08\0\0\0" + struct.pack("<HHHII", 1, 305, 2, 2**32 - 1, 26) + b"\0" * 4,
        "truncated.tif": b"MM\0*\0\0\0\x08\0\x05",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        start = time.perf_counter()
        assert not written_by_autoretouch(tmp_path / name), name
        assert time.perf_counter() - start < 1.0, name


def test_a_guarded_write_never_replaces_what_came_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a guard the final step replaces only the checked file, and takes an empty path without clobbering."""
    from backend.encode import OutputGuard, file_state

    target = tmp_path / "out.png"
    target.write_bytes(b"theirs")  # appeared after the check found nothing
    with pytest.raises(OutputExistsError, match="was created by another program while autoretouch rendered"):
        write_image(target, _in_gamut(4, 4), guard=OutputGuard(None))
    assert target.read_bytes() == b"theirs"
    checked = file_state(target)
    target.write_bytes(b"theirs, edited")  # changed after the check
    with pytest.raises(OutputExistsError, match="was changed by another program while autoretouch rendered"):
        write_image(target, _in_gamut(4, 4), guard=OutputGuard(checked))
    assert target.read_bytes() == b"theirs, edited"
    write_image(target, _in_gamut(4, 4), guard=OutputGuard(file_state(target)))  # unchanged since: replaced
    assert target.read_bytes()[:4] == b"\x89PNG"

    def no_hard_links(src: object, dst: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # FAT, some network shares

    monkeypatch.setattr(os, "link", no_hard_links)
    with pytest.raises(OutputExistsError, match="was created by another program"):
        write_image(target, _in_gamut(4, 4), guard=OutputGuard(None))
    write_image(tmp_path / "new.png", _in_gamut(4, 4), guard=OutputGuard(None))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.png", "out.png"]  # no temporary files left
