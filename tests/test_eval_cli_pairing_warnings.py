"""``eval`` reports the pairing's warnings as its own: prefixed, escaped, and in ``--json``.

The names ``match_pairs`` leaves out as ambiguous (a PNG and a JPEG original of one name) and its notes used to be
logged through Python's fallback handler (``eval`` sets up no logging): no ``autoretouch: warning:`` prefix, a
file name's control characters written raw to the terminal, and nothing in ``--json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from backend.cli.main import main
from backend.encode import write_image
from testing.styles import isolate_style_store, save_random_style
from trainer.synthetic import smooth_images

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ESC_NAME = "q\x1b[31mred"


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Three good pairs, one name with a PNG and a JPEG original (ambiguous), and a lonely reference."""
    save_random_style(tmp_path / "styles", "throwaway", 3)
    isolate_style_store(monkeypatch, tmp_path / "styles", tmp_path / "no-shipped-styles")
    inputs, refs = tmp_path / "inputs", tmp_path / "refs"
    inputs.mkdir()
    refs.mkdir()
    scenes = smooth_images(4, 32, seed=5).split(1)
    for i, scene in enumerate(scenes[:3]):
        write_image(inputs / f"p{i}.png", scene)
        write_image(refs / f"p{i}.png", (scene * 1.2).clamp(0, 1))
    write_image(inputs / f"{ESC_NAME}.png", scenes[3])
    write_image(inputs / f"{ESC_NAME}.jpg", scenes[3])
    write_image(refs / f"{ESC_NAME}.png", scenes[3])
    write_image(refs / "lonely\x1b.png", torch.full((1, 3, 32, 32), 0.5))
    return inputs, refs


def test_eval_prints_the_left_out_names_escaped_and_in_json(
    folders: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, refs = folders
    argv = ["eval", "--style", "throwaway", "--inputs", str(inputs), "--references", str(refs), "--size", "32"]
    assert main([*argv, "--allow-unmatched", "--json"]) == 0
    out = capsys.readouterr()
    assert "\x1b" not in out.err  # the names escaped, as printable writes them
    left_out = [line for line in out.err.splitlines() if "pairing is ambiguous" in line]
    assert len(left_out) == 1 and left_out[0].startswith("autoretouch: warning: left out, pairing is ambiguous: ")
    assert (
        "q\\x1b[31mred.png / q\\x1b[31mred.jpg" in left_out[0] or "q\\x1b[31mred.jpg / q\\x1b[31mred.png" in left_out[0]
    )
    lonely = f"autoretouch: warning: {refs / 'lonely'}\\x1b.png: no partner of the same name; skipped"
    assert lonely in out.err.splitlines(), out.err  # a line of its own, prefixed, the name escaped
    data = json.loads(out.out)
    assert data["photos"] == 3
    assert len(data["left_out_ambiguous"]) == 1 and ESC_NAME in data["left_out_ambiguous"][0]
    assert data["pairing_notes"] == []
