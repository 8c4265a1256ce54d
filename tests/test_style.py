"""Style files: save/load round trip, validation with typed errors, no code execution, the style store."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import backend.agent.style as style_mod
from backend.agent.network import AgentNet
from backend.agent.style import (
    DEFAULT_STYLE,
    Style,
    StyleError,
    StyleStore,
    load_style,
    read_metadata,
    save_style,
)
from backend.errors import NotFoundError
from backend.sliders.catalog import CATALOG_VERSION

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _style(name: str = "warm", seed: int = 0, **net_kwargs: object) -> Style:
    torch.manual_seed(seed)
    return Style(
        name=name,
        net=AgentNet(**net_kwargs).eval(),  # type: ignore[arg-type]
        description="test style",
        training={"source": "synthetic", "photos": 12},
        metrics={"critic_score": 0.25},
        model_version=3,
    )


def _outputs(net: AgentNet) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    thumb = torch.rand(2, 3, net.thumb, net.thumb, generator=g)
    used = torch.zeros(2, len(net.sliders), dtype=torch.bool)
    used[1, 0] = True
    with torch.inference_mode():
        out = net(thumb, torch.tensor([0, 2]), used)
    return [out.logits, out.state_value, *out.values.values()]


def test_round_trip_gives_the_same_outputs(tmp_path: Path) -> None:
    style = _style(sliders=("exposure", "contrast", "tone_curve", "hsl"), max_steps=4, width=16, dropout=0.2)
    weights = save_style(style, tmp_path / "new")
    assert weights == tmp_path / "new" / "warm.safetensors"
    assert weights.with_suffix(".json").is_file()
    for spec in (weights, weights.with_suffix(".json"), tmp_path / "new" / "warm"):
        loaded = load_style(spec)
        assert not loaded.net.training
        assert loaded.net.config() == style.net.config()
        for a, b in zip(_outputs(style.net), _outputs(loaded.net), strict=True):
            assert torch.equal(a, b)
        assert (loaded.name, loaded.description, loaded.model_version) == ("warm", "test style", 3)
        assert loaded.training == style.training and loaded.metrics == style.metrics
        assert loaded.created == style.created and loaded.catalog_version == CATALOG_VERSION
        assert loaded.model == "warm@3" and loaded.path == weights
    meta = json.loads(weights.with_suffix(".json").read_text())
    assert meta["format"] == "autoretouch-style" and meta["agent"]["sliders"] == [
        "exposure",
        "contrast",
        "tone_curve",
        "hsl",
    ]
    assert not list((tmp_path / "new").glob("*.tmp"))


def test_a_prior_agent_travels_in_the_same_files(tmp_path: Path) -> None:
    style = _style(sliders=("exposure", "contrast"), max_steps=1, oneshot=True, encoder="stats", width=16, thumb=32)
    torch.manual_seed(7)
    prior = AgentNet(sliders=("exposure", "saturation"), max_steps=1, oneshot=True, encoder="stats", thumb=48).eval()
    for net in (style.net, prior):  # one-shot agents start at the identity: give them something to say
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.05 * torch.randn_like(p))
    style.prior, style.prior_share, style.prior_from = prior, 0.25, "default@4"
    assert style.thumb == 48
    weights = save_style(style, tmp_path)
    loaded = load_style(weights)
    assert loaded.prior is not None and not loaded.prior.training
    assert (loaded.prior_share, loaded.prior_from, loaded.thumb) == (0.25, "default@4", 48)
    assert loaded.prior.config() == prior.config()
    for a, b in zip(_outputs(prior), _outputs(loaded.prior), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(_outputs(style.net), _outputs(loaded.net), strict=True):
        assert torch.equal(a, b)
    meta = json.loads(weights.with_suffix(".json").read_text())
    del meta["weights_sha256"]  # the metadata of the hand-made weights below (as a style written before the digest)
    assert meta["prior"]["share"] == 0.25 and meta["prior"]["agent"]["sliders"] == ["exposure", "saturation"]
    listed = StyleStore([tmp_path]).list()[0].to_dict()  # what `styles --json` shows
    assert listed["prior"] == {"from": "default@4", "share": 0.25}

    # the metadata promises a prior that the weights lack, or describes it wrongly
    plain = {k: v.contiguous() for k, v in style.net.state_dict().items()}
    save_file(plain, str(tmp_path / "bare.safetensors"))
    (tmp_path / "bare.json").write_text(json.dumps(meta | {"name": "bare"}))
    with pytest.raises(StyleError, match=r"missing \['prior\."):
        load_style(tmp_path / "bare.safetensors")
    for prior_meta, message in [
        (meta["prior"] | {"share": 0.0}, "prior.share"),
        (meta["prior"] | {"share": True}, "prior.share"),
        (meta["prior"] | {"from": 3}, "prior.from"),
        (meta["prior"] | {"agent": meta["agent"] | {"oneshot": False, "max_steps": 5}}, "one-shot"),
        ([1], "'prior' must be an object"),
    ]:
        _write_meta(weights, prior=prior_meta)
        with pytest.raises(StyleError, match=message):
            load_style(weights)


def _write_meta(weights: Path, **changes: object) -> None:
    meta_path = weights.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta.update(changes)
    meta_path.write_text(json.dumps(meta))


def _forget_digest(weights: Path) -> None:
    """Drop ``weights_sha256`` from the metadata (a style written before it existed), so hand-made weights load."""
    meta_path = weights.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    del meta["weights_sha256"]
    meta_path.write_text(json.dumps(meta))


def test_pickle_disguised_as_safetensors_is_refused_without_running_it(tmp_path: Path) -> None:
    weights = save_style(_style(), tmp_path)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[Path]]:
            return (Path.touch, (marker,))

    pickle.loads(pickle.dumps(Payload()))  # the payload really runs when unpickled ...
    assert marker.exists()
    marker.unlink()
    weights.write_bytes(pickle.dumps({"encoder.0.weight": Payload()}))
    with pytest.raises(StyleError) as info:
        load_style(weights)  # ... but loading a style never unpickles
    assert str(weights) in str(info.value) and "safetensors" in str(info.value)
    assert not marker.exists()
    torch.save(_style().net.state_dict(), weights)  # a torch.save zip (pickle inside) is refused as well
    with pytest.raises(StyleError, match="safetensors"):
        load_style(weights)


def test_loading_never_uses_pickle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = save_style(_style(), tmp_path)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle-based loading used")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    assert load_style(weights).name == "warm"


def test_weights_that_do_not_match_the_metadata(tmp_path: Path) -> None:
    weights = save_style(_style(width=16), tmp_path)
    _forget_digest(weights)
    _write_meta(weights, agent={"sliders": ["exposure"], "max_steps": 5, "width": 16, "dropout": 0.1, "thumb": 64})
    with pytest.raises(StyleError, match="shape") as info:
        load_style(weights)
    assert str(weights) in str(info.value)
    state = {k: v.contiguous() for k, v in _style(width=16).net.state_dict().items()}
    state.pop("critic_head.bias")
    save_file(state, str(weights))
    _write_meta(weights, agent=_style(width=16).net.config())
    with pytest.raises(StyleError, match="missing"):
        load_style(weights)
    state = {k: v.contiguous() for k, v in _style(width=16).net.state_dict().items()}
    state["extra"] = torch.zeros(2)
    save_file(state, str(weights))
    with pytest.raises(StyleError, match="unexpected"):
        load_style(weights)
    state.pop("extra")
    state["critic_head.bias"] = torch.tensor([float("nan")])
    save_file(state, str(weights))
    with pytest.raises(StyleError, match="NaN"):
        load_style(weights)
    state["critic_head.bias"] = torch.tensor([1], dtype=torch.int64)
    save_file(state, str(weights))
    with pytest.raises(StyleError, match="dtype"):
        load_style(weights)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"catalog_version": CATALOG_VERSION + 1}, "catalog version"),
        ({"format": "something-else"}, "not an autoretouch style"),
        ({"format_version": 2}, "format version"),
        ({"name": "other"}, "names the style"),
        ({"name": "../evil"}, "invalid style name"),
        ({"agent": {"sliders": ["clarity"], "max_steps": 5, "width": 32, "dropout": 0.1, "thumb": 64}}, "sliders"),
        ({"agent": {"sliders": ["exposure"], "max_steps": 5, "width": 9999, "dropout": 0.1, "thumb": 64}}, "width"),
        (
            {"agent": {"sliders": ["exposure"], "max_steps": True, "width": 32, "dropout": 0.1, "thumb": 64}},
            "max_steps",
        ),
        ({"training": [1, 2]}, "training"),
        ({"created": "yesterday"}, "created"),
        ({"model_version": 0}, "model_version"),
    ],
)
def test_invalid_metadata_is_a_typed_error(tmp_path: Path, changes: dict[str, object], message: str) -> None:
    weights = save_style(_style(), tmp_path)
    _write_meta(weights, **changes)
    with pytest.raises(StyleError, match=message) as info:
        load_style(weights)
    assert str(tmp_path) in str(info.value)


def test_unreadable_metadata_and_size_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = save_style(_style(), tmp_path)
    weights.with_suffix(".json").write_text("{not json")
    with pytest.raises(StyleError, match="not valid JSON"):
        read_metadata(weights.with_suffix(".json"))
    save_style(_style(), tmp_path)
    monkeypatch.setattr(style_mod, "MAX_WEIGHTS_BYTES", 1000)
    with pytest.raises(StyleError, match="limit"):
        load_style(weights)
    weights.with_suffix(".json").unlink()
    with pytest.raises(NotFoundError):
        load_style(weights)
    with pytest.raises(NotFoundError):
        load_style(tmp_path / "absent.safetensors")


def test_size_limit_messages_name_the_file_its_size_and_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta = save_style(_style(), tmp_path).with_suffix(".json")
    size = meta.stat().st_size
    monkeypatch.setattr(style_mod, "MAX_METADATA_BYTES", 10)
    with pytest.raises(StyleError, match=rf"warm\.json: metadata of {size:,} bytes exceeds the 10-byte limit"):
        read_metadata(meta)
    grows = Path("/proc/self/status")  # regular, st_size 0: as a file that grew after the fstat
    if grows.is_file():
        with pytest.raises(StyleError, match=r"status: metadata exceeds the 10-byte limit"):
            read_metadata(grows)
    with pytest.raises(NotFoundError, match=r"absent\.json: style metadata not found"):
        read_metadata(tmp_path / "absent.json")


def test_save_refuses_bad_names_and_non_json_metadata(tmp_path: Path) -> None:
    with pytest.raises(StyleError, match="invalid style name"):
        save_style(_style(name="../escape"), tmp_path)
    bad = _style()
    bad.metrics = {"loss": float("nan")}
    with pytest.raises(StyleError, match="JSON"):
        save_style(bad, tmp_path)
    assert not list(tmp_path.iterdir())


def test_store_lists_finds_and_shadows(tmp_path: Path) -> None:
    user, shipped = tmp_path / "user", tmp_path / "shipped"
    save_style(_style("warm", seed=1), user)
    save_style(_style("warm", seed=2), shipped)
    save_style(_style("film", seed=3), shipped)
    broken = save_style(_style("broken"), user)
    _write_meta(broken, catalog_version=999)
    (user / "orphan.json").write_text("{}")
    store = StyleStore([user, tmp_path / "missing", shipped])
    infos = store.list()
    by = {(i.name, i.directory): i for i in infos}
    assert set(by) == {("broken", user), ("orphan", user), ("warm", user), ("warm", shipped), ("film", shipped)}
    assert by[("broken", user)].error is not None and "catalog version" in by[("broken", user)].error
    assert by[("orphan", user)].error is not None and "weights file missing" in by[("orphan", user)].error
    assert by[("warm", shipped)].shadowed and not by[("warm", user)].shadowed
    row = by[("film", shipped)].to_dict()
    assert row["training"] == {"source": "synthetic", "photos": 12} and row["metrics"] == {"critic_score": 0.25}
    assert row["catalog_version"] == CATALOG_VERSION and row["model_version"] == 3 and row["created"]
    assert store.find("warm") == user / "warm.safetensors"
    for a, b in zip(_outputs(store.load("warm").net), _outputs(_style("warm", seed=1).net), strict=True):
        assert torch.equal(a, b)
    assert load_style("film", store=store).path == shipped / "film.safetensors"
    with pytest.raises(NotFoundError, match="no style named 'nope'"):
        store.find("nope")
    with pytest.raises(NotFoundError, match="no default style is installed"):
        store.find(DEFAULT_STYLE)


def test_default_dirs_follow_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    monkeypatch.setenv("AUTORETOUCH_STYLES", f"{one}{os.pathsep}{two}")
    monkeypatch.setattr(style_mod, "SHIPPED_STYLES_DIR", tmp_path / "shipped")
    store = StyleStore()
    assert store.dirs == [one, two, tmp_path / "shipped"]
    assert store.source_of(tmp_path / "shipped") == "shipped" and store.source_of(one) == "user"
    save_style(_style("mine"), two)
    assert load_style("mine").path == two / "mine.safetensors"
    monkeypatch.delenv("AUTORETOUCH_STYLES")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert StyleStore().dirs[0] == tmp_path / "home" / ".local" / "share" / "autoretouch" / "styles"
