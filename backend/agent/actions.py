"""The agent's action space, derived from the slider catalog (nothing here re-declares a range).

The agent edits the *global* sliders of :data:`backend.sliders.catalog.CATALOG` (``is_global`` True):
per-pixel operations that commute with downscaling, so a decision made on a 64x64 thumbnail means the
same at full resolution. Spatial sliders (clarity, sharpen, vignette) are left to the user for now.

An action is an index into :data:`AGENT_SLIDERS` ("set this slider next") or :data:`STOP`. The value of
the chosen slider comes from an unbounded head output ``z`` mapped into the slider's range by
:func:`bound_value`, with **z = 0 giving the slider's identity exactly**:

* scalars (and every element of ``hsl``): ``identity + (max - identity) tanh(z)`` for ``z >= 0`` and
  ``identity + (identity - min) tanh(z)`` for ``z < 0`` (one-sided sliders such as ``black_and_white``,
  whose identity is their minimum, therefore only move up);
* curves (one row, or one row per channel): ``K - 1`` outputs per row give positive increments
  ``d_i = (x_i - x_{i-1}) exp(z_i)`` over the knots ``x_0..x_{K-1}`` and
  ``y_i = x_0 + (x_{K-1} - x_0) cumsum(d)_i / sum(d)`` with ``y_0 = x_0``: monotone, endpoints fixed,
  ``z = 0`` gives the knots (the identity curve).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from backend.errors import UnknownSliderError
from backend.sliders.catalog import CATALOG, SliderSpec, get_slider

__all__ = [
    "AGENT_SLIDERS",
    "STOP",
    "ValueBounder",
    "bound_elementwise",
    "bound_value",
    "head_shape",
    "head_size",
    "identity_value",
    "is_negligible",
]

#: A move smaller than this fraction of a slider's half-range (scalars, HSL cells) or than this many linear
#: units on a curve knot is invisible, and a one-shot agent leaves that slider out of its recipe.
NEGLIGIBLE_FRACTION = 0.01
NEGLIGIBLE_CURVE = 0.005

#: Sliders the agent may set, in catalog order: every slider with ``is_global`` True.
AGENT_SLIDERS: tuple[str, ...] = tuple(spec.name for spec in CATALOG if spec.is_global)

#: Index of the stop action in the policy's logits (one past the last slider).
STOP: int = len(AGENT_SLIDERS)


def _agent_spec(name: str) -> SliderSpec:
    spec = get_slider(name)
    if not spec.is_global:
        raise UnknownSliderError(f"{name} (spatial slider, not in the agent's action space)")
    return spec


def head_shape(name: str) -> tuple[int, ...]:
    """Shape of the unbounded head output of one slider (without the batch axis).

    Scalars: ``()``; a curve of ``K`` knots: ``(K - 1,)``; per-channel curves: ``(C, K - 1)``; other
    sliders (``hsl``): the slider's own shape.

    Raises:
        UnknownSliderError: ``name`` is not one of :data:`AGENT_SLIDERS`.
    """
    spec = _agent_spec(name)
    if spec.monotone_curve:
        return (*spec.shape[:-1], spec.shape[-1] - 1)
    return spec.shape


def head_size(name: str) -> int:
    """Number of unbounded outputs the value head spends on ``name`` (``prod(head_shape(name))``)."""
    return math.prod(head_shape(name))


def identity_value(
    name: str, n: int = 1, *, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
) -> Tensor:
    """The slider's identity as a tensor of shape ``(n, *spec.shape)``."""
    spec = get_slider(name)
    return torch.tensor(spec.identity, dtype=dtype, device=device).expand(n, *spec.shape).clone()


def is_negligible(name: str, value: Tensor) -> Tensor:
    """Whether each item's value of a slider is too close to its identity to be worth a recipe step.

    Args:
        name: one of :data:`AGENT_SLIDERS`.
        value: ``(N, *spec.shape)`` values in catalog units.

    Returns:
        ``(N,)`` bool: True where every element lies within :data:`NEGLIGIBLE_FRACTION` of the slider's
        half-range of its identity (curves: within :data:`NEGLIGIBLE_CURVE` linear units of every knot).
    """
    spec = _agent_spec(name)
    ident = torch.tensor(spec.identity, dtype=value.dtype, device=value.device)
    dev = (value - ident).abs().reshape(value.shape[0], -1).amax(dim=1)
    limit = NEGLIGIBLE_CURVE if spec.monotone_curve else NEGLIGIBLE_FRACTION * (spec.maximum - spec.minimum) / 2
    return dev < limit


def bound_elementwise(spec: SliderSpec, z: Tensor) -> Tensor:
    """Unbounded ``z`` -> a value in ``[spec.minimum, spec.maximum]``, element by element.

    tanh on either side of the identity; ``z = 0`` gives the identity. ``z``: the slider's shape after the batch
    axis, any float dtype.
    """
    ident = torch.tensor(spec.identity, dtype=z.dtype, device=z.device)  # () or spec.shape
    t = torch.tanh(z)
    up = (spec.maximum - ident) * t
    down = (ident - spec.minimum) * t
    return ident + torch.where(z >= 0, up, down)


def _bound_curve(spec: SliderSpec, z: Tensor) -> Tensor:
    # Computed in float64 and cast back: the ratio cs / cs[-1] is then exactly 1 at the last knot and
    # rounds to the knots themselves at z = 0, so the identity curve and the range hold exactly.
    knots = torch.tensor(spec.identity, dtype=torch.float64, device=z.device)  # (*rows, K)
    dx = knots[..., 1:] - knots[..., :-1]  # (*rows, K-1), positive
    d = dx * torch.exp(z.to(torch.float64))
    cs = torch.cumsum(d, dim=-1)
    ratio = cs / cs[..., -1:]
    x0 = knots[..., :1]
    span = knots[..., -1:] - x0
    y = torch.cat((x0.expand_as(ratio[..., :1]), x0 + span * ratio), dim=-1)
    return y.to(z.dtype)


def bound_value(name: str, z: Tensor) -> Tensor:
    """Map unbounded head outputs to a value inside the slider's range; ``z = 0`` gives the identity.

    Args:
        name: one of :data:`AGENT_SLIDERS`.
        z: ``(N, *head_shape(name))`` or ``(N, head_size(name))`` (flat), any float dtype.

    Returns:
        ``(N, *spec.shape)`` of ``z``'s dtype, inside ``[spec.minimum, spec.maximum]``; curves are
        non-decreasing along their last axis with fixed endpoints. Differentiable everywhere (the
        one-sided scalar sliders have zero gradient for ``z < 0``).

    Raises:
        UnknownSliderError: ``name`` is not one of :data:`AGENT_SLIDERS`.
        ValueError: ``z`` has the wrong shape.
    """
    spec = _agent_spec(name)
    shape = head_shape(name)
    if z.ndim >= 1 and tuple(z.shape[1:]) == (head_size(name),) and shape != (head_size(name),):
        z = z.reshape(z.shape[0], *shape)
    if z.ndim < 1 or tuple(z.shape[1:]) != shape:
        raise ValueError(f"bound_value({name!r}): z must have shape (N, *{shape}), got {tuple(z.shape)}")
    if spec.monotone_curve:
        return _bound_curve(spec, z)
    return bound_elementwise(spec, z)


class ValueBounder:
    """:func:`bound_value` for many sliders at once: one fused op for all elementwise sliders.

    Gives exactly the same numbers as calling :func:`bound_value` per slider (same formulas, same dtype),
    with far fewer small tensor operations; the agent network uses it on its flat value-head output.

    Args:
        sliders: the sliders, in the order of their blocks in the flat head output.
    """

    def __init__(self, sliders: tuple[str, ...]) -> None:
        self.sliders = sliders
        self.sizes = tuple(head_size(s) for s in sliders)
        specs = [_agent_spec(s) for s in sliders]
        self._curves = tuple(i for i, spec in enumerate(specs) if spec.monotone_curve)
        elem = [i for i, spec in enumerate(specs) if not spec.monotone_curve]
        self._elem = tuple(elem)
        offsets = [0]
        for size in self.sizes:
            offsets.append(offsets[-1] + size)
        self._offsets = tuple(offsets)
        index: list[int] = []
        ident: list[float] = []
        lo: list[float] = []
        hi: list[float] = []
        for i in elem:
            spec = specs[i]
            flat = torch.tensor(spec.identity, dtype=torch.float64).flatten().tolist()
            index += range(offsets[i], offsets[i + 1])
            ident += flat
            lo += [spec.minimum] * len(flat)
            hi += [spec.maximum] * len(flat)
        self._index = torch.tensor(index, dtype=torch.long)
        ident_t = torch.tensor(ident, dtype=torch.float64)
        self._ident = ident_t
        self._up = torch.tensor(hi, dtype=torch.float64) - ident_t
        self._down = ident_t - torch.tensor(lo, dtype=torch.float64)

    def __call__(self, z: Tensor) -> dict[str, Tensor]:
        """Bound a flat head output.

        Args:
            z: ``(N, sum(sizes))`` unbounded outputs, slider blocks in ``sliders`` order.

        Returns:
            Slider name -> ``(N, *spec.shape)`` bounded value (``bound_value`` of its block).
        """
        n = z.shape[0]
        out: dict[str, Tensor] = {}
        if self._elem:
            ze = z.index_select(1, self._index.to(z.device))
            ident, up, down = (t.to(dtype=z.dtype, device=z.device) for t in (self._ident, self._up, self._down))
            t = torch.tanh(ze)
            ye = ident + torch.where(ze >= 0, up * t, down * t)
            pos = 0
            for i in self._elem:
                size = self.sizes[i]
                out[self.sliders[i]] = ye[:, pos : pos + size].reshape(n, *get_slider(self.sliders[i]).shape)
                pos += size
        for i in self._curves:
            out[self.sliders[i]] = bound_value(self.sliders[i], z[:, self._offsets[i] : self._offsets[i + 1]])
        return {name: out[name] for name in self.sliders}
