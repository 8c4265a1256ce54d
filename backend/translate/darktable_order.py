"""darktable 4.2 pixelpipe order: ``iop_order_version`` and ``iop_order_list`` for history stacks.

darktable 4.2.1 knows three built-in orders (enum ``dt_iop_order_t``): LEGACY (1), V30 (2) and V30_JPG (3);
0 means CUSTOM, i.e. the order is given by ``darktable:iop_order_list``. The sequences below are darktable
4.2.1's built-in tables (as compiled into the Debian 4.2.1 ``libdarktable.so``, matching
``src/common/iop_order.c`` of that release). V30_JPG is V30 with ``colorin`` moved right after
``demosaic``, so that on display-encoded input (JPEG/PNG/TIFF) every module after it sees linear data.

autoretouch writes ``iop_order_version`` 2 for raws and 3 for everything else. A list is written only when
a stack holds a second instance of a module (``multi_priority`` > 0): darktable cannot place such an
instance without one. The list is the version's base sequence with each extra instance right after the
previous instance of its module (``rgbcurve,0,rgbcurve,1``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from backend.errors import InvalidRecipeError

__all__ = [
    "IOP_ORDER_CUSTOM",
    "IOP_ORDER_LEGACY",
    "IOP_ORDER_SEQUENCES",
    "IOP_ORDER_V30",
    "IOP_ORDER_V30_JPG",
    "build_iop_order_list",
    "iop_order_version_for",
    "merge_instances",
    "parse_iop_order_list",
    "serialize_iop_order_list",
]

IOP_ORDER_CUSTOM = 0
IOP_ORDER_LEGACY = 1
IOP_ORDER_V30 = 2
IOP_ORDER_V30_JPG = 3


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_V30 = _words(
    "rawprepare invert temperature highlights cacorrect hotpixels rawdenoise demosaic denoiseprofile bilateral "
    "rotatepixels scalepixels lens cacorrectrgb hazeremoval ashift flip clipping liquify spots retouch exposure "
    "mask_manager tonemap toneequal crop graduatednd profile_gamma equalizer colorin channelmixerrgb diffuse "
    "censorize negadoctor blurs nlmeans colorchecker defringe atrous lowpass highpass sharpen colortransfer "
    "colormapping channelmixer basicadj colorbalance colorbalancergb rgbcurve rgblevels basecurve filmic sigmoid "
    "filmicrgb lut3d colisa tonecurve levels shadhi zonesystem globaltonemap relight bilat colorcorrection "
    "colorcontrast velvia vibrance colorzones bloom colorize lowlight monochrome grain soften splittoning vignette "
    "colorreconstruct colorout clahe finalscale overexposed rawoverexposed dither borders watermark gamma"
)

_V30_JPG = _words(
    "rawprepare invert temperature highlights cacorrect hotpixels rawdenoise demosaic colorin denoiseprofile "
    "bilateral rotatepixels scalepixels lens cacorrectrgb hazeremoval ashift flip clipping liquify spots retouch "
    "exposure mask_manager tonemap toneequal crop graduatednd profile_gamma equalizer channelmixerrgb diffuse "
    "censorize negadoctor blurs nlmeans colorchecker defringe atrous lowpass highpass sharpen colortransfer "
    "colormapping channelmixer basicadj colorbalance colorbalancergb rgbcurve rgblevels basecurve filmic sigmoid "
    "filmicrgb lut3d colisa tonecurve levels shadhi zonesystem globaltonemap relight bilat colorcorrection "
    "colorcontrast velvia vibrance colorzones bloom colorize lowlight monochrome grain soften splittoning vignette "
    "colorreconstruct colorout clahe finalscale overexposed rawoverexposed dither borders watermark gamma"
)

_LEGACY = _words(
    "rawprepare invert temperature highlights cacorrect hotpixels rawdenoise demosaic mask_manager denoiseprofile "
    "tonemap exposure spots retouch lens cacorrectrgb ashift liquify rotatepixels scalepixels flip clipping "
    "toneequal crop graduatednd basecurve bilateral profile_gamma hazeremoval colorin channelmixerrgb diffuse "
    "censorize negadoctor blurs basicadj colorreconstruct colorchecker defringe equalizer vibrance colorbalance "
    "colorbalancergb colorize colortransfer colormapping bloom nlmeans globaltonemap shadhi atrous bilat colorzones "
    "lowlight monochrome sigmoid filmic filmicrgb colisa zonesystem tonecurve levels rgblevels rgbcurve relight "
    "colorcorrection sharpen lowpass highpass grain lut3d colorcontrast colorout channelmixer soften vignette "
    "splittoning velvia clahe finalscale overexposed rawoverexposed dither borders watermark gamma"
)

#: Built-in sequences by ``iop_order_version``.
IOP_ORDER_SEQUENCES: dict[int, tuple[str, ...]] = {
    IOP_ORDER_LEGACY: _LEGACY,
    IOP_ORDER_V30: _V30,
    IOP_ORDER_V30_JPG: _V30_JPG,
}

Instance = tuple[str, int]


def iop_order_version_for(is_raw: bool) -> int:
    """The ``iop_order_version`` autoretouch writes: 2 (V30) for raws, 3 (V30_JPG) for display-encoded files."""
    return IOP_ORDER_V30 if is_raw else IOP_ORDER_V30_JPG


def parse_iop_order_list(text: str) -> list[Instance]:
    """Parse ``"op,instance,op,instance,..."`` into ``[(op, instance), ...]``.

    Raises:
        InvalidRecipeError: odd number of items or a non-integer instance.
    """
    items = [t.strip() for t in text.split(",") if t.strip()]
    if len(items) % 2:
        raise InvalidRecipeError(f"iop_order_list has an odd number of items ({len(items)})")
    out: list[Instance] = []
    for op, inst in zip(items[::2], items[1::2], strict=True):
        try:
            out.append((op, int(inst)))
        except ValueError:
            raise InvalidRecipeError(f"iop_order_list: instance {inst!r} of {op!r} is not an integer") from None
    return out


def serialize_iop_order_list(order: Sequence[Instance]) -> str:
    """``[(op, instance), ...]`` -> ``"op,instance,op,instance,..."`` (darktable's text form)."""
    return ",".join(f"{op},{inst}" for op, inst in order)


def merge_instances(order: Sequence[Instance], instances: Iterable[Instance]) -> list[Instance]:
    """Insert module instances missing from ``order``, each right after the last instance of its module.

    Args:
        order: an iop order list.
        instances: ``(operation, multi_priority)`` pairs that must be present.

    Returns:
        A new list; ``order`` itself is unchanged. Instances already present stay where they are.

    Raises:
        InvalidRecipeError: an operation that ``order`` does not contain at all.
    """
    out = list(order)
    for op, inst in sorted(set(instances), key=lambda x: (x[0], x[1])):
        if (op, inst) in out:
            continue
        positions = [i for i, (o, _) in enumerate(out) if o == op]
        if not positions:
            raise InvalidRecipeError(f"module {op!r} is not in the iop order, cannot add instance {inst}")
        lower = [i for i in positions if out[i][1] < inst]
        at = (max(lower) if lower else positions[0] - 1) + 1
        out.insert(at, (op, inst))
    return out


def build_iop_order_list(version: int, instances: Iterable[Instance]) -> str:
    """The ``iop_order_list`` text for a built-in order plus extra module instances.

    Args:
        version: 1, 2 or 3 (a built-in order).
        instances: every ``(operation, multi_priority)`` of the stack; priority-0 instances are in the base.

    Returns:
        ``"rawprepare,0,...,gamma,0"`` with each extra instance right after its module's previous instance.

    Raises:
        InvalidRecipeError: ``version`` is not a built-in order.
    """
    if version not in IOP_ORDER_SEQUENCES:
        raise InvalidRecipeError(f"iop_order_version {version} is not a darktable 4.2 built-in order")
    base = [(op, 0) for op in IOP_ORDER_SEQUENCES[version]]
    return serialize_iop_order_list(merge_instances(base, instances))
