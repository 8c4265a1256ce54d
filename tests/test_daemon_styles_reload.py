"""A running daemon follows its style folders: a style retrained, added, broken or removed on disk is served as
it is now, without a restart (QA: a local ``train --style mine`` left the daemon suggesting mine@1)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from backend.daemon.styles import LoadedStyles, StyleRegistry
from backend.errors import NotFoundError
from backend.rpc import PROTOCOL_VERSION, pb
from testing.daemon import run_main, serving
from testing.styles import save_random_style

V = PROTOCOL_VERSION


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("reload")
    with serving(base) as served:
        yield {"served": served, "stub": served.stub}


def _suggest(env: dict[str, Any], style: str) -> Any:
    photo = env["served"].photos["jpg"]
    req = pb.SuggestRequest(protocol_version=V, path=str(photo), style=style)
    return env["stub"].Suggest(req, timeout=30).suggestions[0].recipe


def _listed(env: dict[str, Any]) -> dict[str, Any]:
    resp = env["stub"].ListStyles(pb.ListStylesRequest(protocol_version=V), timeout=10)
    return {s.name: s for s in resp.styles}


def test_a_style_retrained_in_place_is_served_at_its_new_version(
    env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    served, registry = env["served"], env["served"].daemon.service.registry
    before = _suggest(env, "warm")
    default = registry.get("default")
    assert before.model == "warm@1" and _listed(env)["warm"].model == "warm@1"
    save_random_style(served.styles, "warm", seed=7, model_version=2)  # what a local retraining writes
    after = _suggest(env, "warm")
    assert after.model == "warm@2" and after != before
    assert _listed(env)["warm"].model == "warm@2"
    assert registry.get("default") is default  # an unchanged style is not loaded again
    req = pb.WriteSidecarsRequest(
        protocol_version=V, paths=[str(served.photos["jpg"])], hosts=[pb.HOST_DARKTABLE], style="warm", dry_run=True
    )
    messages = list(env["stub"].WriteSidecars(req, timeout=60))
    assert messages[-1].model_version == "warm@2" and messages[0].file.recipe.model == "warm@2"
    code, out, _ = run_main(capsys, ["styles", "--json", "--server", served.server])
    assert code == 0 and {s["name"]: s["model_version"] for s in json.loads(out)["styles"]}["warm"] == 2


def test_styles_added_broken_and_removed_on_disk(env: dict[str, Any]) -> None:
    styles: Path = env["served"].styles
    weights = save_random_style(styles, "fresh", seed=3)
    assert _suggest(env, "fresh").model == "fresh@1"
    weights.write_bytes(weights.read_bytes()[:500])  # truncated in place
    listed = _listed(env)["fresh"]
    assert not listed.loaded and "invalid header length" in listed.error
    with pytest.raises(grpc.RpcError) as excinfo:
        _suggest(env, "fresh")
    assert excinfo.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]
    save_random_style(styles, "fresh", seed=4, model_version=5)  # repaired
    assert _suggest(env, "fresh").model == "fresh@5" and _listed(env)["fresh"].loaded
    weights.unlink()
    weights.with_suffix(".json").unlink()
    assert "fresh" not in _listed(env)
    with pytest.raises(grpc.RpcError) as excinfo:
        _suggest(env, "fresh")
    assert excinfo.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]


def test_the_registry_checks_the_folders_only_after_loading(tmp_path: Path) -> None:
    save_random_style(tmp_path, "default", seed=1)
    registry = StyleRegistry([tmp_path])
    assert not registry.snapshot().styles and not registry.loaded  # nothing is loaded before load()
    first = registry.load().styles["default"]
    assert registry.snapshot().styles["default"] is first and registry.default_model() == "default@1"
    save_random_style(tmp_path, "default", seed=2, model_version=3)
    assert registry.default_model() == "default@3" and registry.get("default") is not first


def test_a_reload_reads_each_style_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for seed, name in enumerate(("default", "warm", "cool")):
        save_random_style(tmp_path, name, seed=seed)
    real_open = os.open
    opened: list[str] = []

    def counting_open(path: Any, flags: int, *args: Any, **kw: Any) -> int:
        if str(path).endswith(".safetensors"):
            opened.append(Path(path).stem)
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", counting_open)
    registry = StyleRegistry([tmp_path])
    first = registry.load().styles
    assert sorted(opened) == ["cool", "default", "warm"]  # listed and loaded from one reading
    opened.clear()
    save_random_style(tmp_path, "warm", seed=9, model_version=2)  # retrained in place
    assert registry.get("warm").model == "warm@2"
    assert sorted(opened) == ["cool", "default", "warm"]  # every style validated by the listing, warm not again
    assert registry.get("cool") is first["cool"] and registry.get("default") is first["default"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "default",
            "no default style is installed on the daemon (looked in {looked}); name a style (see ListStyles) or "
            "train one",
        ),
        ("mine", "no style named 'mine' on the daemon (looked in {looked}); see ListStyles"),
    ],
)
@pytest.mark.parametrize("folders", [0, 2])
def test_a_style_the_daemon_does_not_have_is_named_with_the_folders_looked_in(
    tmp_path: Path, name: str, message: str, folders: int
) -> None:
    dirs = tuple(tmp_path / f"styles{i}" for i in range(folders))
    looked = ", ".join(str(d) for d in dirs) if dirs else "(no style folders)"
    with pytest.raises(NotFoundError) as excinfo:
        LoadedStyles(dirs=dirs).get(name)
    assert str(excinfo.value) == message.format(looked=looked)
