"""``styles`` escapes its text listing by the rule every other command uses (``backend.text.printable``).

The listing had its own, stricter escaping (``\\x0a`` for a line break, a zero-width joiner and private-use
characters escaped) while ``apply``, ``suggest``, ``catalog`` ... print ``\\n`` and keep ordinary Unicode. Real
commands: a style in a folder whose name holds a line break, an escape sequence, accents, a joined emoji and a
private-use icon, with a description holding a carriage return and accented letters; ``apply --dry-run`` on a
photo in the same folder prints the folder's name exactly as ``styles`` does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.cli.printable import printable
from testing.daemon import run_main
from testing.fixtures import gradient_jpeg_named
from testing.recipes import write_exposure_recipe
from testing.styles import isolate_style_store, save_random_style

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: A folder name: a line break and an escape sequence (escaped), accents, CJK, a joined emoji and a private-use
#: icon (kept).
FOLDER = "Café\nwritten \x1b[2J 東京 👨\u200d👩 \ue000"
#: What every text report prints for :data:`FOLDER`.
FOLDER_SHOWN = "Café\\nwritten \\x1b[2J 東京 👨\u200d👩 \ue000"
#: A description: a carriage return (escaped) and accented letters (kept).
DESCRIPTION = "Crème brûlée\r tones, Ωμέγα"


def test_styles_prints_names_and_descriptions_as_the_other_commands_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / FOLDER
    save_random_style(folder, "warm", seed=0, description=DESCRIPTION)
    isolate_style_store(monkeypatch, folder, tmp_path / "no-shipped")
    assert printable(folder) == f"{tmp_path}/{FOLDER_SHOWN}"

    code, out, _ = run_main(capsys, ["styles"])
    assert code == 0
    lines = out.splitlines()
    assert f"  {tmp_path}/{FOLDER_SHOWN}  (user)" in lines  # the folders searched
    assert f"warm  (user: {tmp_path}/{FOLDER_SHOWN})" in lines
    assert "  Crème brûlée\\r tones, Ωμέγα" in lines
    assert not any(c in out for c in "\x1b\r") and "\\x0a" not in out and "\\u200d" not in out

    photo = gradient_jpeg_named(folder / "p.jpg")
    recipe = write_exposure_recipe(tmp_path / "recipe.json")
    code, out, _ = run_main(capsys, ["apply", str(photo), "--recipe", str(recipe), "--host", "darktable", "--dry-run"])
    assert code == 0
    assert f"would-write  darktable {tmp_path}/{FOLDER_SHOWN}/p.jpg.xmp" in out.splitlines()

    code, out, _ = run_main(capsys, ["styles", "--json"])
    (style,) = json.loads(out)["styles"]
    assert style["description"] == DESCRIPTION and style["directory"] == str(folder)  # JSON: as they are
