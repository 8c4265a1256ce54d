"""darktable history -> our slider values: the inverse of the darktable translator, for learning from sidecars.

Every renderer stage is one darktable module, and its ``<stage>_params(values)`` function (the one the translator
packs, :data:`backend.render.stages.STAGE_TABLE`) gives the module's struct fields for slider values.
Its inverse is found numerically, the same way for every module: for each active history entry of one of our
modules (the last entry of each module instance counts, as in darktable), the entry's parameters are unpacked
(:func:`backend.translate.darktable_pack.unpack_params`) and the instance's sliders are fitted so that
``<stage>_params`` reproduces every floating-point field (:func:`scipy.optimize.least_squares` on the unbounded
parametrisation of :mod:`backend.agent.actions`, from next to the identity, so every value stays in range and
curves stay monotone; some stage functions are not differentiable in torch, hence a derivative-free Jacobian);
integer fields such as modes must match exactly.

An entry is **mapped** when the fit reproduces its fields (largest difference at most :data:`FIELD_TOLERANCE`),
**approximate** when it does not (the user set something our sliders do not express, such as another colour
balance mode or more curve nodes; the closest slider values are kept, with a note), and **not ours** when its
module is none of ours (filmic, denoise, ...): those edits reach the style only through darktable-cli renders of
the sidecar. Disabled entries count as the identity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import least_squares
from torch import Tensor

from backend.agent.actions import AGENT_SLIDERS, bound_elementwise, bound_value, head_shape
from backend.errors import InvalidRecipeError
from backend.recipe import SliderValue, freeze_value
from backend.render.stages import STAGE_TABLE
from backend.sliders.catalog import STAGE_ORDER, get_slider, iter_sliders
from backend.translate.darktable import HistoryEntry, decode_params, module_layout, unpack_params
from backend.translate.darktable_history import _split_instances, stage_params

__all__ = ["FIELD_TOLERANCE", "MappedHistory", "history_to_settings"]

#: Largest field difference of a "mapped" entry (struct units; the fields are O(1) numbers).
FIELD_TOLERANCE = 1e-3
_MAX_EVALS = 4000


@dataclass(frozen=True)
class MappedHistory:
    """What a darktable history says in our sliders.

    Attributes:
        values: slider -> value (catalog units) for every slider of the modules found.
        mapped: ``operation`` or ``operation#instance`` of the entries reproduced within the tolerance.
        approximate: the same for entries our sliders reproduce only approximately, with the largest field error.
        not_ours: operations of other modules (their effect is learnt from darktable-cli renders).
        unreadable: entries of our modules whose params could not be read, as ``"label: why"`` (also among
            ``approximate``; their effect is learnt from darktable-cli renders only).
    """

    values: dict[str, SliderValue]
    mapped: tuple[str, ...]
    approximate: tuple[tuple[str, float], ...]
    not_ours: tuple[str, ...]
    unreadable: tuple[str, ...] = ()


def _bound(name: str, z: Tensor) -> Tensor:
    if name in AGENT_SLIDERS:
        return bound_value(name, z)
    return bound_elementwise(get_slider(name), z)  # a local scalar slider (clarity, sharpen, vignette)


def _shape(name: str) -> tuple[int, ...]:
    return head_shape(name) if name in AGENT_SLIDERS else (1,)


def _value(name: str, z: Tensor) -> Tensor:
    v = _bound(name, z)
    return v if name in AGENT_SLIDERS else v.reshape(v.shape[0])


def _targets(fields: Mapping[str, Any], operation: str) -> tuple[dict[str, Tensor], dict[str, Any]]:
    layout = module_layout(operation)
    floats, ints = {}, {}
    for fld in layout.fields:
        value = fields[fld.name]
        if fld.type in ("f", "d"):
            floats[fld.name] = torch.tensor(np.asarray(value, dtype=np.float64))
        else:
            ints[fld.name] = np.asarray(value).tolist()
    return floats, ints


def _stage_fields(stage: str, values: dict[str, Tensor], long_side_px: int, instance: int) -> Mapping[str, Any]:
    return _split_instances(stage, stage_params(stage, values, long_side_px), [instance])[instance]


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float64))


def _fit_instance(
    stage: str, instance: int, fields: Mapping[str, Any], long_side_px: int
) -> tuple[dict[str, SliderValue], float, bool]:
    """Slider values of one module instance; the largest float-field error; whether the integer fields match."""
    names = [s.name for s in iter_sliders(stage) if s.darktable.instance == instance]
    floats, ints = _targets(fields, stage)
    sizes = [int(np.prod(_shape(n))) for n in names]

    def values_of(flat: np.ndarray) -> dict[str, Tensor]:
        out, at = {}, 0
        for n, k in zip(names, sizes, strict=True):
            z = torch.tensor(flat[at : at + k], dtype=torch.float64).reshape(1, *_shape(n))
            out[n] = _value(n, z)
            at += k
        return out

    def residual(flat: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            got = _stage_fields(stage, values_of(flat), long_side_px, instance)
        parts = [(_as_tensor(got[k]).reshape(-1) - t.reshape(-1)).numpy() for k, t in floats.items() if k in got]
        return np.concatenate(parts) if parts else np.zeros(1)

    # start next to the identity, not on it: some fields have a zero derivative there (see trainer.pseudo_labels),
    # and a curve exactly at the identity is written as darktable's two-node default (a jump in the fields)
    start = np.full(sum(sizes), 0.01)
    fit = least_squares(
        residual, start, method="trf", diff_step=1e-4, xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=_MAX_EVALS
    )
    values = values_of(fit.x)
    with torch.no_grad():
        got = _stage_fields(stage, values, long_side_px, instance)
    worst = float(np.abs(residual(fit.x)).max()) if floats else 0.0
    ints_match = all(
        np.rint(np.asarray(_as_tensor(got[k]).reshape(-1).tolist())).astype(np.int64).tolist()
        == np.asarray(v).reshape(-1).astype(np.int64).tolist()
        for k, v in ints.items()
        if k in got
    )
    return {n: freeze_value(values[n][0]) for n in names}, worst, ints_match


def history_to_settings(entries: Sequence[HistoryEntry], *, long_side_px: int) -> MappedHistory:
    """Map a darktable history (active entries, oldest first) into our sliders (see the module docstring).

    Args:
        entries: the active history, e.g. :func:`backend.sidecar.darktable_doc.active_history`.
        long_side_px: the image's long side in pixels (sharpen, clarity and vignette radii are relative to it).

    Returns:
        :class:`MappedHistory`.
    """
    last: dict[tuple[str, int], HistoryEntry] = {}
    not_ours: list[str] = []
    for e in entries:
        if e.operation in STAGE_TABLE:
            last[(e.operation, e.multi_priority)] = e
        elif e.operation not in not_ours:
            not_ours.append(e.operation)
    values: dict[str, SliderValue] = {}
    mapped: list[str] = []
    approximate: list[tuple[str, float]] = []
    unreadable: list[str] = []
    order = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    for (op, inst), e in sorted(last.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        label = op if inst == 0 else f"{op}#{inst}"
        if not any(s.darktable.instance == inst for s in iter_sliders(op)):
            approximate.append((label, float("inf")))  # an instance we never write (e.g. a third curve)
            continue
        if not e.enabled:
            continue
        try:
            fields = unpack_params(op, decode_params(e.params))
        except (InvalidRecipeError, ValueError) as exc:  # a struct of another module version: report, go on
            approximate.append((f"{label} ({type(exc).__name__})", float("inf")))
            unreadable.append(f"{label}: {exc}")
            continue
        fitted, worst, ints_match = _fit_instance(op, inst, fields, long_side_px)
        values.update(fitted)
        if worst <= FIELD_TOLERANCE and ints_match:
            mapped.append(label)
        else:
            approximate.append((label, worst if ints_match else float("inf")))
    return MappedHistory(values, tuple(mapped), tuple(approximate), tuple(not_ours), tuple(unreadable))
