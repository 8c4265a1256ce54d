"""Training speed on the CPU: generator steps per second at batch 16 (64x64 thumbnails, every agent slider).

Each row times the two halves of a training step on synthetic data held in memory (no decoding):

    critic ms   one critic update (real crops + pool fakes, per-sample gradient penalty with double backward)
    agent ms    one agent update (sampled rollout with the renderer, critic scores of every state, backward)
    step ms     n_critic critic updates + one agent update (the steady state after the warm-up)
    steps/s     1000 / step ms;  img/s = steps/s * batch (photos edited per second)

Timings are medians of ``--repeat`` after one warm-up step, with ``torch.set_num_threads(--threads)``. On a
shared machine prefer ``--threads 1``: several OpenMP threads competing for busy cores can be 10x slower.

    python bench/bench_train.py                       # the default config and two lighter variants
    python bench/bench_train.py --threads 2 --repeat 5
"""

from __future__ import annotations

import argparse

import torch
from common import add_threads_option, parse_run_args
from timing import median_ms

from trainer.config import TrainConfig, apply_overrides
from trainer.data.dataset import TrainingData
from trainer.distributed import DistInfo
from trainer.synthetic import smooth_images
from trainer.train import Trainer

VARIANTS: dict[str, list[str]] = {
    "default (14 sliders, 5 steps, n_critic 5)": [],
    "3 steps": ["agent.max_steps=3"],
    "4 sliders, 3 steps": ["agent.sliders=exposure,contrast,temperature,saturation", "agent.max_steps=3"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_threads_option(parser, 1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    args = parse_run_args(parser, None)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, CPU")
    print(f"{'config':44s} {'critic ms':>9s} {'agent ms':>9s} {'step ms':>9s} {'steps/s':>8s} {'img/s':>7s}")
    for name, overrides in VARIANTS.items():
        cfg = apply_overrides(TrainConfig(), [*overrides, f"data.batch={args.batch}", "critic.pool=32"])
        thumb = cfg.agent.thumb
        crops = smooth_images(64, thumb * 5 // 4, seed=0).reshape(32, 2, 3, thumb * 5 // 4, thumb * 5 // 4)
        data = TrainingData(targets=crops * 1.5, sources=crops, eval_sources=crops[:4, 0], eval_targets=crops[:4, 0])
        trainer = Trainer(cfg, data, DistInfo())
        trainer.train_step()  # warm-up (fills the pool)
        critic = median_ms(trainer.critic_step, args.repeat)
        agent = median_ms(trainer.generator_step, args.repeat)
        step = cfg.critic.n_critic * critic + agent
        print(f"{name:44s} {critic:9.1f} {agent:9.1f} {step:9.1f} {1000 / step:8.2f} {1000 / step * args.batch:7.1f}")


if __name__ == "__main__":
    main()
