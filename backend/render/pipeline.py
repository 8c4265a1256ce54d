"""The renderer pipeline: slider settings -> stages in darktable's pixelpipe order.

Contract of every stage module (``backend/render/<file>.py``):

* ``apply_<stage>_stage(image, values) -> image``: ``image`` is ``(N, 3, H, W)`` linear Rec.2020;
  ``values`` maps the stage's slider names to tensors of shape ``(N, *spec.shape)`` (already broadcast and
  cast by :func:`prepare_settings`); sliders missing from ``values`` are at identity. The stage follows
  the math of the darktable module it becomes, is differentiable, does not clamp pixels where darktable
  does not, and returns ``image`` itself when every slider is at identity and none needs a gradient.
* ``<stage>_params(values, ...) -> dict``: the darktable module fields for those slider values (what the
  darktable translator packs). The renderer and the translator share this one conversion.
* ``apply_<slider>(image, value)``: the one-slider function, for each slider of the stage.

When no tensor needs a gradient (``torch.no_grad``/``inference_mode``, or nothing requires grad) the
per-pixel stages take an inference fast path: the same math reorganised for speed (fused matrices, powers
through ``exp2``/``log2``, work only where a branch acts, darktable's own 65536-entry table for float32
curves). It matches the differentiable path to float rounding (float64: about 1e-13; float32: within the
reference path's own float32 error). :func:`render` then also runs consecutive per-pixel stages band by
band (:data:`BAND_PIXELS`), so intermediate results stay small and in cache.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor, nn

from backend.errors import InvalidRecipeError
from backend.render.stages import STAGE_TABLE, StageFn
from backend.sliders.catalog import SliderSpec, get_slider, iter_sliders
from backend.torch_threads import torch_threads

__all__ = [
    "BAND_PIXELS",
    "STAGES",
    "Renderer",
    "SliderModule",
    "apply_slider",
    "prepare_settings",
    "render",
    "render_banded",
    "tune_allocator",
]

Call = tuple[str, dict[str, Tensor]]

#: Stage name -> stage function, from the one stage table (:data:`backend.render.stages.STAGE_TABLE`).
STAGES: dict[str, StageFn] = {name: stage.apply for name, stage in STAGE_TABLE.items()}


def _check_image(image: Tensor) -> None:
    if image.ndim != 4 or image.shape[1] != 3:
        raise InvalidRecipeError(f"image must have shape (N, 3, H, W), got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise InvalidRecipeError(f"image must be float32 or float64, got {image.dtype}")


def prepare_settings(
    settings: Mapping[str, Tensor | float | Sequence[object]], n: int, dtype: torch.dtype, device: torch.device
) -> dict[str, Tensor]:
    """Validate shapes and broadcast slider values to ``(n, *spec.shape)``.

    Args:
        settings: slider name -> value; a value may be a Python number or nested list of the slider's
            shape, a tensor of that shape, or a tensor of shape ``(n, *shape)`` (one value per image). A
            tensor (not requiring grad) whose items equal the slider's identity in the tensor's own dtype
            becomes the exact identity in ``dtype`` (a float32 identity curve stays a no-op in float64).
        n: batch size.
        dtype: floating dtype of the image.
        device: device of the image.

    Returns:
        Slider name -> tensor ``(n, *shape)``. Ranges are not checked here (recipes check them); the
        renderer accepts any finite value so that gradients exist at the range edges.

    Raises:
        UnknownSliderError: unknown slider name.
        InvalidRecipeError: a value of the wrong shape.
    """
    out: dict[str, Tensor] = {}
    for name, raw in settings.items():
        spec = get_slider(name)
        value = torch.as_tensor(raw, dtype=dtype, device=device)
        if isinstance(raw, Tensor) and raw.is_floating_point() and raw.dtype != dtype and not raw.requires_grad:
            value = _snap_identity(raw, value, spec)
        if tuple(value.shape) == spec.shape:
            value = value.expand(n, *spec.shape)
        elif tuple(value.shape) != (n, *spec.shape):
            raise InvalidRecipeError(
                f"slider {name!r}: value shape {tuple(value.shape)} is neither {spec.shape} nor {(n, *spec.shape)}"
            )
        out[name] = value
    return out


def _snap_identity(raw: Tensor, value: Tensor, spec: SliderSpec) -> Tensor:
    """``value`` (``raw`` cast to the render dtype) with the items that are identity in ``raw``'s dtype made exact."""
    k = len(spec.shape)
    same = raw.detach() == torch.as_tensor(spec.identity, dtype=raw.dtype, device=raw.device)
    if k:
        same = same.reshape(*same.shape[: same.ndim - k], -1).all(-1)
    if not bool(same.any()):
        return value
    exact = torch.as_tensor(spec.identity, dtype=value.dtype, device=value.device)
    return torch.where(same.reshape(*same.shape, *(1,) * k), exact, value)


#: Pixels (per image) in one band of :func:`render`'s per-pixel stages on the fast path.
BAND_PIXELS = 1 << 18


def render(
    image: Tensor,
    settings: Mapping[str, Tensor | float | Sequence[object]],
    *,
    band_pixels: int | None = None,
    inplace: bool = False,
    workers: int = 1,
) -> Tensor:
    """Render slider settings onto a batch of images.

    Stages run in :data:`~backend.sliders.catalog.STAGE_ORDER` (darktable's pixelpipe order), whatever
    the order of the settings. Runs of consecutive stages whose sliders are all per-pixel (``is_global``)
    may be applied to horizontal bands of rows, so that their intermediate tensors are band-sized; spatial
    stages (sharpen, clarity, vignette) always see the whole image. Per-pixel operations do not depend on
    their neighbours, so banding does not change the result (beyond float rounding: torch's vectorised
    kernels may round a tensor's last few elements differently).

    Args:
        image: ``(N, 3, H, W)`` float32/float64, linear Rec.2020, scene-referred (not clamped).
        settings: slider name -> value (see :func:`prepare_settings`); missing sliders are identity.
        band_pixels: pixels (per image) per band, >= 1. ``None``: :data:`BAND_PIXELS` when no gradient
            is needed and the image is larger than that, else no banding (then identity settings return
            ``image`` itself, and a gradient gets one autograd graph over the whole image).
        inplace: when banding, write the per-pixel results into ``image`` (saves an image-sized buffer;
            use it when the caller no longer needs its input, and not when it needs a gradient).
        workers: with more than 1 and no gradient needed, the per-pixel stages run band by band (as if
            ``band_pixels`` were :data:`BAND_PIXELS`) on that many threads, each with single-threaded torch
            ops (``torch.set_num_threads(1)`` for the duration, process-wide): one synchronisation per band
            instead of one per operation, faster and far more robust when other processes load the cores
            (a single band runs on the calling thread). The numbers are those of single-threaded ops.

    Returns:
        ``(N, 3, H, W)`` linear Rec.2020, not clamped (the caller encodes and clips for display).
    """
    _check_image(image)
    values = prepare_settings(settings, image.shape[0], image.dtype, image.device)
    needs_grad = torch.is_grad_enabled() and (image.requires_grad or any(v.requires_grad for v in values.values()))
    if band_pixels is None and not needs_grad and (workers > 1 or image.shape[-2] * image.shape[-1] > BAND_PIXELS):
        band_pixels = BAND_PIXELS
    calls = [
        (stage, {spec.name: values[spec.name] for spec in iter_sliders(stage) if spec.name in values})
        for stage in STAGES
    ]
    calls = [(stage, stage_values) for stage, stage_values in calls if stage_values]
    if band_pixels is None:
        for stage, stage_values in calls:
            image = STAGES[stage](image, stage_values)
        return image
    groups: list[tuple[bool, list[Call]]] = []
    for stage, stage_values in calls:
        per_pixel = all(get_slider(name).is_global for name in stage_values)
        if groups and groups[-1][0] and per_pixel:
            groups[-1][1].append((stage, stage_values))
        else:
            groups.append((per_pixel, [(stage, stage_values)]))
    rows = max(1, band_pixels // max(image.shape[-1], 1))
    for per_pixel, group in groups:
        if not per_pixel:
            for stage, stage_values in group:
                image = STAGES[stage](image, stage_values)
            continue
        out = image if inplace else torch.empty_like(image)

        def run_band(top: int, src: Tensor = image, dst: Tensor = out, group: list[Call] = group) -> None:
            band = src[..., top : top + rows, :]
            for stage, stage_values in group:
                band = STAGES[stage](band, stage_values)
            dst[..., top : top + rows, :] = band

        tops = range(0, image.shape[-2], rows)
        if workers > 1 and not needs_grad:
            _run_threaded(run_band, tops, workers)
        else:
            for top in tops:
                run_band(top)
        image, inplace = out, True  # later groups may overwrite our own buffer
    return image


def _run_threaded(fn: Callable[[int], None], items: Iterable[int], workers: int) -> None:
    """``fn`` on every item on ``workers`` threads, torch ops single-threaded meanwhile (see :func:`render`)."""
    inference, grad = torch.is_inference_mode_enabled(), torch.is_grad_enabled()

    def task(item: int) -> None:
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):  # both are per thread
            fn(item)

    items = list(items)
    with torch_threads(1):
        if len(items) == 1:  # a single band: on this thread, still without per-operation synchronisation
            fn(items[0])
            return
        with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
            for _ in pool.map(task, items):
                pass


def render_banded(
    image: Tensor,
    settings: Mapping[str, Tensor | float | Sequence[object]],
    *,
    band_pixels: int = BAND_PIXELS,
    inplace: bool = False,
    workers: int = 1,
) -> Tensor:
    """:func:`render` with the per-pixel stages always on bands of ``band_pixels`` pixels (gradient or not).

    A 24-MP render through the differentiable path otherwise peaks at several GB. See :func:`render` for
    the arguments.
    """
    if image.ndim != 4:
        return render(image, settings)  # let the pipeline raise its shape error
    return render(image, settings, band_pixels=band_pixels, inplace=inplace, workers=workers)


_allocator_tuned = False


def tune_allocator() -> bool:
    """Let glibc keep band-sized buffers for reuse instead of unmapping them (call once per process).

    The fast path allocates many short-lived tensors of a few MB; by default glibc serves them with fresh
    ``mmap`` pages or trims the heap after they are freed, and the page faults on first touch cost about as
    much as the arithmetic (render CPU time drops by 10-40 %). This raises ``M_MMAP_THRESHOLD`` to 32 MiB
    (image-sized buffers stay mmapped and return to the system when freed) and ``M_TRIM_THRESHOLD`` to
    128 MiB (free heap memory kept for reuse). A process-wide setting: the CLI and the benchmark call it.

    Returns:
        ``True`` when applied (Linux with glibc), ``False`` otherwise.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    _allocator_tuned = bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 128 << 20))
    return _allocator_tuned


def apply_slider(name: str, image: Tensor, value: Tensor | float | Sequence[object]) -> Tensor:
    """Apply one slider alone (all others at identity).

    Args:
        name: slider name from the catalog.
        image: ``(N, 3, H, W)`` linear Rec.2020.
        value: the slider's value, shape ``spec.shape`` or ``(N, *spec.shape)``.

    Returns:
        ``(N, 3, H, W)`` linear Rec.2020.
    """
    return render(image, {name: value})


class Renderer(nn.Module):
    """Thin module around :func:`render` (no parameters)."""

    def forward(self, image: Tensor, settings: Mapping[str, Tensor | float | Sequence[object]]) -> Tensor:
        """See :func:`render`."""
        return render(image, settings)


class SliderModule(nn.Module):
    """Thin module that applies one slider, named at construction."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.spec = get_slider(name)

    def forward(self, image: Tensor, value: Tensor | float | Sequence[object]) -> Tensor:
        """See :func:`apply_slider`."""
        return apply_slider(self.spec.name, image, value)
