"""darktable 4.2 parameter blobs: struct layouts, packing and the XMP ``params`` encodings.

A darktable history entry stores a module's parameter struct as raw C bytes (little-endian, native
layout), encoded either as lowercase hex or as ``"gz" + 2-digit factor + base64(zlib(blob))``. The layouts
of the modules autoretouch writes live in ``darktable_layouts.json`` next to this file, generated from the
darktable 4.2.1 introspection dump by ``tools/gen_darktable_layouts.py``; nothing here reads ``../shared``.

Field values are given by struct field name (``"exposure"``, ``"levels"``, ``"curve_nodes"``). A value may be
a number, an enum name, nested lists, a numpy array or a tensor with as many elements as the field (or, with
the field's number of dimensions, a smaller block that fills the leading elements). Members of a plain struct
may also be named with a dot (``"center.x"``). Fields that are not given keep darktable's ``init()``
defaults, so a packed blob is always complete.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from backend.errors import InvalidRecipeError

__all__ = [
    "DARKTABLE_VERSION",
    "FieldLayout",
    "ModuleLayout",
    "decode_params",
    "encode_params",
    "module_layout",
    "module_layouts",
    "pack_params",
    "unpack_params",
]

#: The darktable release whose struct layouts and module versions are written.
DARKTABLE_VERSION = "4.2.1"

#: darktable's default ``compress_xmp_tags`` ("only large entries") compresses blobs above this size (bytes).
_COMPRESS_ABOVE = 100

_STRUCT_RANGE = {"i": (-(2**31), 2**31 - 1), "I": (0, 2**32 - 1), "H": (0, 2**16 - 1)}


@dataclass(frozen=True)
class FieldLayout:
    """One top-level field of a darktable parameter struct.

    Attributes:
        name: struct member name, e.g. ``"curve_nodes"``.
        type: :mod:`struct` code of every element: ``f`` float32, ``i`` int32 (also gboolean and enums),
            ``I`` uint32, ``H`` uint16.
        offset: byte offset in the struct.
        shape: array dimensions; for arrays of structs (or a plain struct) the member count is last.
        members: member names of the struct elements, or ``()``.
        default: darktable's ``init()`` default, flattened (``prod(shape)`` elements).
        minimum: introspection minimum of float fields, or ``None``.
        maximum: introspection maximum of float fields, or ``None``.
        enum: enum name -> value, or empty.
    """

    name: str
    type: str
    offset: int
    shape: tuple[int, ...]
    members: tuple[str, ...]
    default: tuple[float, ...]
    minimum: float | None
    maximum: float | None
    enum: Mapping[str, int]

    @property
    def count(self) -> int:
        """Number of scalar elements."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Size in bytes."""
        return self.count * struct.calcsize("<" + self.type)


@dataclass(frozen=True)
class ModuleLayout:
    """The parameter struct of one darktable module (``darktable:operation``).

    Attributes:
        operation: module name, e.g. ``"exposure"``.
        modversion: the module's ``version()`` in darktable 4.2.1 (``darktable:modversion``).
        size: ``sizeof`` the params struct in bytes.
        fields: the top-level fields in offset order.
    """

    operation: str
    modversion: int
    size: int
    fields: tuple[FieldLayout, ...]

    def field(self, name: str) -> FieldLayout:
        """The field called ``name``.

        Raises:
            InvalidRecipeError: the struct has no such field.
        """
        for f in self.fields:
            if f.name == name:
                return f
        raise InvalidRecipeError(f"darktable module {self.operation!r} has no parameter field {name!r}")


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return [x for v in value for x in _flatten(v)]
    return [value]


def _parse_module(op: str, raw: Mapping[str, Any]) -> ModuleLayout:
    fields = []
    for f in raw["fields"]:
        shape = tuple(int(s) for s in f["shape"])
        default = _flatten(f["default"])
        count = math.prod(shape)
        if len(default) == 1 and count > 1:
            default = default * count
        fields.append(
            FieldLayout(
                name=f["name"],
                type=f["type"],
                offset=int(f["offset"]),
                shape=shape,
                members=tuple(f.get("members", ())),
                default=tuple(float(x) for x in default),
                minimum=f.get("min"),
                maximum=f.get("max"),
                enum=dict(f.get("enum", {})),
            )
        )
    return ModuleLayout(op, int(raw["modversion"]), int(raw["size"]), tuple(sorted(fields, key=lambda x: x.offset)))


@functools.cache
def module_layouts() -> dict[str, ModuleLayout]:
    """All module layouts of ``darktable_layouts.json``, by operation name."""
    text = resources.files("backend.translate").joinpath("darktable_layouts.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return {op: _parse_module(op, raw) for op, raw in data["modules"].items()}


def module_layout(operation: str) -> ModuleLayout:
    """The layout of one module.

    Raises:
        InvalidRecipeError: autoretouch has no layout for ``operation``.
    """
    try:
        return module_layouts()[operation]
    except KeyError:
        raise InvalidRecipeError(f"no darktable 4.2 parameter layout for module {operation!r}") from None


def _as_array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # torch.Tensor, without importing torch here
        value = value.detach().cpu().double().numpy()
    return np.asarray(value)


def _element(layout: ModuleLayout, fld: FieldLayout, x: Any) -> float:
    where = f"darktable {layout.operation}.{fld.name}"
    if isinstance(x, str):
        if x not in fld.enum:
            raise InvalidRecipeError(f"{where}: unknown enum value {x!r} (known: {sorted(fld.enum)})")
        return float(fld.enum[x])
    v = float(x) + 0.0  # -0.0 -> 0.0, so equal values always pack to equal bytes
    if not math.isfinite(v):
        raise InvalidRecipeError(f"{where}: non-finite value {v}")
    if fld.type != "f":
        if v != round(v):
            raise InvalidRecipeError(f"{where}: integer field got {v}")
        lo, hi = _STRUCT_RANGE[fld.type]
        if not lo <= v <= hi:
            raise InvalidRecipeError(f"{where}: value {v:g} does not fit the field")
    return v


def _field_values(layout: ModuleLayout, fld: FieldLayout, value: Any) -> list[float]:
    """Flatten ``value`` into ``fld.count`` elements, keeping defaults where a smaller block is given."""
    where = f"darktable {layout.operation}.{fld.name}"
    arr = np.array([value], dtype=object) if isinstance(value, str) else _as_array(value)
    if arr.size == fld.count:
        flat = arr.reshape(-1).tolist()
        return [_element(layout, fld, x) for x in flat]
    if arr.ndim == len(fld.shape) and all(a <= s for a, s in zip(arr.shape, fld.shape, strict=True)):
        out = np.array(fld.default, dtype=np.float64).reshape(fld.shape)
        block = np.vectorize(lambda x: _element(layout, fld, x), otypes=[np.float64])(arr) if arr.size else arr
        out[tuple(slice(0, a) for a in arr.shape)] = block
        return out.reshape(-1).tolist()
    raise InvalidRecipeError(f"{where}: expected {fld.count} values of shape {fld.shape}, got shape {arr.shape}")


def pack_params(operation: str, values: Mapping[str, Any]) -> bytes:
    """Pack field values into the module's parameter struct.

    Args:
        operation: darktable module name (one of :func:`module_layouts`).
        values: field name (or ``"struct.member"``) -> value; see the module docstring. Missing fields keep
            darktable's ``init()`` default.

    Returns:
        The struct bytes, exactly ``module_layout(operation).size`` long.

    Raises:
        InvalidRecipeError: unknown field, wrong number of elements, non-finite number, bad enum name.
    """
    layout = module_layout(operation)
    resolved: dict[str, list[float]] = {}
    for name, value in values.items():
        if "." in name and not any(f.name == name for f in layout.fields):
            base, member = name.split(".", 1)
            fld = layout.field(base)
            if member not in fld.members or len(fld.shape) != 1:
                raise InvalidRecipeError(f"darktable {operation}: no struct member {name!r}")
            current = resolved.setdefault(base, list(fld.default))
            current[fld.members.index(member)] = _element(layout, fld, _as_array(value).reshape(-1)[0].item())
            continue
        fld = layout.field(name)
        resolved[name] = _field_values(layout, fld, value)
    blob = bytearray(layout.size)
    for fld in layout.fields:
        elems = resolved.get(fld.name, list(fld.default))
        code = fld.type
        converted = [int(e) for e in elems] if code != "f" else elems
        try:
            struct.pack_into(f"<{fld.count}{code}", blob, fld.offset, *converted)
        except (struct.error, OverflowError) as exc:
            raise InvalidRecipeError(f"darktable {operation}.{fld.name}: value out of range ({exc})") from None
    return bytes(blob)


def unpack_params(operation: str, blob: bytes) -> dict[str, Any]:
    """Decode a parameter struct into field values (the inverse of :func:`pack_params`).

    Args:
        operation: darktable module name.
        blob: struct bytes of exactly the module's size.

    Returns:
        Field name -> number (scalars) or nested lists of the field's shape.

    Raises:
        InvalidRecipeError: the blob does not have the struct's size.
    """
    layout = module_layout(operation)
    if len(blob) != layout.size:
        raise InvalidRecipeError(
            f"darktable {operation}: params blob has {len(blob)} bytes, the 4.2 struct has {layout.size}"
        )
    out: dict[str, Any] = {}
    for fld in layout.fields:
        elems = struct.unpack_from(f"<{fld.count}{fld.type}", blob, fld.offset)
        if not fld.shape:
            out[fld.name] = elems[0]
        else:
            out[fld.name] = np.array(elems).reshape(fld.shape).tolist()
    return out


def encode_params(blob: bytes, *, compress: bool | None = None) -> str:
    """Encode a blob as darktable writes it in XMP (``darktable:params``) and ``.dtstyle`` files.

    Args:
        blob: raw struct bytes.
        compress: ``True`` for the ``gz`` form, ``False`` for hex; ``None`` does what darktable's default
            ``compress_xmp_tags = only large entries`` does (gz above 100 bytes).

    Returns:
        ``"<lowercase hex>"`` or ``"gzNN<base64(zlib(blob))>"`` with ``NN = min(len(blob) // len(z) + 1, 99)``.
    """
    if compress is None:
        compress = len(blob) > _COMPRESS_ABOVE
    if not compress:
        return blob.hex()
    packed = zlib.compress(blob)
    factor = min(len(blob) // len(packed) + 1, 99)
    return f"gz{factor:02d}" + base64.b64encode(packed).decode("ascii")


def decode_params(text: str) -> bytes:
    """Decode a ``darktable:params`` / ``blendop_params`` string (hex or gz form) into bytes.

    Raises:
        InvalidRecipeError: the text is neither valid hex nor a valid gz form.
    """
    text = text.strip()
    try:
        if text.startswith("gz"):
            if len(text) < 4 or not text[2:4].isdigit():
                raise ValueError("gz form needs two decimal digits after 'gz'")
            return zlib.decompress(base64.b64decode(text[4:], validate=True))
        return bytes.fromhex(text)
    except (ValueError, binascii.Error, zlib.error) as exc:
        raise InvalidRecipeError(f"cannot decode darktable params {text[:24]!r}...: {exc}") from None
