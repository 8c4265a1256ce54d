"""Slider-history training: expert order and values from a FiveK-layout catalog, behaviour cloning, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from backend.agent.rollout import rollout
from backend.agent.style import StyleStore
from backend.cli.main import main
from backend.encode import write_image
from backend.render.pipeline import render
from testing.lrcat_fixtures import FivekFixture, make_fivek_catalog
from testing.training import ramp_photos, tiny_train_toml
from trainer.checkpoint import load_checkpoint
from trainer.config import ImitationConfig, TrainConfig, load_config
from trainer.imitation import (
    expert_order,
    load_expert_data,
    resolve_photo,
    run_imitation,
    teacher_forcing,
    write_finetune_checkpoint,
)
from trainer.pseudo_labels import StemIndex

SLIDERS = ("exposure", "contrast", "highlights", "shadows", "vibrance", "temperature", "tone_curve")

TINY_TOML = (
    tiny_train_toml(SLIDERS, max_steps=5, log_every=10)
    + """
[imitation]
batch = 16
fit_size = 24
fit_iters = 25
"""
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _fivek(tmp_path: Path, photos: int = 3, renditions: bool = False) -> tuple[FivekFixture, Path, Path]:
    """A FiveK-layout catalog (its recorded paths do not exist here), input PNGs and optional renditions."""
    fx = make_fivek_catalog(tmp_path / "fivek.lrcat", photos=photos, experts=("C", "D"))
    x = ramp_photos(photos, 32, seed=11)
    inputs, rend = tmp_path / "inputs", tmp_path / "expertC"
    inputs.mkdir()
    rend.mkdir()
    for i, photo in enumerate(fx.photos):
        write_image(inputs / f"{photo.base_name}.png", x[i : i + 1], bit_depth=16)
        if renditions:
            with torch.no_grad():
                y = render(x[i : i + 1], {"exposure": 0.3, "contrast": 15.0, "vibrance": 40.0})
            write_image(rend / f"{photo.base_name}.png", y, bit_depth=16)
    return fx, inputs, rend


def test_expert_order_follows_the_history_then_the_pipeline() -> None:
    first = {"vibrance": 1, "exposure": 3, "contrast": 3}
    order, by = expert_order(["exposure", "sharpen", "hsl", "vibrance", "contrast", "temperature"], first, SLIDERS, 5)
    # history first (ties in pipeline order: exposure's stage precedes contrast's), then the rest in pipeline order;
    # sharpen (spatial) and hsl (not an agent slider here) are dropped
    assert order == ("vibrance", "exposure", "contrast", "temperature") and by == "history"
    assert expert_order(["contrast", "temperature", "exposure"], {}, SLIDERS, 2) == (
        ("exposure", "temperature"),
        "pipeline",
    )


def test_input_photos_are_resolved_recorded_then_below_the_catalog_then_by_stem(tmp_path: Path) -> None:
    (tmp_path / "HQa1to700" / "photos").mkdir(parents=True)
    below = tmp_path / "HQa1to700" / "photos" / "a0001-x.dng"
    below.write_bytes(b"raw")
    recorded = "D:/fivek_dataset/raw_photos/HQa1to700/photos/a0001-x.dng"
    assert resolve_photo(recorded, "a0001-x", tmp_path, None) == below
    assert resolve_photo(str(below), "a0001-x", tmp_path / "elsewhere", None) == below  # the recorded path exists
    (tmp_path / "flat").mkdir()
    write_image(tmp_path / "flat" / "a0002-y.png", ramp_photos(1, 8, seed=0))
    index = StemIndex(tmp_path / "flat")
    assert resolve_photo("D:/gone/a0002-y.dng", "a0002-y", tmp_path, index) == tmp_path / "flat" / "a0002-y.png"
    assert resolve_photo("D:/gone/a0003-z.dng", "a0003-z", tmp_path, index) is None


def test_targets_follow_the_history_and_states_are_teacher_forced(tmp_path: Path) -> None:
    fx, inputs, _ = _fivek(tmp_path, photos=2)
    (inputs / f"{fx.photos[1].base_name}.png").unlink()  # a photo that cannot be found is skipped
    data = load_expert_data(fx.path, "D", sliders=SLIDERS, max_steps=5, thumb=16, icfg=ImitationConfig(), photos=inputs)
    assert len(data.targets) == 1 and data.summary["skipped"] == 1 and data.summary["targets"] == "pv2003"
    target = data.targets[0]
    # expert D: Brightness (-> tone_curve), then Exposure, as the fixture's history steps say
    assert target.order == ("tone_curve", "exposure") and target.ordered_by == "history"
    exposure = fx.photos[0].experts["D"][1]["Exposure"]  # PV2003 Exposure maps to the same EV
    assert target.values["exposure"] == pytest.approx(exposure)
    samples = teacher_forcing(data, SLIDERS, 5)
    assert samples.actions.tolist() == [SLIDERS.index("tone_curve"), SLIDERS.index("exposure"), len(SLIDERS)]  # STOP
    assert samples.steps.tolist() == [0, 1, 2]
    assert samples.used[2].nonzero().flatten().tolist() == sorted(SLIDERS.index(s) for s in target.order)
    with torch.no_grad():
        expected = render(data.thumbs, {"tone_curve": target.values["tone_curve"]})
    assert torch.allclose(samples.states[1:2], expected, atol=1e-6)
    assert torch.equal(samples.states[0:1], data.thumbs)
    assert torch.allclose(samples.values["exposure"][1], torch.tensor(float(exposure)))

    capped = load_expert_data(
        fx.path, "C", sliders=SLIDERS, max_steps=3, thumb=16, icfg=ImitationConfig(), photos=inputs
    )
    assert capped.targets[0].order == ("contrast", "shadows", "exposure")  # C's first three moves; no STOP state
    assert len(teacher_forcing(capped, SLIDERS, 3)) == 3


def test_imitation_learns_the_expert_and_is_reproducible(tmp_path: Path) -> None:
    fx, inputs, _ = _fivek(tmp_path, photos=3)
    (tmp_path / "tiny.toml").write_text(TINY_TOML)
    cfg = load_config(tmp_path / "tiny.toml", ["imitation.steps=80", "run.seed=5", "run.style=bc"])
    first = run_imitation(cfg, catalog=fx.path, expert="C", run_dir=tmp_path / "a", photos=inputs, export=False)
    before, after = first.result.before, first.result.after
    assert after["ce"] < 0.5 * before["ce"]
    assert after["value"] < 0.5 * before["value"]
    assert after["first_slider_accuracy"] == 1.0
    first.net.eval()
    with torch.no_grad():
        traj = rollout(first.net, first.data.thumbs, greedy=True, render_final=False)
    assert all(order[:1] == ("contrast",) for order in traj.orders)  # expert C starts with Contrast
    labels = json.loads((tmp_path / "a" / "imitation" / "labels.json").read_text())
    assert [p["order"][0] for p in labels["photos"]] == ["contrast"] * 3
    assert (tmp_path / "a" / "imitation" / "metrics.csv").read_text().count("\n") == 1 + 8

    # the GAN phase starts from these weights: a step-0 checkpoint that train(resume=True) continues
    start = load_checkpoint(write_finetune_checkpoint(cfg, first.net, tmp_path / "a"))
    assert start.step == 0
    assert all(torch.equal(start.tensors[f"agent.{k}"], v) for k, v in first.net.state_dict().items())

    again = run_imitation(cfg, catalog=fx.path, expert="C", run_dir=tmp_path / "b", photos=inputs, export=False)
    assert all(
        torch.equal(a, b) for a, b in zip(first.net.state_dict().values(), again.net.state_dict().values(), strict=True)
    )
    other = load_config(tmp_path / "tiny.toml", ["imitation.steps=80", "run.seed=6", "run.style=bc"])
    changed = run_imitation(other, catalog=fx.path, expert="C", run_dir=tmp_path / "c", photos=inputs, export=False)
    assert not torch.equal(changed.net.value_head.weight, first.net.value_head.weight)


def test_cli_imitation_only_writes_a_loadable_style(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fx, inputs, _ = _fivek(tmp_path, photos=3)
    (tmp_path / "tiny.toml").write_text(TINY_TOML)
    styles, run = tmp_path / "styles", tmp_path / "runs" / "expertC"
    common = ["--lrcat", str(fx.path), "--expert", "C", "--photos", str(inputs), "--run-dir", str(run)]
    rc = main(["train", "--style", "expertC", *common, "--config", str(tmp_path / "tiny.toml"), "--steps", "40",
               "--install-dir", str(styles), "--json", "--quiet"])  # fmt: skip
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    out = json.loads(captured.out)
    assert out["mode"] == "imitation" and out["steps"] == 40  # without fine-tuning, --steps bounds the imitation
    style = StyleStore([styles]).load("expertC")
    assert style.training["mode"] == "imitation" and style.training["expert"] == "C" and style.training["photos"] == 3
    assert style.metrics["ce_after"] < style.metrics["ce_before"]
    assert style.net.sliders == SLIDERS
    assert not (run / "checkpoints").exists()
    assert out["kept_path"] is None and out["notes"] == []  # a first installation replaces nothing

    # retrained: the summary names the copy kept of the style it replaced
    again = [*common[:-1], str(tmp_path / "runs" / "again"), "--config", str(tmp_path / "tiny.toml")]
    assert main(["train", "--style", "expertC", *again, "--steps", "2", "--install-dir", str(styles), "--json",
                 "--quiet"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    kept = styles / "replaced" / "expertC@1.safetensors"
    assert out["kept_path"] == str(kept) and kept.is_file()
    assert "is replaced by expertC@2" in out["notes"][0] and f"kept as {kept} and its .json" in out["notes"][0]

    # usage errors are typed: exit 2, as argparse's own
    assert main(["train", "--style", "x", "--lrcat", str(fx.path), "--run-dir", str(tmp_path / "e")]) == 2
    assert "--expert" in capsys.readouterr().err
    assert main(["train", "--style", "x", "--expert", "C", "--targets", str(inputs), "--no-install"]) == 2
    assert main(["train", "--style", "x", "--no-install"]) == 2
    assert main(["train", "--style", "x", "--lrcat", str(tmp_path / "missing.lrcat"), "--expert", "C",
                 "--no-install", "--run-dir", str(tmp_path / "m")]) == 6  # fmt: skip


def test_cli_imitation_then_gan_finetuning_from_renditions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fx, inputs, rend = _fivek(tmp_path, photos=3, renditions=True)
    (tmp_path / "tiny.toml").write_text(TINY_TOML)
    run = tmp_path / "runs" / "expertC"
    args = ["train", "--style", "expertC", "--lrcat", str(fx.path), "--expert", "C", "--photos", str(inputs),
            "--renditions", str(rend), "--config", str(tmp_path / "tiny.toml"), "--imitation-steps", "20",
            "--steps", "2", "--run-dir", str(run), "--no-install", "--json", "--quiet"]  # fmt: skip
    rc = main(args)
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    out = json.loads(captured.out)
    assert out["mode"] == "imitation + gan" and out["steps"] == 2
    summary = out["imitation"]["summary"]
    assert summary["targets"] == "pseudo-labels" and summary["fit_psnr"] > summary["fit_psnr_pv2003"]
    style = StyleStore([run / "style"]).load("expertC")
    assert "imitation of expert C" in style.description
    start = load_checkpoint(run / "checkpoints" / "step_0000000.json")
    assert start.step == 0 and "agent.value_head.weight" in start.tensors
    assert TrainConfig().imitation.finetune  # fine-tuning is the default when targets exist
    assert main([*args[:-2], "--quiet"]) == 3  # the folder has checkpoints now: needs --resume
    capsys.readouterr()
