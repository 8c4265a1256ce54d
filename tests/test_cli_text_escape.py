"""Text output escapes control characters of file names (QA): a name with a line break cannot split or forge a line.

Real commands on generated JPEGs whose names hold a line break, an escape sequence or a bidi override; ``--json``
keeps the names as they are (JSON escapes them itself).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.cli.main import main
from backend.cli.printable import printable
from testing.fixtures import gradient_jpeg_named
from testing.recipes import write_exposure_recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: A name that, printed raw, would end the photo's line and start a forged ``written`` line.
FORGING = "bad\nwritten      lightroom forged.jpg"
#: Actions a line of ``apply``/``revert`` text output starts with, or its indented detail lines.
_LINE_STARTS = ("written ", "would-write ", "skipped ", "deleted ", "failed ", "  ")


_jpeg = gradient_jpeg_named


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    return write_exposure_recipe(tmp_path / "recipe.json")


def test_printable_escapes_controls_and_keeps_ordinary_unicode() -> None:
    assert printable(FORGING) == "bad\\nwritten      lightroom forged.jpg"
    assert printable("a\x1b[2J\r\tb\x7f") == "a\\x1b[2J\\r\\tb\\x7f"
    assert printable("evil\u202egpj.exe") == "evil\\u202egpj.exe"  # a bidi override cannot reverse the rest
    assert printable("lat\udce9.jpg") == "lat\\udce9.jpg"  # an undecodable byte of a name
    kept = "Café 東京 Ωμέγα 👨\u200d👩\u200d👧 tab-less.jpg"
    assert printable(kept) == kept and printable(Path("/a b/c.jpg")) == "/a b/c.jpg"


def test_apply_and_revert_text_escape_names_and_json_keeps_them(
    tmp_path: Path, recipe: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = _jpeg(tmp_path / FORGING)
    missing = tmp_path / "gone\x1b[2J.jpg"
    assert main(["apply", str(photo), str(missing), "--recipe", str(recipe), "--host", "both"]) == 9
    out, err = capsys.readouterr()
    lines = (out + err).splitlines()
    assert all(line.startswith(_LINE_STARTS) for line in lines), lines  # no line starts inside a name
    assert f"written      darktable {tmp_path}/bad\\nwritten      lightroom forged.jpg.xmp" in out
    assert "\x1b" not in out + err and f"  error: {tmp_path}/gone\\x1b[2J.jpg: photo not found" in err
    assert Path(f"{photo}.xmp").is_file()  # the sidecar itself has the real name

    assert main(["revert", str(photo), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert {r["photo"] for r in rows} == {str(photo)}  # JSON: the name as it is
    assert not Path(f"{photo}.xmp").exists()


def test_suggest_text_escapes_the_photo_line_and_the_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = _jpeg(tmp_path / FORGING)
    broken = tmp_path / "broken\r\x1b[31m.jpg"
    broken.write_bytes(b"")  # a 0-byte JPEG: fails, the batch goes on
    assert main(["suggest", str(photo), str(broken)]) == 9
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"{tmp_path}/bad\\nwritten      lightroom forged.jpg  (style default, strength 1)"
    assert all(line.startswith("  ") for line in out.splitlines()[1:])  # the recipe's lines, nothing forged
    (error,) = err.splitlines()
    assert error.startswith(f"autoretouch: error: {tmp_path}/broken\\r\\x1b[31m.jpg: ") and "\x1b" not in err
