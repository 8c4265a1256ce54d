"""``apply --server --recipe R --strength 0`` says what the in-process command says: strength 0, not "changes nothing".

A recipe scaled to strength 0 travels with ``strength = 0``, which proto3 cannot tell from "not given"; the
request's own optional ``strength`` carries it instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from testing.daemon import run_main, serving, use_daemon_env


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("remote-zero")
    (base / "root").mkdir()
    (base / "root" / "recipe.json").write_text(
        json.dumps({"version": 1, "steps": [{"slider": "exposure", "value": 0.8}]})
    )
    with serving(base) as served:
        yield {"root": served.root, "photos": served.photos, "styles": served.styles, "server": served.server}


@pytest.fixture
def here(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return use_daemon_env(env, monkeypatch)


def _both(capsys: pytest.CaptureFixture[str], here: dict[str, Any], argv: list[str]) -> tuple[Any, Any]:
    local = run_main(capsys, argv)
    remote = run_main(capsys, [*argv, "--server", here["server"]])
    return local, remote


@pytest.mark.parametrize("extra", [[], ["--json"], ["--dry-run"]], ids=["text", "json", "dry-run"])
def test_strength_zero_reason_matches_in_process(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any], extra: list[str]
) -> None:
    argv = ["apply", "a.jpg", "--recipe", "recipe.json", "--host", "darktable", "--strength", "0", *extra]
    local, remote = _both(capsys, here, argv)
    assert "strength 0" in local[1]
    assert remote[:2] == local[:2]


def test_strength_zero_over_an_earlier_edit_matches_in_process(
    capsys: pytest.CaptureFixture[str], here: dict[str, Any]
) -> None:
    base = ["apply", "b.png", "--recipe", "recipe.json", "--host", "darktable"]
    outs = []
    for server in ([], ["--server", here["server"]]):
        assert run_main(capsys, [*base, "--strength", "0.5", "--overwrite", *server])[0] == 0
        code, out, _ = run_main(capsys, [*base, "--strength", "0", "--overwrite", *server])
        outs.append((code, out))
    assert "took out the earlier autoretouch edit (strength 0)" in outs[0][1]
    assert outs[1] == outs[0]
