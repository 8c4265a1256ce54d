"""End to end: a seconds-long unpaired training run learns a hidden synthetic style (brighter and warmer)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import torch

from backend.agent.rollout import rollout
from backend.agent.style import load_style
from backend.agent.thumbnail import make_thumbnail
from backend.render.pipeline import render
from trainer.config import config_from_dict
from trainer.evaluate import look_statistics
from trainer.synthetic import HIDDEN_RECIPE, write_style_folders
from trainer.train import train

# 32x32 thumbnails, three sliders (one of them a distractor), two decisions per photo
TINY = {
    "agent": {"sliders": ["exposure", "temperature", "contrast"], "max_steps": 2, "width": 16, "thumb": 32},
    "critic": {"width": 16, "n_critic": 4, "n_critic_warmup": 20, "warmup_steps": 5, "lr": 1e-3, "pool": 8},
    "optim": {"lr": 1e-3, "decay_exponent": 1.0},
    "data": {"batch": 8, "crops_per_image": 2, "eval_images": 4},
    "run": {"method": "gan", "style": "synthetic", "steps": 120, "seed": 0, "threads": 1, "log_every": 10, "eval_every": 60,
            "plot_every": 60, "checkpoint_every": 60},
}  # fmt: skip


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.clamp(0, 1) - b.clamp(0, 1)).square().mean()
    return float(10 * torch.log10(1.0 / mse))


def test_training_learns_a_hidden_style(tmp_path: Path) -> None:
    targets, sources, heldout = write_style_folders(tmp_path / "data", size=48, seed=0)
    cfg = config_from_dict(TINY)
    styles = tmp_path / "styles"
    result = train(cfg, targets=targets, sources=sources, run_dir=tmp_path / "run", install_dir=styles)
    assert result.step == 120 and result.stopped_by == "steps"

    # the learned agent, applied to unseen unedited images, gets closer to the hidden recipe than doing nothing
    style = load_style(styles / "synthetic.safetensors")
    with torch.no_grad():
        traj = rollout(style.net, make_thumbnail(heldout, 32), greedy=True)
        out = render(heldout, traj.settings)
        want = render(heldout, HIDDEN_RECIPE)
    stops = lambda x: look_statistics(x)[:, 0]  # noqa: E731 - mean log2 luminance per image
    err_agent = (stops(out) - stops(want)).abs().mean().item()
    err_identity = (stops(heldout) - stops(want)).abs().mean().item()
    assert err_identity > 0.7  # the hidden +0.8 EV
    assert err_agent < 0.6 * err_identity, (err_agent, err_identity, traj.orders[0])
    assert _psnr(out, want) > _psnr(heldout, want) + 1.5
    assert "exposure" in traj.orders[0]

    run = result.run_dir
    for name in ("config.toml", "metrics.csv", "curves.png", "contact_sheet.png", "eval.json"):
        assert (run / name).is_file(), name
    for png in ("curves.png", "contact_sheet.png"):
        assert cv2.imread(str(run / png)) is not None
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and len(rows) == 1 + 12
    assert (run / "checkpoints" / "step_0000120.json").is_file()
    assert (run / "style" / "synthetic.safetensors").is_file()
    meta = json.loads((styles / "synthetic.json").read_text())
    assert meta["training"]["targets"] == 24 and meta["training"]["steps"] == 120
    assert meta["metrics"]["look_dist_after"] < meta["metrics"]["look_dist_before"]
