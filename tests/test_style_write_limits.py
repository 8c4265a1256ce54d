"""Saving and installing a style when the OS refuses the bytes: a file-size limit (``EFBIG``), a full disk.

A real condition, not a mock: each case runs in a child process whose ``RLIMIT_FSIZE`` is set (``SIGXFSZ``
ignored, so a write past the limit fails with ``EFBIG`` instead of killing the process). What the user must get:
a typed error (exit status 3) naming the file and the cause, no temporary file left, no half-written file, the
installed pair as it was (never new weights beside the old .json), and the message saying where the trained
style stays. The last test covers a move that fails after the weights were replaced (the .json's name is a folder).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from backend.agent.network import AgentNet
from backend.agent.style import Style, load_style, save_style
from backend.errors import OutputError
from trainer.result import REPLACED_DIR, install_keeping

try:
    import resource
    import signal

    HAS_FSIZE = hasattr(resource, "RLIMIT_FSIZE") and hasattr(signal, "SIGXFSZ")
except ImportError:  # pragma: no cover - Windows
    HAS_FSIZE = False

ROOT = Path(__file__).resolve().parents[1]

needs_fsize = pytest.mark.skipif(
    not HAS_FSIZE, reason="needs resource.RLIMIT_FSIZE and signal.SIGXFSZ (POSIX) to make writes fail with EFBIG"
)

#: The child's prelude: a file-size limit of LIMIT bytes, SIGXFSZ ignored (writes past it fail with EFBIG).
_PRELUDE = """\
import json, resource, signal, sys
sys.path.insert(0, {root!r})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
"""

#: The child's body for a style: print the typed error (type, message, exit status) as JSON, or "ok".
_CALL = """\
import torch
from backend.agent.network import AgentNet
from backend.agent.style import Style, save_style
from backend.errors import AutoretouchError
from trainer.result import install_keeping
torch.manual_seed(2)
style = Style("qa", AgentNet(sliders=["exposure"], width={width}, thumb=16).eval(), model_version=2,
              training={training})
try:
    {call}
except AutoretouchError as exc:
    print(json.dumps({{"type": type(exc).__name__, "message": str(exc), "exit_code": exc.exit_code}}))
else:
    print("ok")
"""


def _run_limited(limit: int, body: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``body`` in a child process whose files cannot grow past ``limit`` bytes."""
    script = _PRELUDE.format(root=str(ROOT), limit=limit) + textwrap.dedent(body)
    env = os.environ | {"PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", script, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _limited_style_call(limit: int, call: str, *, width: int = 8, training: str = "{}") -> dict[str, object]:
    """Save or install a fresh style ``qa`` (``call``) under a file-size limit; the typed error it raised."""
    proc = _run_limited(limit, _CALL.format(width=width, training=training, call=call))
    assert proc.returncode == 0, f"no typed error (a raw traceback?):\n{proc.stderr[-3000:]}"
    assert proc.stdout.strip() != "ok", "the write did not fail: is the limit too large?"
    return dict(json.loads(proc.stdout))


def _old_pair(styles: Path) -> dict[str, bytes]:
    """Install a small style ``qa`` (version 1, about 4 kB) into ``styles``; its files' bytes."""
    torch.manual_seed(1)
    save_style(Style("qa", AgentNet(sliders=["exposure"], width=2, thumb=16).eval(), model_version=1), styles)
    return _files(styles)


def _files(folder: Path) -> dict[str, bytes]:
    """Every file at ``folder``'s top level (temporary files included), by name."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@needs_fsize
def test_weights_past_the_file_size_limit_give_a_typed_error_and_leave_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "style"
    error = _limited_style_call(50_000, f"save_style(style, {str(folder)!r})", width=32)  # ~100 kB of weights
    assert error["type"] == "OutputError" and error["exit_code"] == OutputError.exit_code == 3
    assert error["message"] == (
        f"{folder / 'qa.safetensors'}: cannot write the style "
        "(File too large: past the file-size limit, ulimit -f, or the largest file the file system holds)"
    )
    assert _files(folder) == {}  # no temporary file, no truncated weights


@needs_fsize
def test_a_json_past_the_limit_leaves_the_old_pair_not_new_weights_beside_the_old_json(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    before = _old_pair(styles)
    big = '{"notes": ["x" * 100] * 2000}'  # a ~200 kB .json beside ~28 kB weights (width 8)
    error = _limited_style_call(150_000, f"save_style(style, {str(styles)!r})", training=big)
    assert error["type"] == "OutputError"
    assert str(error["message"]).startswith(f"{styles / 'qa.json'}: cannot write the style (File too large")
    assert _files(styles) == before  # the weights were not replaced: the pair still matches
    assert load_style(styles / "qa.safetensors").model_version == 1


@needs_fsize
def test_installing_past_the_limit_keeps_the_installed_pair_and_says_where_the_style_stays(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    before = _old_pair(styles)
    run_style = tmp_path / "runs" / "qa" / "style"
    call = f"install_keeping(style, {str(styles)!r}, trained_in={str(run_style)!r})"
    error = _limited_style_call(50_000, call, width=32)  # ~100 kB of weights; the old pair's copies fit
    assert error["type"] == "OutputError" and error["exit_code"] == 3
    assert error["message"] == (
        f"{styles / 'qa.safetensors'}: cannot write the style "
        "(File too large: past the file-size limit, ulimit -f, or the largest file the file system holds); "
        f"the trained style was not installed: it stays in {run_style}{os.sep}; the installed qa was left as it was"
    )
    assert _files(styles) == before
    kept = styles / REPLACED_DIR
    assert _files(kept) == {"qa@1.json": before["qa.json"], "qa@1.safetensors": before["qa.safetensors"]}


@needs_fsize
def test_a_copy_of_the_replaced_style_past_the_limit_names_the_copy_and_the_cause(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    torch.manual_seed(1)
    save_style(Style("qa", AgentNet(sliders=["exposure"], width=8, thumb=16).eval(), model_version=1), styles)
    before = _files(styles)
    error = _limited_style_call(10_000, f"install_keeping(style, {str(styles)!r}, trained_in='runs/qa/style')")
    assert error["type"] == "ReplacedNotKeptError" and error["exit_code"] == 3
    copy = styles / REPLACED_DIR / "qa@1.safetensors"
    assert f"({copy}: File too large: past the file-size limit" in str(error["message"])
    assert "nothing was replaced: it stays in runs/qa/style" in str(error["message"])
    assert _files(styles) == before
    assert sorted(p.name for p in (styles / REPLACED_DIR).iterdir()) == ["qa@1.json"]  # completed by a retry


@needs_fsize
def test_train_past_the_limit_says_which_file_and_why_with_the_mapped_exit_status(tmp_path: Path) -> None:
    from testing.training import two_step_restore_toml
    from trainer.synthetic import write_style_folders

    targets, _, _ = write_style_folders(tmp_path / "data", n_targets=2, n_sources=1, size=40, seed=5)
    styles = tmp_path / "styles"
    before = _old_pair(styles)
    config = two_step_restore_toml(tmp_path / "tiny.toml")
    run = tmp_path / "run"
    args = ["train", "--style", "qa", "--targets", str(targets), "--config", str(config), "--steps", "2"]
    args += ["--run-dir", str(run), "--install-dir", str(styles), "--force", "--quiet"]
    # the weights are ~100 kB; the run folder's plots (~60 kB and less) fit
    proc = _run_limited(95_000, "from backend.cli.main import main\nsys.exit(main(sys.argv[1:]))\n", *args)
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.rstrip().endswith(
        f"autoretouch: error: {run / 'style' / 'qa.safetensors'}: cannot write the style "
        "(File too large: past the file-size limit, ulimit -f, or the largest file the file system holds)"
    ), proc.stderr[-3000:]
    assert _files(run / "style") == {}
    assert _files(styles) == before and not (styles / REPLACED_DIR).exists()


def test_a_json_move_that_fails_after_the_weights_says_the_pair_is_mixed_and_where_the_old_one_is(
    tmp_path: Path,
) -> None:
    styles = tmp_path / "styles"
    torch.manual_seed(1)
    save_style(Style("qa", AgentNet(sliders=["exposure"], width=2, thumb=16).eval(), model_version=1), styles)
    old = (styles / "qa.safetensors").read_bytes()
    (styles / "qa.json").unlink()
    (styles / "qa.json").mkdir()  # the .json's move fails (EISDIR) after the weights were moved
    torch.manual_seed(2)
    new = Style("qa", AgentNet(sliders=["exposure"], width=2, thumb=16).eval(), model_version=2)
    with pytest.raises(OutputError) as info:
        install_keeping(new, styles, trained_in=tmp_path / "run" / "style")
    kept = styles / REPLACED_DIR / "qa@unknown"
    assert str(info.value).startswith(f"{styles / 'qa.json'}: cannot write the style (")
    assert "qa.safetensors was already replaced, so the pair is mixed (loading refuses it)" in str(info.value)
    assert str(info.value).endswith(
        f"the trained style was not installed: it stays in {tmp_path / 'run' / 'style'}{os.sep}; "
        f"the replaced qa is kept as {kept}.* (copy them back as qa.safetensors and qa.json)"
    )
    assert (kept.with_suffix(".safetensors")).read_bytes() == old
    assert sorted(p.name for p in styles.iterdir()) == ["qa.json", "qa.safetensors", REPLACED_DIR]


@needs_fsize
def test_a_run_folder_file_past_the_limit_is_named_with_the_cause_not_a_traceback(tmp_path: Path) -> None:
    from testing.training import two_step_restore_toml
    from trainer.synthetic import write_style_folders

    targets, _, _ = write_style_folders(tmp_path / "data", n_targets=2, n_sources=1, size=40, seed=5)
    config = two_step_restore_toml(tmp_path / "tiny.toml")
    run = tmp_path / "run"
    args = ["train", "--style", "qa", "--targets", str(targets), "--config", str(config), "--steps", "2"]
    args += ["--run-dir", str(run), "--no-install", "--force", "--quiet"]
    # 5 kB: the run folder's first picture (a contact sheet or the curves) does not fit
    proc = _run_limited(5_000, "from backend.cli.main import main\nsys.exit(main(sys.argv[1:]))\n", *args)
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    last = proc.stderr.rstrip().splitlines()[-1]
    assert last.startswith(f"autoretouch: error: {run}{os.sep}"), last
    assert last.endswith(
        ".png: cannot write (File too large: past the file-size limit, ulimit -f, or the largest file the file "
        "system holds)"
    ), last
    assert not [p for p in run.rglob("*.tmp")]  # the temporary file went with the failed write


@needs_fsize
def test_a_checkpoint_past_the_limit_is_a_checkpoint_error_naming_the_file(tmp_path: Path) -> None:
    # 20 kB: the weights (40 kB) do not fit (safetensors' own file writer raised an untyped "I/O error" here)
    body = f"""\
        import torch
        from trainer.checkpoint import Checkpoint, CheckpointError, save_checkpoint
        try:
            save_checkpoint(Checkpoint(step=3, tensors={{"agent.w": torch.zeros(10_000)}}, meta={{}}), {str(tmp_path)!r})
        except CheckpointError as exc:
            print(json.dumps({{"message": str(exc), "exit_code": exc.exit_code}}))
        """
    proc = _run_limited(20_000, body)
    assert proc.returncode == 0, f"not a CheckpointError (a raw traceback?):\n{proc.stderr[-3000:]}"
    out = json.loads(proc.stdout)
    assert out["exit_code"] == 8
    assert out["message"] == (
        f"{tmp_path / 'step_0000003.safetensors'}: cannot write checkpoint (File too large: past the file-size "
        "limit, ulimit -f, or the largest file the file system holds)"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temporary file, no half checkpoint
