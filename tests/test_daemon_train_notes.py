"""A daemon's training names what it left out, as a local ``train`` does: ``TrainFinished.notes``.

A real daemon on loopback runs its real training worker on tiny pairs, one of them unreadable (an empty original)
and one whose name holds an escape character: ``train --server`` prints the notes as ``  note:`` lines, escaped,
exactly as the local command prints them for the same folders, and its ``--json`` has them under ``notes`` (as
they are); the JSON bridge passes them on (``POST /v1/train``'s ``finished``, and ``GET /v1/train/status``'s
``last.finished`` that the Lightroom plug-in polls after training from a selection). Retraining the style name
adds the note on the version it replaced, as locally.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from backend.cli.main import build_parser, main
from backend.encode import write_image
from backend.render.pipeline import render
from testing.daemon_train import QUICK_RESTORE, bridge_call, training_daemon, wait_until_idle, wait_until_not_running
from trainer.remote_train import remote_train
from trainer.synthetic import smooth_images

#: The name of a pair whose original holds an ESC (printed escaped, kept as it is in JSON).
ODD = "odd\x1b[2Jname"


def _pairs(folder: Path) -> tuple[Path, Path]:
    """Four good PNG pairs, one with an empty original (``empty``), one odd-named with an empty original."""
    before, after = folder / "before", folder / "after"
    before.mkdir(parents=True)
    after.mkdir()
    scenes = smooth_images(6, 24, seed=4)
    with torch.no_grad():
        for i in range(4):
            write_image(before / f"p{i}.png", render(scenes[i : i + 1], {"exposure": -0.3 * i}))
            write_image(after / f"p{i}.png", render(scenes[i : i + 1], {"exposure": 0.5}))
        for j, stem in enumerate(("empty", ODD)):
            (before / f"{stem}.png").write_bytes(b"")
            write_image(after / f"{stem}.png", scenes[4 + j : 5 + j])
    return before, after


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("train_notes")
    before, after = _pairs(base / "root" / "odd_pairs")
    with training_daemon(base) as trained:
        yield {"base": base, "before": before, "after": after, "config": trained.inputs.config,
               "server": trained.served.server, "port": trained.port, "daemon": trained.daemon,
               "tiny": trained.tiny}  # fmt: skip


def _argv(env: dict[str, Any], style: str, *more: str) -> list[str]:
    restore = [part for override in QUICK_RESTORE for part in ("--set", override)]
    pairs = ["--pairs", str(env["before"]), str(env["after"])]
    return ["train", *pairs, "--config", str(env["config"]), "--style", style, "--steps", "2", *restore, *more]


def _remote(env: dict[str, Any], argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    args.server, args.token = env["server"], None
    try:
        return remote_train(args)
    finally:
        wait_until_idle(env["daemon"])


def _note_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("  note: ")]


def test_remote_train_prints_the_notes_as_a_local_run_does(
    env: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _remote(env, _argv(env, "noted", "--quiet")) == 0
    remote = _note_lines(capsys.readouterr().out)
    assert len(remote) == 1, remote
    assert remote[0].startswith("  note: 2 before/after pairs could not be read, left out: empty (original empty.png")
    assert "odd\\x1b[2Jname (original odd\\x1b[2Jname.png" in remote[0]  # escaped, as locally
    assert "\x1b" not in remote[0]

    # the same folders trained here: the same note lines
    local_argv = [*_argv(env, "noted", "--quiet"), "--run-dir", str(tmp_path / "run"), "--no-install"]
    assert main(local_argv) == 0
    assert _note_lines(capsys.readouterr().out) == remote

    # retraining the name on the daemon: the note on the version it replaced follows, as locally
    assert _remote(env, _argv(env, "noted", "--quiet")) == 0
    again = _note_lines(capsys.readouterr().out)
    assert again[0] == remote[0] and len(again) == 2, again
    assert again[1].startswith("  note: noted@1 (created ") and " is replaced by noted@2 in " in again[1]
    assert "the old version is kept as " in again[1]


def test_remote_train_json_has_the_notes_as_they_are(env: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert _remote(env, _argv(env, "noted_json", "--json", "--quiet")) == 0
    summary = json.loads(capsys.readouterr().out)
    assert list(summary)[-1] == "notes" and len(summary["notes"]) == 1, summary
    note = summary["notes"][0]
    assert note.startswith("2 before/after pairs could not be read, left out: empty (original empty.png")
    assert f"{ODD} (original {ODD}.png" in note  # unescaped in JSON, as the local --json keeps it


def test_the_bridge_passes_the_notes_on(env: dict[str, Any]) -> None:
    body = {"protocol_version": 1, "name": "bridged", "steps": 2, "overrides": [*env["tiny"], *QUICK_RESTORE],
            "pairs_before": str(env["before"]), "pairs_after": str(env["after"])}  # fmt: skip
    code, raw = bridge_call(env["port"], "POST", "/v1/train", body)
    wait_until_idle(env["daemon"])
    assert code == 200, raw
    finished = [json.loads(line) for line in raw.splitlines() if line.strip()][-1]["finished"]
    assert len(finished["notes"]) == 1 and f"{ODD} (original {ODD}.png" in finished["notes"][0], finished


def test_lightroom_selection_notes_reach_the_status_the_plugin_polls(env: dict[str, Any]) -> None:
    photos = sorted(env["before"].glob("p*.png"))
    edits = [
        {"path": str(p), "settings": {"ProcessVersion": "11.0", "Exposure2012": 0.4 + 0.1 * i, "Contrast2012": 10}}
        for i, p in enumerate(photos)
    ]
    edits.append({"path": str(env["before"] / "empty.png"), "settings": {"ProcessVersion": "11.0", "Exposure2012": 1}})
    body = {"protocol_version": 1, "name": "from_lr_notes", "steps": 2, "overrides": [*env["tiny"], *QUICK_RESTORE],
            "lightroom_edits": edits}  # fmt: skip
    code, raw = bridge_call(env["port"], "POST", "/v1/train/start", body)
    assert code == 200, raw
    status = wait_until_not_running(env["port"])
    wait_until_idle(env["daemon"])
    assert status["state"] == "finished", status
    notes = status["last"]["finished"]["notes"]
    assert "1 photo could not be read, left out: empty.png (empty file)" in notes, notes  # the photo and why
