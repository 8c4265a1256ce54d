"""The style listing validates as loading does; the weights' digest ties a style's two files together; plain output
escapes control characters; special files and misnamed styles get their own messages; ``--style ""`` is refused."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import backend.agent.style as style_mod
from backend.agent.style import (
    SHIPPED_STYLES_DIR,
    StyleError,
    StyleStore,
    load_style,
    read_metadata,
    weights_digest,
)
from backend.cli.main import main
from backend.errors import NotFoundError
from testing.daemon import run_main
from testing.styles import isolate_style_store, save_random_style

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _rewrite_weights(weights: Path, change: str) -> None:
    """Replace the style's weights by a copy with one defect; its metadata loses the digest (an older style)."""
    state = {k: v.clone().contiguous() for k, v in load_style(weights).net.state_dict().items()}
    if change == "nan":
        state["policy_head.bias"][0] = float("nan")
    elif change == "inf":
        state["trunk.0.weight"].view(-1)[0] = float("inf")
    elif change == "shape":
        state["policy_head.bias"] = state["policy_head.bias"][:3].clone()
    elif change == "int":
        state["policy_head.bias"] = torch.zeros_like(state["policy_head.bias"], dtype=torch.int32)
    elif change == "extra":
        state["extra.tensor"] = torch.zeros(2)
    elif change == "missing":
        del state["policy_head.bias"]
    save_file(state, str(weights))
    meta = json.loads(weights.with_suffix(".json").read_text())
    meta.pop("weights_sha256", None)
    weights.with_suffix(".json").write_text(json.dumps(meta))


DEFECTS = {
    "nan": "contains NaN or infinite values",
    "inf": "contains NaN or infinite values",
    "shape": "has shape (3,)",
    "int": "has dtype torch.int32",
    "extra": "unexpected ['extra.tensor']",
    "missing": "missing ['policy_head.bias']",
}


@pytest.mark.parametrize("change", list(DEFECTS))
def test_the_listing_refuses_what_loading_refuses(
    change: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    styles = tmp_path / "styles"
    save_random_style(styles, "fine", seed=0)
    weights = save_random_style(styles, "bad", seed=1)
    _rewrite_weights(weights, change)
    with pytest.raises(StyleError) as refused:
        load_style("bad", store=StyleStore([styles]))
    infos = {i.name: i for i in StyleStore([styles]).list()}
    assert infos["fine"].error is None
    assert infos["bad"].error == str(refused.value) and DEFECTS[change] in str(infos["bad"].error)
    isolate_style_store(monkeypatch, styles, tmp_path / "no-shipped")
    code, out, _ = run_main(capsys, ["styles", "--json"])
    rows = {s["name"]: s for s in json.loads(out)["styles"]}
    assert code == 0 and rows["fine"]["error"] is None and DEFECTS[change] in rows["bad"]["error"]
    code, text, _ = run_main(capsys, ["styles"])
    assert code == 0 and "  UNUSABLE: " in text.split("bad  (user: ", 1)[1].split("\n", 2)[1]


def test_the_listing_builds_one_net_per_agent_shape_and_leaves_the_rng_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        save_random_style(tmp_path, f"s{i}", seed=i)
    built: list[object] = []
    real = style_mod._net_from
    monkeypatch.setattr(style_mod, "_net_from", lambda agent: built.append(agent) or real(agent))
    monkeypatch.setattr(style_mod, "_SPECS", {})
    torch.manual_seed(3)
    state = torch.random.get_rng_state()
    infos = StyleStore([tmp_path]).list()
    assert [i.error for i in infos] == [None] * 5
    assert len(built) == 1  # the five styles share one agent shape
    assert torch.equal(torch.random.get_rng_state(), state)


# -- the digest ---------------------------------------------------------------------------------------


def test_save_records_the_weights_digest(tmp_path: Path) -> None:
    weights = save_random_style(tmp_path, "warm", seed=0)
    meta = read_metadata(weights.with_suffix(".json"))
    assert meta["weights_sha256"] == weights_digest(weights.read_bytes())


def _torn_pair(tmp_path: Path) -> Path:
    """New weights with the old metadata: a retraining that stopped between save_style's two writes."""
    old = save_random_style(tmp_path / "old", "warm", seed=1)
    new = save_random_style(tmp_path / "new", "warm", seed=2)
    styles = tmp_path / "styles"
    styles.mkdir()
    shutil.copy(new, styles / new.name)
    shutil.copy(old.with_suffix(".json"), styles / "warm.json")
    return styles / "warm.safetensors"


def test_a_pair_from_different_trainings_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = _torn_pair(tmp_path)
    for spec in (weights, weights.with_suffix(".json")):
        with pytest.raises(StyleError, match="weights and metadata are from different trainings") as refused:
            load_style(spec)
        assert str(weights) in str(refused.value) and str(weights.with_suffix(".json")) in str(refused.value)
    (info,) = StyleStore([weights.parent]).list()
    assert info.error is not None and "from different trainings" in info.error
    isolate_style_store(monkeypatch, weights.parent, tmp_path / "no-shipped")
    code, _, err = run_main(
        capsys, ["suggest", str(SHIPPED_STYLES_DIR.parents[1] / "samples/kodim03.png"), "--style", "warm"]
    )
    assert code != 0 and "from different trainings" in err


def test_styles_without_the_digest_load_as_before_and_a_malformed_one_is_refused(tmp_path: Path) -> None:
    weights = _torn_pair(tmp_path)
    meta = json.loads(weights.with_suffix(".json").read_text())
    del meta["weights_sha256"]
    weights.with_suffix(".json").write_text(json.dumps(meta))
    assert load_style(weights).name == "warm"  # an older style: nothing to compare
    assert StyleStore([weights.parent]).list()[0].error is None
    weights.with_suffix(".json").write_text(json.dumps(meta | {"weights_sha256": "ABC"}))
    with pytest.raises(StyleError, match="'weights_sha256' must be 64 lowercase hexadecimal digits"):
        load_style(weights)


def test_the_shipped_default_records_its_digest_and_loads() -> None:
    weights = SHIPPED_STYLES_DIR / "default.safetensors"
    meta = read_metadata(weights.with_suffix(".json"))
    assert meta["weights_sha256"] == weights_digest(weights.read_bytes())
    assert load_style(weights).name == "default"
    assert [i.error for i in StyleStore([SHIPPED_STYLES_DIR]).list()] == [None]


# -- plain output ---------------------------------------------------------------------------------------


def test_plain_output_escapes_control_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = "\x1b[2J\x1b[31mPWNED\x1b[0m\r\nfake  (user: x)\u202e"
    save_random_style(tmp_path, "ansi", seed=0, description=hostile, metrics={"note": "a\x07b"})
    isolate_style_store(monkeypatch, tmp_path, tmp_path / "no-shipped")
    code, out, _ = run_main(capsys, ["styles"])
    assert code == 0
    assert not any(c in out for c in "\x1b\r\x07\u202e")
    assert "  \\x1b[2J\\x1b[31mPWNED\\x1b[0m\\r\\nfake  (user: x)\\u202e\n" in out
    assert "note=a\\x07b" in out
    assert not any(line.startswith("fake") for line in out.splitlines())
    code, out, _ = run_main(capsys, ["styles", "--json"])
    assert json.loads(out)["styles"][0]["description"] == hostile  # JSON escapes on its own


# -- special files and names ---------------------------------------------------------------------------------


def _special_style(styles: Path, kind: str) -> None:
    """A style ``odd`` whose weights file is a symbolic link to /dev/zero, a folder or a FIFO."""
    save_random_style(styles, "odd", seed=0)
    (styles / "odd.safetensors").unlink()
    if kind == "devzero":
        os.symlink("/dev/zero", styles / "odd.safetensors")
    elif kind == "folder":
        (styles / "odd.safetensors").mkdir()
    else:
        os.mkfifo(styles / "odd.safetensors")


@pytest.mark.parametrize("kind", ["devzero", "fifo", "folder"])
def test_weights_that_are_not_a_regular_file(kind: str, tmp_path: Path) -> None:
    if kind == "devzero" and not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    if kind == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs")
    styles = tmp_path / "styles"
    _special_style(styles, kind)
    word = {"devzero": "a character device", "fifo": "a named pipe (FIFO)", "folder": "a directory"}[kind]
    (info,) = StyleStore([styles]).list()
    assert info.error is not None and f"not a regular file ({word})" in info.error
    with pytest.raises(
        StyleError, match=rf"odd.safetensors: the weights file is not a regular file \({re.escape(word)}\)"
    ):
        load_style("odd", store=StyleStore([styles, tmp_path / "later"]))
    with pytest.raises(StyleError, match="not a regular file"):
        load_style(styles / "odd.safetensors")


def test_metadata_that_is_a_folder_is_named_not_a_crash(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    save_random_style(styles, "odd", seed=0)
    (styles / "odd.json").unlink()
    (styles / "odd.json").mkdir()
    (info,) = StyleStore([styles]).list()
    assert info.error is not None and "odd.json" in info.error and "not a regular file (a directory)" in info.error
    with pytest.raises(StyleError, match=r"odd.json: the metadata file is not a regular file \(a directory\)"):
        load_style("odd", store=StyleStore([styles]))


def test_a_style_folder_that_is_a_file_is_not_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a_file = tmp_path / "styles.txt"
    a_file.write_text("not a folder")
    isolate_style_store(monkeypatch, a_file, tmp_path / "no-shipped")
    code, out, _ = run_main(capsys, ["styles"])
    assert code == 0
    assert f"  {a_file}  (user, not a folder)\n" in out
    assert f"  {tmp_path / 'no-shipped'}  (shipped, missing)\n" in out


def test_a_style_named_with_its_extension_points_to_the_installed_style(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    styles = tmp_path / "styles"
    save_random_style(styles, "f1", seed=0)
    monkeypatch.chdir(tmp_path)
    for spec in ("f1.json", "f1.safetensors"):
        with pytest.raises(
            NotFoundError, match=r"style weights not found \(to use the installed style 'f1'.*--style f1\)"
        ):
            load_style(spec, store=StyleStore([styles]))
    with pytest.raises(NotFoundError) as info:
        load_style("f2.json", store=StyleStore([styles]))
    assert "installed style" not in str(info.value)


# -- the command line ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [["suggest"], ["render", "--out-dir", "OUT"], ["apply", "--host", "darktable"]], ids=lambda c: c[0]
)
def test_an_empty_style_name_is_refused(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = tmp_path / "photo.png"
    shutil.copy(SHIPPED_STYLES_DIR.parents[1] / "samples/kodim03.png", photo)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:  # "" is not the default style: a script's unset $STYLE
        main([*command, str(photo), "--style", ""])
    assert exited.value.code == 2
    assert "argument --style: empty style name" in capsys.readouterr().err
