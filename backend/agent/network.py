"""The agent network: a small CNN on a 64x64 thumbnail plus the edit state -> policy, slider values, state value.

Input encoding (done by the net, so every caller feeds the same thing): the linear Rec.2020 thumbnail is
clamped to [0, 1] and sRGB-encoded (perceptual scale for the convolutions, centred on 0), and nine
log2-luminance statistics of the unclamped image (mean, standard deviation, five quantiles, fraction of
clipped and of near-black pixels) are appended to the pooled features together with the step index
(one-hot) and the sliders already used.

Architecture: four 3x3 convolutions with stride 2 (64 -> 4 px; ``width/2, width, 2 width, 2 width``
channels, SiLU), global average + max pooling, a two-layer MLP of ``4 width`` units with dropout after
each layer, and three heads: policy logits over ``S + 1`` actions (the sliders, then stop), one value
head per slider (bounded by :func:`~backend.agent.actions.bound_value`, so a zero output is the
identity), and a state value. With the defaults it has about 0.1 M parameters (0.4 MB) and runs in
about 2 ms on one CPU core for ``N = 1`` (convolutions in channels-last layout).

One-shot mode (``oneshot=True``, the restoration trainer's agent): the net is called once, on the unedited
thumbnail at step 0, and every slider is set to the value it proposes (pipeline order); the policy and state-value
heads are then unused. Sliders whose value stays within :func:`~backend.agent.actions.is_negligible` of the identity
are left out of the recipe (see :mod:`backend.agent.rollout`).

Dropout modules stay in the net. ``net.eval()`` makes it deterministic; :func:`set_dropout` turns only
the dropout layers on again (Monte-Carlo dropout) to draw recipe variants.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from backend.agent.actions import AGENT_SLIDERS, ValueBounder, head_size
from backend.errors import InvalidRecipeError
from backend.render.color import REC2020_LUMINANCE, rec2020_to_lab, srgb_encode

__all__ = [
    "ENCODERS",
    "N_COLOUR_STATS",
    "N_STATS",
    "AgentNet",
    "AgentOutput",
    "colour_statistics",
    "image_statistics",
    "mc_dropout",
    "set_dropout",
]

#: Number of scalar image statistics appended to the pooled CNN features.
N_STATS = 9
#: Number of colour statistics the ``"stats"`` encoder adds (:func:`colour_statistics`).
N_COLOUR_STATS = 4
#: Image encoders: a CNN on the thumbnail plus statistics, or the statistics alone.
ENCODERS = ("cnn", "stats")

_QUANTILES = (0.01, 0.1, 0.5, 0.9, 0.99)
_LOG_EPS = 2.0**-12  # floor of the luminance before log2 (about 12 stops below white)
_CLIP_LEVEL = 0.99  # a pixel is "clipped" when a channel reaches this linear value
_BLACK_LEVEL = 2.0**-10  # luminance below this counts as near black


@dataclass(frozen=True)
class AgentOutput:
    """One forward pass of :class:`AgentNet`.

    Attributes:
        logits: ``(N, S + 1)`` policy logits over the net's sliders then stop; ``-inf`` on used sliders.
        values: slider name -> ``(N, *spec.shape)`` value already bounded by ``bound_value`` (catalog units).
        state_value: ``(N,)`` the critic's estimate of the state's value.
    """

    logits: Tensor
    values: dict[str, Tensor]
    state_value: Tensor


def _quantiles(values: Tensor, levels: tuple[float, ...]) -> Tensor:
    """``(N, len(levels))`` quantiles of ``(N, M)`` values, linear interpolation (``torch.quantile``'s default)."""
    ordered, _ = torch.sort(values, dim=1)
    pos = torch.tensor(levels, dtype=torch.float64) * (values.shape[1] - 1)
    lo = pos.floor().long()
    hi = pos.ceil().long()
    frac = (pos - lo).to(device=values.device, dtype=values.dtype)
    a, b = ordered[:, lo.to(values.device)], ordered[:, hi.to(values.device)]
    return a + (b - a) * frac


def image_statistics(image: Tensor) -> Tensor:
    """Log-luminance statistics of a linear image, the net's global exposure cues.

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020 (not clamped).

    Returns:
        ``(N, 9)``: mean and standard deviation of ``log2(max(Y, 2^-12))`` divided by 4 (so typical
        values lie in about [-3, 0]), the 1/10/50/90/99 % quantiles of the same, the fraction of pixels
        with a channel >= 0.99 and the fraction with ``Y < 2^-10``.
    """
    w = torch.as_tensor(REC2020_LUMINANCE, dtype=image.dtype, device=image.device)
    lum = torch.einsum("c,nchw->nhw", w, image).flatten(1)
    log_y = torch.log2(lum.clamp_min(_LOG_EPS)) / 4.0
    q = _quantiles(log_y, _QUANTILES)
    clipped = (image.amax(dim=1) >= _CLIP_LEVEL).flatten(1).to(image.dtype).mean(dim=1, keepdim=True)
    black = (lum < _BLACK_LEVEL).to(image.dtype).mean(dim=1, keepdim=True)
    mean = log_y.mean(dim=1, keepdim=True)
    std = log_y.std(dim=1, keepdim=True, unbiased=False)
    return torch.cat((mean, std, q, clipped, black), dim=1)


def colour_statistics(image: Tensor) -> Tensor:
    """Colour cues of a linear image for the ``"stats"`` encoder.

    Args:
        image: ``(N, 3, H, W)`` linear Rec.2020 (clamped to [0, 1] here).

    Returns:
        ``(N, 4)``: the mean CIELAB a* and b*, and the mean and standard deviation of the chroma, each divided
        by 20 (typical values within about [-2, 3]).
    """
    lab = rec2020_to_lab(image.clamp(0.0, 1.0)).flatten(2)
    chroma = torch.sqrt(lab[:, 1] ** 2 + lab[:, 2] ** 2 + 1e-6)
    return torch.stack((lab[:, 1].mean(dim=1), lab[:, 2].mean(dim=1), chroma.mean(dim=1), chroma.std(dim=1)), 1) / 20


class AgentNet(nn.Module):
    """Actor-critic network over slider choices (see the module docstring for the architecture).

    Args:
        sliders: the sliders the agent may choose, a subset of
            :data:`~backend.agent.actions.AGENT_SLIDERS` (order = action index).
        max_steps: maximal number of edit steps (size of the step one-hot); >= 1.
        width: base channel count of the CNN (the MLP has ``4 width`` units); >= 2, even.
        dropout: dropout probability in the MLP (kept on for variants), in [0, 1).
        thumb: side of the square input thumbnail in pixels (64; >= 16).
        oneshot: set every slider in one decision instead of choosing them one after another.
        encoder: ``"cnn"`` (convolutions on the thumbnail plus the luminance statistics) or ``"stats"`` (no
            convolutions: the luminance and colour statistics alone, :func:`image_statistics` and
            :func:`colour_statistics`; it cannot memorise the content of a few favourites).
    """

    def __init__(
        self,
        sliders: Sequence[str] = AGENT_SLIDERS,
        max_steps: int = 5,
        width: int = 32,
        dropout: float = 0.1,
        thumb: int = 64,
        oneshot: bool = False,
        encoder: str = "cnn",
    ) -> None:
        super().__init__()
        sliders = tuple(sliders)
        unknown = [s for s in sliders if s not in AGENT_SLIDERS]
        if not sliders or unknown or len(set(sliders)) != len(sliders):
            raise InvalidRecipeError(
                f"agent sliders must be distinct names from {list(AGENT_SLIDERS)}; got {list(sliders)}"
            )
        if encoder not in ENCODERS:
            raise ValueError(f"bad AgentNet encoder {encoder!r}; choose from {ENCODERS}")
        if max_steps < 1 or width < 2 or width % 2 or not 0.0 <= dropout < 1.0 or thumb < 16:
            raise ValueError(
                f"bad AgentNet config: max_steps={max_steps} width={width} dropout={dropout} thumb={thumb}"
            )
        self.sliders: tuple[str, ...] = sliders
        self.max_steps = int(max_steps)
        self.width = int(width)
        self.dropout_p = float(dropout)
        self.thumb = int(thumb)
        self.oneshot = bool(oneshot)
        self.encoder_kind = encoder
        chans = (3, width // 2, width, 2 * width, 2 * width)
        layers: list[nn.Module] = []
        if encoder == "cnn":
            for cin, cout in itertools.pairwise(chans):
                layers += [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.SiLU()]
        self.encoder = nn.Sequential(*layers)
        hidden = 4 * width
        n_image = 2 * chans[-1] + N_STATS if encoder == "cnn" else N_STATS + N_COLOUR_STATS
        n_in = n_image + self.max_steps + len(sliders)
        self.trunk = nn.Sequential(
            nn.Linear(n_in, hidden),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Dropout(dropout),
        )
        self.policy_head = nn.Linear(hidden, len(sliders) + 1)
        self._bounder = ValueBounder(sliders)
        self.value_head = nn.Linear(hidden, sum(head_size(s) for s in sliders))
        self.critic_head = nn.Linear(hidden, 1)
        with torch.no_grad():  # zero bias: an untrained net proposes small edits around the identity
            self.value_head.bias.zero_()
            if self.oneshot:  # ... and a one-shot net proposes exactly the identity until it has learnt
                self.value_head.weight.zero_()

    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON-ready), as stored in a style's metadata."""
        return {
            "sliders": list(self.sliders),
            "max_steps": self.max_steps,
            "width": self.width,
            "dropout": self.dropout_p,
            "thumb": self.thumb,
            "oneshot": self.oneshot,
            "encoder": self.encoder_kind,
        }

    def _check(self, thumb: Tensor, step: Tensor, used: Tensor) -> None:
        n = thumb.shape[0] if thumb.ndim == 4 else -1
        if thumb.ndim != 4 or thumb.shape[1:] != (3, self.thumb, self.thumb):
            raise ValueError(f"thumb must be (N, 3, {self.thumb}, {self.thumb}), got {tuple(thumb.shape)}")
        if step.shape != (n,) or step.dtype != torch.long:
            raise ValueError(f"step must be a long tensor of shape ({n},), got {step.dtype} {tuple(step.shape)}")
        if used.shape != (n, len(self.sliders)) or used.dtype != torch.bool:
            raise ValueError(f"used must be bool ({n}, {len(self.sliders)}), got {used.dtype} {tuple(used.shape)}")

    def forward(self, thumb: Tensor, step: Tensor, used: Tensor) -> AgentOutput:
        """Score the next action and propose a value for every slider.

        Args:
            thumb: ``(N, 3, thumb, thumb)`` linear Rec.2020, the current state image (not clamped).
            step: ``(N,)`` long, the step index 0..max_steps-1 (larger values are clamped).
            used: ``(N, S)`` bool, sliders already in the recipe; their logits are ``-inf``.

        Returns:
            :class:`AgentOutput`; logits of the stop action are always finite.
        """
        self._check(thumb, step, used)
        if self.encoder_kind == "cnn":
            x = srgb_encode(thumb.clamp(0.0, 1.0)) - 0.5
            feat = self.encoder(x.contiguous(memory_format=torch.channels_last))  # faster CPU convolutions
            pooled = torch.cat((feat.mean(dim=(2, 3)), feat.amax(dim=(2, 3))), dim=1)
            image = torch.cat((pooled, image_statistics(thumb)), dim=1)
        else:
            image = torch.cat((image_statistics(thumb), colour_statistics(thumb)), dim=1)
        onehot = nn.functional.one_hot(step.clamp(0, self.max_steps - 1), self.max_steps).to(thumb.dtype)
        h = self.trunk(torch.cat((image, onehot, used.to(thumb.dtype)), dim=1))
        logits = self.policy_head(h)
        mask = torch.cat((used, torch.zeros_like(used[:, :1])), dim=1)
        logits = logits.masked_fill(mask, float("-inf"))
        values = self._bounder(self.value_head(h))
        return AgentOutput(logits=logits, values=values, state_value=self.critic_head(h).squeeze(1))


def set_dropout(net: nn.Module, enabled: bool) -> None:
    """Switch only the dropout layers of ``net`` to training (``True``) or evaluation mode."""
    for module in net.modules():
        if isinstance(module, nn.Dropout):
            module.train(enabled)


@contextmanager
def mc_dropout(net: nn.Module, seed: int) -> Iterator[None]:
    """Run a block with the net in eval mode but dropout on, drawing masks from ``torch.manual_seed(seed)``.

    The global RNG state and every module's mode are restored afterwards, so the draw is reproducible
    and does not disturb other random streams.
    """
    modes = {m: m.training for m in net.modules()}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net.eval()
        set_dropout(net, True)
        try:
            yield
        finally:
            for m, mode in modes.items():
                m.train(mode)
