"""Installing a retrained style keeps the one it replaces in ``replaced/``: half-kept pairs, modes, refusals.

A copy killed half-way is completed, not left beside a ``NAME@N-2`` pair; a name holding other bytes (even
weights without their .json) is an earlier kept style, left as it is; the copies keep the installed files'
permission bits; a copy that cannot be written (a file named ``replaced``, a full disk, every name taken) refuses
the installation with a typed error that says where the trained style stays, and nothing is replaced.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
from pathlib import Path

import pytest
import torch

from backend.agent.network import AgentNet
from backend.agent.style import Style, save_style
from backend.errors import AutoretouchError
from testing.styles import save_random_style
from trainer import result
from trainer.install_notes import install_notes, installed_before
from trainer.result import REPLACED_DIR, ReplacedNotKeptError, install_style, keep_replaced


def _new(version: int, seed: int = 7) -> Style:
    torch.manual_seed(seed)
    return Style(name="qa", net=AgentNet().eval(), model_version=version)


def _installed(styles: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(styles.iterdir()) if p.is_file()}


def test_a_copy_killed_after_its_weights_is_completed_not_left_beside_a_second_pair(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    save_random_style(styles, "qa", seed=1, model_version=1)
    kept = styles / REPLACED_DIR
    kept.mkdir()
    shutil.copyfile(styles / "qa.safetensors", kept / "qa@1.safetensors")  # killed before the .json was copied
    install_style(_new(2), styles)
    assert sorted(p.name for p in kept.iterdir()) == ["qa@1.json", "qa@1.safetensors"]
    assert (kept / "qa@1.json").read_bytes() != b""


def test_a_copy_killed_after_its_json_is_completed(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    weights = save_random_style(styles, "qa", seed=1, model_version=1)
    kept = styles / REPLACED_DIR
    kept.mkdir()
    shutil.copyfile(styles / "qa.json", kept / "qa@1.json")  # the .json goes first; killed before the weights
    old = weights.read_bytes()
    assert keep_replaced(styles, "qa") == kept / "qa@1.safetensors"
    assert sorted(p.name for p in kept.iterdir()) == ["qa@1.json", "qa@1.safetensors"]
    assert (kept / "qa@1.safetensors").read_bytes() == old


def test_weights_without_their_json_that_differ_are_kept_and_ours_take_the_next_name(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    weights = save_random_style(styles, "qa", seed=1, model_version=1)
    kept = styles / REPLACED_DIR
    kept.mkdir()
    earlier = b"an earlier kept style whose .json the user deleted"  # never a half copy: copies are atomic
    (kept / "qa@1.safetensors").write_bytes(earlier)
    assert keep_replaced(styles, "qa") == kept / "qa@1-2.safetensors"
    assert sorted(p.name for p in kept.iterdir()) == ["qa@1-2.json", "qa@1-2.safetensors", "qa@1.safetensors"]
    assert (kept / "qa@1.safetensors").read_bytes() == earlier
    assert (kept / "qa@1-2.safetensors").read_bytes() == weights.read_bytes()
    assert (kept / "qa@1-2.json").read_bytes() == (styles / "qa.json").read_bytes()


def test_a_json_only_install_is_not_put_beside_weights_that_are_not_ours(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    save_random_style(styles, "qa", seed=1, model_version=1)
    (styles / "qa.safetensors").unlink()  # only the .json was installed
    kept = styles / REPLACED_DIR
    kept.mkdir()
    earlier = b"an earlier kept style's weights"
    (kept / "qa@1.safetensors").write_bytes(earlier)
    assert keep_replaced(styles, "qa") == kept / "qa@1-2.json"
    assert sorted(p.name for p in kept.iterdir()) == ["qa@1-2.json", "qa@1.safetensors"]
    assert (kept / "qa@1.safetensors").read_bytes() == earlier
    assert (kept / "qa@1-2.json").read_bytes() == (styles / "qa.json").read_bytes()


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_the_copies_keep_the_installed_files_permission_bits(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    save_random_style(styles, "qa", seed=1, model_version=1)
    for p in styles.iterdir():
        p.chmod(0o600)  # a private style stays private
    install_style(_new(2), styles)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (styles / REPLACED_DIR).iterdir()}
    assert modes == {"qa@1.json": 0o600, "qa@1.safetensors": 0o600}


def test_a_file_named_replaced_refuses_the_installation_and_says_where_the_style_stays(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    save_random_style(styles, "qa", seed=1, model_version=1)
    (styles / REPLACED_DIR).write_text("mine", encoding="utf-8")
    before = _installed(styles)
    run_style = tmp_path / "run" / "style"
    with pytest.raises(ReplacedNotKeptError) as caught:
        install_style(_new(2), styles, trained_in=run_style)
    message = str(caught.value)
    assert isinstance(caught.value, AutoretouchError) and caught.value.path == styles / REPLACED_DIR
    assert "not a folder" in message and "not installed" in message and f"{run_style}{os.sep}" in message
    assert _installed(styles) == before  # nothing replaced, the user's file untouched
    with pytest.raises(ReplacedNotKeptError, match="the run folder's style"):  # no run folder named
        install_style(_new(2), styles)


def test_a_full_disk_refuses_the_installation_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    styles = tmp_path / "styles"
    save_random_style(styles, "qa", seed=1, model_version=1)
    before = _installed(styles)

    def full(_src: object, _dst: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(result.shutil, "copyfile", full)
    with pytest.raises(ReplacedNotKeptError, match=os.strerror(errno.ENOSPC)):
        install_style(_new(2), styles)
    assert _installed(styles) == before
    assert list((styles / REPLACED_DIR).iterdir()) == []


def test_every_name_taken_refuses_rather_than_overwriting_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    styles = tmp_path / "styles"
    save_random_style(styles, "qa", seed=1, model_version=1)
    kept = styles / REPLACED_DIR
    kept.mkdir()
    for stem in ("qa@1", "qa@1-2"):  # two other pairs with the same number
        save_style(_new(1, seed=len(stem)), tmp_path / stem)
        for p in (tmp_path / stem).iterdir():
            shutil.copyfile(p, kept / f"{stem}{p.suffix}")
    taken = {p.name: p.read_bytes() for p in kept.iterdir()}
    monkeypatch.setattr(result, "_MAX_KEPT_NAMES", 2)
    with pytest.raises(ReplacedNotKeptError, match="all taken"):
        install_style(_new(2), styles)
    assert {p.name: p.read_bytes() for p in kept.iterdir()} == taken


def test_a_style_installed_without_weights_is_noted_by_its_json(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    save_random_style(styles, "qa", seed=1, model_version=1)
    (styles / "qa.safetensors").unlink()  # only the .json was installed
    before = installed_before(styles, "qa")
    kept = result.install_keeping(_new(2), styles).kept
    assert kept == styles / REPLACED_DIR / "qa@1.json"
    assert sorted(p.name for p in (styles / REPLACED_DIR).iterdir()) == ["qa@1.json"]
    assert keep_replaced(styles, "nothing") is None
    summary = {
        "installed_path": str(styles / "qa.safetensors"),
        "run_dir": str(tmp_path / "run"),
        "kept_path": str(kept),
    }
    (note,) = install_notes("qa", styles, before, summary)
    assert f"kept as {styles / REPLACED_DIR / 'qa@1.json'}" in note and "qa@1.safetensors" not in note


def test_install_keeping_names_the_copy_it_kept(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    first = result.install_keeping(_new(1), styles)
    assert first == (styles / "qa.safetensors", None)  # a first installation keeps nothing
    second = result.install_keeping(_new(2, seed=8), styles)
    assert second == (styles / "qa.safetensors", styles / REPLACED_DIR / "qa@1.safetensors")


@pytest.mark.parametrize("method", ["restore", "gan"])
def test_the_retraining_note_names_the_copy_made_not_a_look_alike(
    method: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from backend.cli.main import main
    from testing.training import two_step_restore_toml
    from trainer.synthetic import write_style_folders

    targets, _, _ = write_style_folders(tmp_path / "data", n_targets=2, n_sources=1, size=40, seed=5)
    styles = tmp_path / "styles"
    install_style(_new(1), styles)
    # a stray copy of the installed .json, alone: its metadata is the replaced style's, and it sorts first
    (styles / REPLACED_DIR).mkdir()
    shutil.copyfile(styles / "qa.json", styles / REPLACED_DIR / "qa@0.json")
    config = two_step_restore_toml(tmp_path / "tiny.toml")
    args = ["train", "--style", "qa", "--targets", str(targets), "--config", str(config), "--steps", "2"]
    args += ["--run-dir", str(tmp_path / "run"), "--install-dir", str(styles), "--force", "--quiet", "--json"]
    assert main([*args, "--set", f"run.method={method}"]) == 0
    summary = json.loads(capsys.readouterr().out)
    kept = styles / REPLACED_DIR / "qa@1.safetensors"
    assert summary["kept_path"] == str(kept) and kept.is_file()
    (note,) = summary["notes"]
    assert "qa@1 (created" in note and "is replaced by qa@2" in note
    assert f"the old version is kept as {kept} and its .json (copy both back as qa.safetensors and qa.json" in note
    assert "qa@0.json" not in note


def test_a_replaced_style_with_unreadable_metadata_is_noted_where_it_is_kept(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    install_style(_new(1), styles)
    (styles / "qa.json").write_text("{ not json", encoding="utf-8")
    before = installed_before(styles, "qa")
    assert before is None  # unreadable: no version to name
    kept = result.install_keeping(_new(2), styles).kept
    assert kept is not None and kept.name == "qa@unknown.safetensors" and kept.is_file()
    summary = {
        "installed_path": str(styles / "qa.safetensors"),
        "run_dir": str(tmp_path / "run"),
        "kept_path": str(kept),
    }
    (note,) = install_notes("qa", styles, before, summary)
    assert f"is kept as {kept}" in note and "could not be read" in note
