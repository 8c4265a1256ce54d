"""A raw that cannot be decoded gives way to the camera's JPEG of the same name (QA).

Shot RAW+JPEG into one folder, a name's raw is paired rather than its JPEG. When that raw turns out to be damaged
(or from a camera LibRaw does not support), the pair used to be dropped ("original p0.CR2: ...") although the
usable JPEG sat beside it; now the JPEG is decoded instead, and that is noted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.cli.main import main
from testing.styles import isolate_style_store, save_random_style
from testing.training import TINY_PAIRS_TOML, raw_fallback_folders
from trainer.data.pairs import load_paired_views, match_pairs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """``before/pI.png`` and ``after/pI.jpg`` for I < 4, but ``p0`` is a damaged ``p0.CR2`` beside a good JPEG."""
    return raw_fallback_folders(tmp_path)


def test_the_camera_jpeg_is_used_where_the_raw_cannot_be_decoded(folders: tuple[Path, Path]) -> None:
    from trainer.data.pairs import load_pair_noted

    before, after = folders
    match = match_pairs(before, after)
    p0 = match.pairs[0]
    assert p0.input == before / "p0.CR2" and p0.alternative == before / "p0.jpg"
    assert all(p.alternative is None for p in match.pairs[1:])
    views = load_paired_views(match.pairs, cache_size=16, eval_size=16, crops=1, seed=0)
    assert views.skipped == ()  # was: ("before/p0.CR2: ...",), the pair dropped
    assert [p.input.name for p in views.pairs] == ["p0.jpg", "p1.png", "p2.png", "p3.png"]
    assert len(views.notes) == 1 and views.notes[0].startswith("p0: the raw p0.CR2 cannot be decoded (")
    assert views.notes[0].endswith("; p0.jpg is paired instead")
    used, x, ref, note = load_pair_noted(p0, 32)
    assert used.input.name == "p0.jpg" and note == views.notes[0] and x.shape == ref.shape


def test_train_and_eval_use_the_camera_jpeg(
    folders: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = folders
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_PAIRS_TOML, encoding="utf-8")
    run = tmp_path / "run"
    argv = ["train", "--style", "s", "--pairs", str(before), str(after), "--steps", "2", "--config", str(config)]
    assert main([*argv, "--run-dir", str(run), "--no-install", "--force", "--quiet"]) == 0
    record = json.loads((run / "style" / "s.json").read_text(encoding="utf-8"))["training"]
    assert record["pairs"] == 4, record  # was 3: p0 dropped
    capsys.readouterr()

    save_random_style(tmp_path / "styles", "throwaway", 3)
    isolate_style_store(monkeypatch, tmp_path / "styles", tmp_path / "no-shipped-styles")
    argv = ["eval", "--style", "throwaway", "--inputs", str(before), "--references", str(after), "--size", "32"]
    assert main([*argv, "--json"]) == 0  # was 9: p0 failed
    out = capsys.readouterr()
    assert json.loads(out.out)["photos"] == 4
    assert "autoretouch: warning: p0: the raw p0.CR2 cannot be decoded (" in out.err
