"""``StyleStore.list`` and ``autoretouch styles`` check each style's weights header, not only its metadata."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from backend.agent.style import StyleError, StyleStore, check_weights
from testing.daemon import run_main
from testing.styles import isolate_style_store, save_random_style

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _copy_as(weights: Path, name: str, data: bytes) -> Path:
    """A style ``name`` next to ``weights`` with the same metadata (renamed) and the weights bytes ``data``."""
    meta = json.loads(weights.with_suffix(".json").read_text()) | {"name": name}
    target = weights.with_name(f"{name}.safetensors")
    target.write_bytes(data)
    target.with_suffix(".json").write_text(json.dumps(meta))
    return target


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    weights = save_random_style(tmp_path / "styles", "default", seed=0)
    raw = weights.read_bytes()
    _copy_as(weights, "trunc", raw[:500])
    _copy_as(weights, "short", raw[:-1])
    _copy_as(weights, "padded", raw + b"\0\0")
    _copy_as(weights, "tiny", raw[:5])
    shutil.copy(weights, weights.with_name("copy.safetensors"))
    _copy_as(weights, "copy", raw)
    return tmp_path / "styles"


def test_the_listing_flags_weights_that_are_not_a_complete_safetensors_file(store_dir: Path) -> None:
    infos = {i.name: i for i in StyleStore([store_dir]).list()}
    assert infos["default"].error is None and infos["copy"].error is None
    assert infos["default"].metadata["model_version"] == 1
    for name in ("trunc", "short", "padded", "tiny"):
        error = infos[name].error
        assert error is not None and "not a safetensors weights file" in error, name
        assert str(store_dir / f"{name}.safetensors") in error
    assert "invalid header length" in str(infos["trunc"].error)
    assert "header too small" in str(infos["tiny"].error)


def test_check_weights_is_a_typed_error_and_passes_a_good_file(store_dir: Path) -> None:
    check_weights(store_dir / "default.safetensors")
    with pytest.raises(StyleError, match="not fully covered"):
        check_weights(store_dir / "short.safetensors")


def test_styles_marks_a_truncated_style_unusable(
    capsys: pytest.CaptureFixture[str], store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_style_store(monkeypatch, store_dir, tmp_path / "no-shipped")
    code, out, _ = run_main(capsys, ["styles", "--json"])
    rows = {s["name"]: s for s in json.loads(out)["styles"]}
    assert code == 0 and rows["default"]["error"] is None
    assert "invalid header length" in rows["trunc"]["error"]
    code, text, _ = run_main(capsys, ["styles"])
    assert code == 0 and "trunc  (user: " in text
    assert "UNUSABLE: " in text.split("trunc  (user: ", 1)[1].split("\n", 2)[1]


def test_the_text_listing_shows_long_lists_and_tables_by_their_size(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"photo_{i:03d}.jpg" for i in range(40)]
    config = {f"section{i}": {"key": "a value that makes the table long"} for i in range(8)}
    training = {"targets": 40, "target_names": names, "held_out": ["a.jpg", "b.jpg"], "config": config}
    save_random_style(tmp_path / "styles", "mine", seed=0, training=training)
    isolate_style_store(monkeypatch, tmp_path / "styles", tmp_path / "no-shipped")
    code, text, _ = run_main(capsys, ["styles"])
    (line,) = [x for x in text.splitlines() if x.startswith("  training: ")]
    assert code == 0
    assert line == '  training: targets=40, target_names=[40 items], held_out=["a.jpg", "b.jpg"], config={8 keys}'
    code, out, _ = run_main(capsys, ["styles", "--json"])  # whole there
    (row,) = json.loads(out)["styles"]
    assert row["training"]["target_names"] == names and row["training"]["config"] == config
