"""Small helpers shared by the renderer stages for slider values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import torch
from torch import Tensor

from backend.errors import InvalidRecipeError

__all__ = [
    "OneSliderFilter",
    "exact_identity_items",
    "one_slider_filter",
    "one_slider_stage",
    "params_value",
    "scalar_batch",
    "values_unless_identity",
]


def scalar_batch(value: Tensor | float, image: Tensor) -> Tensor:
    """A scalar slider value as a ``(N,)`` tensor of the image's dtype and device (differentiable).

    Args:
        value: a number, a 0-d tensor, or a ``(N,)`` tensor (one value per image).
        image: the ``(N, 3, H, W)`` batch the value applies to.

    Raises:
        InvalidRecipeError: the value has another shape.
    """
    v = torch.as_tensor(value, device=image.device).to(image.dtype)
    n = image.shape[0]
    if v.ndim == 0:
        return v.expand(n)
    if tuple(v.shape) != (n,):
        raise InvalidRecipeError(f"slider value must be a scalar or have shape ({n},), got {tuple(v.shape)}")
    return v


def params_value(values: Mapping[str, Tensor | float], slider: str) -> Tensor:
    """A one-number slider's value as its stage's ``*_params`` function takes it: a floating-point tensor.

    Args:
        values: slider name -> value in slider units, a number, a 0-d tensor or an ``(N,)`` tensor.
        slider: the slider's name; a missing slider is at identity 0.

    Returns:
        ``values[slider]`` as a tensor of its own shape and device; integer values become float64, a missing
        slider a 0-d ``0.0`` of torch's default dtype.
    """
    value = torch.as_tensor(values.get(slider, 0.0))
    if not value.is_floating_point():
        value = value.to(torch.float64)
    return value


def exact_identity_items(
    image: Tensor, out: Tensor, is_identity: Tensor, mapping: Callable[[Tensor], Tensor], values_need_grad: bool
) -> Tensor:
    """``out`` with the batch items whose slider values are at identity replaced by ``image`` itself.

    A per-pixel map at identity values may still move pixels by float rounding; darktable has no module there,
    so those items return their input exactly, d(out)/d(image) = 1. When the values need a gradient, a
    zero-valued term ``carrier - carrier.detach()`` (``carrier = mapping(image.detach())``) carries
    d(map)/d(values) for them.

    Args:
        image: ``(N, 3, H, W)`` input of the stage.
        out: ``(N, 3, H, W)`` the stage's result ``mapping(image)`` for every item.
        is_identity: ``(N,)`` bool, the items whose values are at identity.
        mapping: the stage's pixel map with the same values, ``(N, 3, H, W) -> (N, 3, H, W)``.
        values_need_grad: whether the slider values require a gradient.

    Returns:
        ``(N, 3, H, W)``: ``out`` itself when no item is at identity.
    """
    if not bool(is_identity.any()):
        return out
    if values_need_grad:
        carrier = mapping(image.detach())
        exact = image + (carrier - carrier.detach())
    else:
        exact = image
    return torch.where(is_identity.view(-1, 1, 1, 1), exact, out)


def values_unless_identity(value: Tensor | float, image: Tensor) -> Tensor | None:
    """A one-number slider's values for the batch, or ``None`` when the stage is a no-op (identity 0).

    Args:
        value: a number, a 0-d tensor or a ``(N,)`` tensor, in slider units.
        image: the ``(N, 3, H, W)`` batch the value applies to.

    Returns:
        ``(N,)`` (a scalar expanded) of the image's dtype and device, differentiable; ``None`` when every value
        is 0 and neither the image nor the value needs a gradient.
    """
    value_t = torch.as_tensor(value, dtype=image.dtype, device=image.device)
    if not (image.requires_grad or value_t.requires_grad) and bool((value_t == 0).all()):
        return None
    return value_t.expand(image.shape[0]) if value_t.ndim == 0 else value_t


class OneSliderFilter(Protocol):
    """The filter of a one-number slider, as :func:`one_slider_filter` makes it: ``(image, value) -> image``."""

    def __call__(self, image: Tensor, value: Tensor | float) -> Tensor:
        """Apply the slider.

        Args:
            image: ``(N, 3, H, W)`` batch.
            value: a number, a 0-d tensor or an ``(N,)`` tensor, in slider units.

        Returns:
            ``(N, 3, H, W)``; ``image`` itself when the stage is a no-op.
        """
        ...


#: What :func:`one_slider_filter` copies from ``apply``: not its annotations (``value: Tensor`` there, where the
#: filter also takes a number) nor a ``__wrapped__`` that :func:`inspect.signature` would follow.
_COPIED_ATTRIBUTES = ("__module__", "__name__", "__qualname__", "__doc__")


def one_slider_filter(apply: Callable[[Tensor, Tensor], Tensor]) -> OneSliderFilter:
    """Decorator: the filter ``(image, value) -> image`` of a one-number slider whose identity is 0.

    The filter takes ``value`` as a number, a 0-d tensor or an ``(N,)`` tensor in slider units, by position or
    by name. It returns ``image`` itself (an exact no-op) when every value is 0 and neither the image nor the
    value needs a gradient, and otherwise ``apply(image, values)`` with ``values`` of shape ``(N,)``, the image's
    dtype and device (see :func:`values_unless_identity`). Module, name and docstring are ``apply``'s; the
    signature is the filter's own, ``(image: Tensor, value: Tensor | float) -> Tensor`` (``apply``'s
    annotations and no ``__wrapped__`` are copied, so :func:`inspect.signature` shows what the filter takes).

    Args:
        apply: the slider's map ``(image (N, 3, H, W), values (N,)) -> (N, 3, H, W)``.

    Returns:
        The filter ``(image, value) -> (N, 3, H, W)``, an :class:`OneSliderFilter`.

    Example:
        >>> @one_slider_filter
        ... def brighten(image: Tensor, values: Tensor) -> Tensor:
        ...     return image * (1.0 + values.view(-1, 1, 1, 1) / 100.0)
        >>> img = torch.rand(1, 3, 4, 4)
        >>> brighten(img, 0.0) is img
        True
        >>> brighten(img, value=0.0) is img
        True
    """

    def slider_filter(image: Tensor, value: Tensor | float) -> Tensor:
        value_t = values_unless_identity(value, image)
        if value_t is None:
            return image
        return apply(image, value_t)

    for attribute in _COPIED_ATTRIBUTES:
        setattr(slider_filter, attribute, getattr(apply, attribute))
    return slider_filter


def one_slider_stage(
    slider: str, apply: Callable[[Tensor, Tensor], Tensor], name: str
) -> Callable[[Tensor, Mapping[str, Tensor]], Tensor]:
    """The stage function of a stage with one slider (the contract of :mod:`backend.render.pipeline`).

    Args:
        slider: the slider's name, the key of ``values``.
        apply: the slider's function ``(image, value) -> image``, ``value`` of shape ``(N, *spec.shape)``.
        name: the stage function's name (``apply_<stage>_stage``), for tracebacks and docs.

    Returns:
        ``stage(image, values)``: ``apply(image, values[slider])``; ``image`` itself when ``values`` lacks the
        slider (identity).
    """

    def stage(image: Tensor, values: Mapping[str, Tensor]) -> Tensor:
        if slider not in values:
            return image
        return apply(image, values[slider])

    stage.__name__ = stage.__qualname__ = name
    stage.__doc__ = (
        f"Stage function (see :mod:`backend.render.pipeline`): ``values`` may hold ``{slider!r}`` of shape "
        f"``(N, *spec.shape)``; without it the stage is identity (returns ``image``)."
    )
    return stage
