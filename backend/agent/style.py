"""Styles: a trained agent plus what it was trained on, stored as safetensors weights + JSON metadata.

A style named ``NAME`` is two files in one folder:

* ``NAME.safetensors``: the :class:`~backend.agent.network.AgentNet` state dict (float tensors only);
* ``NAME.json``: metadata, a JSON object::

      {"format": "autoretouch-style", "format_version": 1,
       "name": "NAME", "description": "...",
       "catalog_version": 1,                       # slider catalog the net was trained for
       "agent": {"sliders": [...], "max_steps": 5, "width": 32, "dropout": 0.1, "thumb": 64},
       "training": {...},                          # data summary (free-form JSON object)
       "metrics": {...},                           # evaluation numbers (free-form JSON object)
       "created": "2026-01-31T12:00:00+00:00",     # ISO 8601
       "model_version": 1,                         # integer, bumped by each retraining
       "examples": {...},                          # optional: the training photos' fitted recipes (paired styles)
       "prior": {"share": 0.5, "from": "default@3", "agent": {...}},  # optional: a general agent mixed in
       "weights_sha256": "..."}                    # optional: sha256 of NAME.safetensors (save_style writes it)

``save_style`` writes both files in full to temporary files first, then replaces the two one after the other: a full
disk or a file-size limit leaves the folder as it was. The metadata records the digest of the weights written with
it, so a pair left mixed by a crash between the two replacements (new weights, old metadata) is refused as "from
different trainings" instead of loading silently. Styles without the field (written before it existed) load as
before.

A style with a ``prior`` carries a second, general agent (its tensors prefixed ``prior.`` in the same weights
file): every suggestion is the style's own recipe blended with the prior agent's, the prior's share ``share``.
A style learnt from a few favourites is shrunk this way towards the shipped "auto" it was compared with (see
``trainer.restore``); the prior's weights are copied in, so the style does not change when that one is retrained.

Loading cannot execute code: the metadata is parsed with :mod:`json`, the weights with
:func:`safetensors.torch.load` (never pickle / ``torch.load``); the net is built from the metadata and every
tensor name, shape and dtype is checked against it (and every value is finite); sizes are capped; both files must be
regular files. :meth:`StyleStore.list` runs the same checks (without building a net per style). Any problem is a
:class:`StyleError` (or :class:`~backend.errors.NotFoundError`) naming the file.

The :class:`StyleStore` looks in the user's style folders (``$AUTORETOUCH_STYLES``, several separated by
``os.pathsep``, else ``~/.local/share/autoretouch/styles``) and then in the styles shipped with
autoretouch (``backend/styles/``); an earlier folder shadows a later one. The default style is ``default``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from backend.agent.actions import AGENT_SLIDERS
from backend.agent.network import ENCODERS, AgentNet
from backend.errors import AutoretouchError, NotFoundError, OutputError, PermissionDeniedError, StyleError
from backend.fsio import file_kind, read_limited, replacing, write_failure
from backend.sliders.catalog import CATALOG_VERSION

__all__ = [
    "DEFAULT_STYLE",
    "MAX_METADATA_BYTES",
    "MAX_WEIGHTS_BYTES",
    "PRIOR_PREFIX",
    "SHIPPED_STYLES_DIR",
    "STYLE_FORMAT",
    "STYLE_FORMAT_VERSION",
    "STYLE_NAME_RE",
    "Style",
    "StyleError",
    "StyleInfo",
    "StyleStore",
    "check_weights",
    "load_style",
    "read_metadata",
    "save_style",
    "style_not_found",
    "user_style_dirs",
    "validate_metadata",
    "weights_digest",
]

STYLE_FORMAT = "autoretouch-style"
STYLE_FORMAT_VERSION = 1
DEFAULT_STYLE = "default"
#: Name prefix of the prior agent's tensors in a style's weights file.
PRIOR_PREFIX = "prior."
#: Styles shipped with autoretouch (the trained default style is installed here).
SHIPPED_STYLES_DIR = Path(__file__).resolve().parents[1] / "styles"
#: Largest weights file accepted (the default net is about 0.4 MB).
MAX_WEIGHTS_BYTES = 64 << 20
#: Largest metadata file accepted.
MAX_METADATA_BYTES = 1 << 20

#: A valid style name (match with ``fullmatch``): letters, digits, ``_ . -``, starting with a letter or digit,
#: at most 64 characters.
STYLE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_NAME_RE = STYLE_NAME_RE
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_LIMITS = {"max_steps": (1, 32), "width": (2, 256), "thumb": (16, 256)}


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class Style:
    """A loaded (or freshly trained) style.

    Attributes:
        name: style name (letters, digits, ``_ . -``; at most 64 characters; file stem).
        net: the agent, in eval mode after loading.
        description: one line for ``autoretouch styles``.
        training: training data summary (JSON object: sources, photo counts, dates ...).
        metrics: evaluation numbers (JSON object).
        created: ISO 8601 creation time.
        model_version: integer version, bumped by each retraining.
        examples: for styles learnt from before/after pairs, the training photos' fitted recipes and image
            descriptors (a JSON object; the "nearest edits" baseline of ``autoretouch eval`` reads it), else ``None``.
        prior: a general agent whose recipe is blended into every suggestion (``None``: the style's agent alone).
        prior_share: the prior recipe's share in that blend, in (0, 1] (0 without a prior).
        prior_from: provenance of the prior (``NAME@MODEL_VERSION`` of the style it was copied from).
        catalog_version: slider catalog version the net was trained for.
        path: the weights file it was loaded from (``None`` when not loaded from disk).
    """

    name: str
    net: AgentNet
    description: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=_now)
    model_version: int = 1
    catalog_version: int = CATALOG_VERSION
    path: Path | None = None
    examples: dict[str, Any] | None = None
    prior: AgentNet | None = None
    prior_share: float = 0.0
    prior_from: str = ""

    @property
    def model(self) -> str:
        """Provenance string recorded in recipes: ``NAME@MODEL_VERSION``."""
        return f"{self.name}@{self.model_version}"

    def metadata(self) -> dict[str, Any]:
        """The JSON metadata written next to the weights."""
        meta = {
            "format": STYLE_FORMAT,
            "format_version": STYLE_FORMAT_VERSION,
            "name": self.name,
            "description": self.description,
            "catalog_version": self.catalog_version,
            "agent": self.net.config(),
            "training": self.training,
            "metrics": self.metrics,
            "created": self.created,
            "model_version": self.model_version,
        }
        if self.examples is not None:
            meta["examples"] = self.examples
        if self.prior is not None:
            meta["prior"] = {"share": self.prior_share, "from": self.prior_from, "agent": self.prior.config()}
        return meta

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every weight of the style: the agent's state dict, then the prior's with names prefixed ``prior.``."""
        state = dict(self.net.state_dict())
        if self.prior is not None:
            state |= {PRIOR_PREFIX + k: v for k, v in self.prior.state_dict().items()}
        return state

    @property
    def thumb(self) -> int:
        """The largest thumbnail (pixels) any of the style's agents looks at."""
        return max(self.net.thumb, self.prior.thumb if self.prior is not None else 0)


@dataclass(frozen=True)
class StyleInfo:
    """One entry of :meth:`StyleStore.list` (validated as :func:`load_style` validates, without building the net).

    Attributes:
        name: style name (file stem).
        path: the weights file.
        directory: the style folder it lives in.
        source: ``"user"`` or ``"shipped"``.
        metadata: the validated metadata (empty when ``error`` is set).
        error: why the style cannot be used, or ``None``.
        shadowed: ``True`` when a folder earlier in the search path has a style of the same name.
    """

    name: str
    path: Path
    directory: Path
    source: str
    metadata: dict[str, Any]
    error: str | None = None
    shadowed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (what ``autoretouch styles --json`` prints per style)."""
        meta = self.metadata
        return {
            "name": self.name,
            "path": str(self.path),
            "directory": str(self.directory),
            "source": self.source,
            "description": meta.get("description"),
            "created": meta.get("created"),
            "catalog_version": meta.get("catalog_version"),
            "model_version": meta.get("model_version"),
            "agent": meta.get("agent"),
            "training": meta.get("training"),
            "metrics": meta.get("metrics"),
            "examples": _count_examples(meta.get("examples")),
            "prior": {k: meta["prior"][k] for k in ("from", "share")} if meta.get("prior") else None,
            "shadowed": self.shadowed,
            "error": self.error,
        }


def _count_examples(examples: Any) -> int:
    """Number of training examples a style carries (0 when it has none or they are malformed)."""
    recipes = examples.get("recipes") if isinstance(examples, dict) else None
    return len(recipes) if isinstance(recipes, list) else 0


# -- metadata ---------------------------------------------------------------------------------------


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_name(name: Any, where: Path) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise StyleError(where, f"invalid style name {name!r} (letters, digits, '_', '.', '-'; at most 64)")
    return name


def _check_agent(agent: Any, where: Path) -> dict[str, Any]:
    if not isinstance(agent, dict):
        raise StyleError(where, "'agent' must be an object")
    missing = {"sliders", "max_steps", "width", "dropout", "thumb"} - set(agent)
    if missing:
        raise StyleError(where, f"'agent' lacks {sorted(missing)}")
    sliders = agent["sliders"]
    if not isinstance(sliders, list) or not sliders or not all(isinstance(s, str) for s in sliders):
        raise StyleError(where, "'agent.sliders' must be a non-empty list of slider names")
    unknown = [s for s in sliders if s not in AGENT_SLIDERS]
    if unknown or len(set(sliders)) != len(sliders):
        raise StyleError(where, f"'agent.sliders' has unknown or repeated sliders {unknown or sliders}")
    for key, (lo, hi) in _LIMITS.items():
        if not _is_int(agent[key]) or not lo <= agent[key] <= hi:
            raise StyleError(where, f"'agent.{key}' must be an integer in {lo}..{hi}, got {agent[key]!r}")
    if agent["width"] % 2:
        raise StyleError(where, f"'agent.width' must be even, got {agent['width']}")
    dropout = agent["dropout"]
    if isinstance(dropout, bool) or not isinstance(dropout, int | float) or not 0.0 <= dropout < 1.0:
        raise StyleError(where, f"'agent.dropout' must be a number in [0, 1), got {dropout!r}")
    oneshot = agent.get("oneshot", False)
    if not isinstance(oneshot, bool):
        raise StyleError(where, f"'agent.oneshot' must be true or false, got {oneshot!r}")
    encoder = agent.get("encoder", "cnn")
    if encoder not in ENCODERS:
        raise StyleError(where, f"'agent.encoder' must be one of {list(ENCODERS)}, got {encoder!r}")
    keys = ("sliders", "max_steps", "width", "dropout", "thumb")
    return {k: agent[k] for k in keys} | {"oneshot": oneshot, "encoder": encoder}


def _check_prior(prior: Any, where: Path) -> dict[str, Any]:
    if not isinstance(prior, dict):
        raise StyleError(where, "'prior' must be an object")
    share = prior.get("share")
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 < share <= 1.0:
        raise StyleError(where, f"'prior.share' must be a number in (0, 1], got {share!r}")
    source = prior.get("from", "")
    if not isinstance(source, str):
        raise StyleError(where, f"'prior.from' must be a string, got {source!r}")
    agent = _check_agent(prior.get("agent"), where)
    if agent["max_steps"] != 1 or not agent["oneshot"]:
        raise StyleError(where, "'prior.agent' must be a one-shot agent (oneshot true, max_steps 1)")
    return {"share": float(share), "from": source, "agent": agent}


def validate_metadata(data: Any, where: Path) -> dict[str, Any]:
    """Check parsed style metadata; returns it (unknown keys are kept but not used).

    Raises:
        StyleError: wrong format, wrong catalog version, a missing or mistyped field.
    """
    if not isinstance(data, dict):
        raise StyleError(where, "style metadata must be a JSON object")
    if data.get("format") != STYLE_FORMAT:
        raise StyleError(where, f"not an autoretouch style (format {data.get('format')!r})")
    if data.get("format_version") != STYLE_FORMAT_VERSION:
        raise StyleError(where, f"style format version {data.get('format_version')!r} is not supported (expected 1)")
    _check_name(data.get("name"), where)
    catalog = data.get("catalog_version")
    if not _is_int(catalog):
        raise StyleError(where, f"'catalog_version' must be an integer, got {catalog!r}")
    if catalog != CATALOG_VERSION:
        raise StyleError(
            where,
            f"style was trained for slider catalog version {catalog}, this autoretouch uses version "
            f"{CATALOG_VERSION}; retrain the style or use a matching autoretouch",
        )
    for key in ("training", "metrics"):
        if not isinstance(data.get(key), dict):
            raise StyleError(where, f"'{key}' must be a JSON object")
    if not isinstance(data.get("examples", {}), dict):
        raise StyleError(where, "'examples' must be a JSON object")
    if "prior" in data:
        data = dict(data) | {"prior": _check_prior(data["prior"], where)}
    if not isinstance(data.get("description", ""), str):
        raise StyleError(where, "'description' must be a string")
    created = data.get("created")
    try:
        datetime.fromisoformat(created)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise StyleError(where, f"'created' must be an ISO 8601 time, got {created!r}") from None
    version = data.get("model_version")
    if not _is_int(version) or version < 1:
        raise StyleError(where, f"'model_version' must be a positive integer, got {version!r}")
    digest = data.get("weights_sha256")
    if "weights_sha256" in data and not (isinstance(digest, str) and _SHA256_RE.fullmatch(digest)):
        raise StyleError(where, f"'weights_sha256' must be 64 lowercase hexadecimal digits, got {digest!r}")
    data = dict(data)
    data["agent"] = _check_agent(data.get("agent"), where)
    data.setdefault("description", "")
    return data


def _not_regular(path: Path, what: str, mode: int) -> StyleError:
    return StyleError(path, f"the {what} file is not a regular file ({file_kind(mode)})")


def _read_limited(path: Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path`` (symbolic links followed), at most ``limit`` of them.

    Opened without blocking (a FIFO never hangs), binary (Windows' ``O_BINARY``: no newline translation of the
    weights) and checked with ``fstat`` before anything is read (:func:`backend.fsio.read_limited`), so a device
    (``/dev/zero``), FIFO, socket or folder is refused as "not a regular file".
    """

    def open_failed(exc: OSError) -> AutoretouchError:
        if isinstance(exc, FileNotFoundError):
            return NotFoundError(f"{path}: style {what} not found")
        if isinstance(exc, PermissionError):
            return PermissionDeniedError(f"{path}: permission denied")
        if isinstance(exc, IsADirectoryError):
            return _not_regular(path, what, stat.S_IFDIR)
        return StyleError(path, f"{what} cannot be opened ({exc.strerror})")  # ENXIO: a socket; ELOOP: a link loop

    def too_large(size: int | None) -> StyleError:
        if size is None:  # grew since the fstat
            return StyleError(path, f"{what} exceeds the {limit:,}-byte limit")
        return StyleError(path, f"{what} of {size:,} bytes exceeds the {limit:,}-byte limit")

    return read_limited(
        path,
        limit,
        refuse=lambda info: None if stat.S_ISREG(info.st_mode) else _not_regular(path, what, info.st_mode),
        too_large=too_large,
        open_failed=open_failed,
        read_failed=lambda exc: _not_regular(path, what, stat.S_IFDIR) if isinstance(exc, IsADirectoryError) else exc,
    )


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Read and validate a style's JSON metadata file.

    Raises:
        NotFoundError: no such file.
        StyleError: not valid JSON or invalid metadata.
    """
    p = Path(path)
    raw = _read_limited(p, MAX_METADATA_BYTES, "metadata")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise StyleError(p, f"metadata is not valid JSON ({exc})") from None
    return validate_metadata(data, p)


# -- weights ----------------------------------------------------------------------------------------


def _not_safetensors(path: Path, exc: Exception) -> StyleError:
    return StyleError(path, f"not a safetensors weights file ({type(exc).__name__}: {exc})")


def check_weights(path: str | Path) -> None:
    """Check a weights file cheaply, without reading its tensors.

    Checks the size limit, and that the safetensors header is readable and covers the file exactly (a truncated
    or padded file fails).

    Raises:
        NotFoundError: no such file.
        StyleError: too large, or not a (complete) safetensors file; the message :func:`load_style` gives.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise NotFoundError(f"{p}: style weights not found") from None
    if size > MAX_WEIGHTS_BYTES:
        raise StyleError(p, f"weights of {size:,} bytes exceeds the {MAX_WEIGHTS_BYTES:,}-byte limit")
    try:
        with safe_open(str(p), framework="pt") as fh:  # parses and validates the header only
            fh.keys()
    except Exception as exc:  # safetensors raises its own error types for every malformed header
        raise _not_safetensors(p, exc) from None


def weights_digest(data: bytes) -> str:
    """The ``weights_sha256`` a style's metadata records: the sha256 of the weights file's bytes (hex)."""
    return hashlib.sha256(data).hexdigest()


#: Agent config (JSON) -> tensor name -> (shape, dtype): what a weights file for such an agent must hold.
_SPECS: dict[str, dict[str, tuple[tuple[int, ...], torch.dtype]]] = {}


def _agent_specs(agent: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """The tensors of the agent validated ``agent`` metadata describes (one net built per distinct config)."""
    key = json.dumps(agent, sort_keys=True)
    if key not in _SPECS:
        with torch.random.fork_rng(devices=[]):  # building initialises weights: leave the caller's RNG alone
            net = _net_from(agent)
        _SPECS[key] = {k: (tuple(v.shape), v.dtype) for k, v in net.state_dict().items()}
    return _SPECS[key]


def _style_specs(meta: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Every tensor a style's weights file must hold: its agent's, then its prior's (prefixed ``prior.``)."""
    specs = dict(_agent_specs(meta["agent"]))
    if meta.get("prior"):
        specs |= {PRIOR_PREFIX + k: v for k, v in _agent_specs(meta["prior"]["agent"]).items()}
    return specs


def _read_weights(path: Path, meta: dict[str, Any], meta_path: Path) -> dict[str, torch.Tensor]:
    """Read and check a style's weights against its validated metadata ``meta`` (what loading and listing share).

    Checks, in order: a regular file within the size limit, a complete safetensors file, the digest the metadata
    records (if any), then every tensor's name, shape, dtype (floating) and values (finite).

    Returns:
        Tensor name -> tensor, converted to the dtype the network uses.
    """
    raw = _read_limited(path, MAX_WEIGHTS_BYTES, "weights")
    try:
        tensors = load_safetensors(raw)
    except Exception as exc:  # safetensors raises its own error types for every malformed header
        raise _not_safetensors(path, exc) from None
    recorded = meta.get("weights_sha256")
    if recorded is not None and recorded != weights_digest(raw):
        raise StyleError(
            path,
            f"weights and metadata are from different trainings: {meta_path} records weights_sha256 "
            f"{recorded[:16]}..., this file's is {weights_digest(raw)[:16]}... (a retraining stopped between "
            "writing the two files?); retrain the style or restore both files from the same training",
        )
    expected = _style_specs(meta)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise StyleError(
            path,
            f"weights do not match the network described by the metadata (missing {missing[:5]}, "
            f"unexpected {unexpected[:5]})",
        )
    out: dict[str, torch.Tensor] = {}
    for name, (shape, dtype) in expected.items():
        t = tensors[name]
        if tuple(t.shape) != shape:
            raise StyleError(path, f"tensor {name!r} has shape {tuple(t.shape)}, the network needs {shape}")
        if not t.is_floating_point():
            raise StyleError(path, f"tensor {name!r} has dtype {t.dtype}, expected a floating type")
        t = t.to(dtype)
        if not bool(np.isfinite(t.numpy()).all()):  # numpy: torch's threaded isfinite is 100x slower here
            raise StyleError(path, f"tensor {name!r} contains NaN or infinite values")
        out[name] = t
    return out


def _read_style(weights: Path, meta_path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The validated metadata and checked tensors of a style's file pair (see :func:`_read_weights`)."""
    meta = read_metadata(meta_path)
    if meta["name"] != weights.stem:
        raise StyleError(meta_path, f"metadata names the style {meta['name']!r} but the file is {weights.name!r}")
    return meta, _read_weights(weights, meta, meta_path)


def _net_from(agent: dict[str, Any]) -> AgentNet:
    """An untrained agent shaped as validated ``agent`` metadata describes."""
    return AgentNet(
        sliders=tuple(agent["sliders"]),
        max_steps=agent["max_steps"],
        width=agent["width"],
        dropout=float(agent["dropout"]),
        thumb=agent["thumb"],
        oneshot=agent["oneshot"],
        encoder=agent["encoder"],
    )


def _style_files(path: Path) -> tuple[Path, Path]:
    """(weights, metadata) paths of a style given either file (or the common stem)."""
    if path.suffix in (".safetensors", ".json"):
        return path.with_suffix(".safetensors"), path.with_suffix(".json")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def _looks_like_path(spec: str | Path) -> bool:
    text = str(spec)
    return isinstance(spec, Path) or os.sep in text or "/" in text or text.endswith((".safetensors", ".json"))


def _installed_hint(spec: str | Path, store: StyleStore | None) -> str:
    """For a missing ``NAME.json`` / ``NAME.safetensors`` given without a folder: the installed style ``NAME``."""
    text = str(spec)
    if isinstance(spec, Path) or os.sep in text or "/" in text:
        return ""
    stem = Path(text).stem
    if not _NAME_RE.fullmatch(stem):
        return ""
    try:
        (store or StyleStore()).find(stem)
    except AutoretouchError:
        return ""
    return f" (to use the installed style {stem!r}, name it without the extension: --style {stem})"


def load_style(path_or_name: str | Path, *, store: StyleStore | None = None) -> Style:
    """Load a style from its files or by name from the style store.

    Args:
        path_or_name: a style name (looked up in ``store``), or a path to ``NAME.safetensors``,
            ``NAME.json`` or ``NAME`` (both files must exist side by side).
        store: where names are looked up (default: :class:`StyleStore` with the default folders).

    Returns:
        The :class:`Style`, its net in eval mode.

    Raises:
        NotFoundError: no such style / file.
        StyleError: invalid metadata, incompatible catalog version, weights that are not safetensors or do
            not match the network the metadata describes.
    """
    if _looks_like_path(path_or_name):
        weights, meta_path = _style_files(Path(path_or_name))
        if not os.path.lexists(weights):
            raise NotFoundError(f"{weights}: style weights not found{_installed_hint(path_or_name, store)}")
    else:
        weights = (store or StyleStore()).find(str(path_or_name))
        meta_path = weights.with_suffix(".json")
    return _style_from(weights, *_read_style(weights, meta_path))


def _style_from(weights: Path, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Style:
    """The :class:`Style` (nets in eval mode) of the checked file pair :func:`_read_style` read from ``weights``."""
    net = _net_from(meta["agent"])
    prior_meta = meta.get("prior")
    prior = _net_from(prior_meta["agent"]) if prior_meta else None
    for prefix, target in (("", net), (PRIOR_PREFIX, prior)):
        if target is not None:
            state = {k: tensors[prefix + k] for k in target.state_dict()}
            target.load_state_dict(state, strict=True)
    net.eval()
    if prior is not None:
        prior.eval()
    return Style(
        name=meta["name"],
        net=net,
        description=meta["description"],
        training=meta["training"],
        metrics=meta["metrics"],
        created=meta["created"],
        model_version=meta["model_version"],
        catalog_version=meta["catalog_version"],
        path=weights,
        examples=meta.get("examples"),
        prior=prior,
        prior_share=prior_meta["share"] if prior_meta else 0.0,
        prior_from=prior_meta["from"] if prior_meta else "",
    )


def _flushed(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and flush it to disk (a full disk may show only at the flush)."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def save_style(style: Style, directory: str | Path) -> Path:
    """Write ``NAME.safetensors`` and ``NAME.json`` into ``directory`` (created if missing), replacing both or neither.

    Both are written in full to temporary files beside them first, and only then moved over the old pair, the
    weights first: a full disk, a file-size limit or a quota leaves the folder as it was (the temporary files
    removed). The metadata records the weights' digest (``weights_sha256``): a crash between the two moves leaves
    a pair that loading refuses ("from different trainings") rather than new weights read with the old metadata.

    Args:
        style: the style; its metadata is validated before anything is written.
        directory: target folder.

    Returns:
        The weights path.

    Raises:
        StyleError: invalid name or metadata (e.g. non-JSON values in ``training``/``metrics``).
        PermissionDeniedError: the folder cannot be written.
        OutputError: a file cannot be written (no space left, file too large, ...): the message names it and the
            cause, and says so where the weights were replaced but the metadata could not be (the pair is mixed).
    """
    d = Path(directory)
    weights = d / f"{_check_name(style.name, d)}.safetensors"
    meta_path = weights.with_suffix(".json")
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in style.tensors().items()}
    blob = save_safetensors(state, metadata={"format": STYLE_FORMAT, "name": style.name})
    meta = style.metadata() | {"weights_sha256": weights_digest(blob)}
    try:
        text = json.dumps(meta, indent=2, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StyleError(meta_path, f"metadata is not plain JSON ({exc})") from None
    validate_metadata(json.loads(text), meta_path)
    files = {weights: blob, meta_path: (text + "\n").encode("utf-8")}
    at, moved = d, []

    def move(tmp: Path, target: Path) -> None:
        nonlocal at
        at = target
        os.replace(tmp, target)
        moved.append(target)

    try:
        d.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            # entered .json first: the stack's exits run last-in first, so the weights are moved first
            temps = {path: stack.enter_context(replacing(path, move=move)) for path in reversed(files)}
            for path, data in files.items():
                at = path
                _flushed(temps[path], data)
    except PermissionError as exc:
        raise PermissionDeniedError(f"{at}: cannot write the style ({exc.strerror})") from None
    except OSError as exc:
        reason = f"cannot write the style ({write_failure(exc)})"
        if moved:
            reason += f"; {moved[0].name} was already replaced, so the pair is mixed (loading refuses it)"
        raise OutputError(at, reason) from None
    return weights


# -- the store --------------------------------------------------------------------------------------


def user_style_dirs() -> list[Path]:
    """The user's style folders: ``$AUTORETOUCH_STYLES`` (``os.pathsep``-separated) or the XDG default."""
    env = os.environ.get("AUTORETOUCH_STYLES")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path("~/.local/share/autoretouch/styles").expanduser()]


def style_not_found(
    name: str, dirs: Sequence[Path], *, scope: str = "", default_hint: str, listing: str
) -> NotFoundError:
    """The error for a style that no folder of ``dirs`` has; the missing default style gets its own hint.

    Args:
        name: the style asked for.
        dirs: the style folders looked in.
        scope: who looked, as the message names it after the style (``" on the daemon"``), or ``""``.
        default_hint: how to go on without the default style.
        listing: what lists the installed styles.

    Returns:
        The error to raise: ``no default style is installed{scope} (looked in ...); {default_hint}`` for
        :data:`DEFAULT_STYLE`, else ``no style named '{name}'{scope} (looked in ...); see {listing}``, with
        ``did you mean 'NAME'?`` before ``see`` when a style name in ``dirs`` (as :meth:`StyleStore.list` lists them,
        unread) is close to ``name`` (a typing error); the folders are listed as given, ``(no style folders)`` when
        there are none.
    """
    import difflib

    looked = ", ".join(str(d) for d in dirs) or "(no style folders)"
    if name == DEFAULT_STYLE:
        return NotFoundError(f"no default style is installed{scope} (looked in {looked}); {default_hint}")
    names: set[str] = set()
    for d in dirs:
        with contextlib.suppress(OSError):  # a folder that is not there or cannot be listed lists nothing
            names |= {p.stem for p in Path(d).iterdir() if p.suffix in (".json", ".safetensors")}
    close = difflib.get_close_matches(name, sorted(n for n in names if _NAME_RE.fullmatch(n)), n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return NotFoundError(f"no style named {name!r}{scope} (looked in {looked}); {guess}see {listing}")


class StyleStore:
    """The styles installed on this machine: user folders first, then the shipped ones.

    Args:
        dirs: folders to search, in order (default: :func:`user_style_dirs` then :data:`SHIPPED_STYLES_DIR`).
    """

    def __init__(self, dirs: Sequence[str | Path] | None = None) -> None:
        if dirs is None:
            self.dirs = [*user_style_dirs(), SHIPPED_STYLES_DIR]
        else:
            self.dirs = [Path(d) for d in dirs]

    def source_of(self, directory: Path) -> str:
        """``"shipped"`` for the folder shipped with autoretouch, ``"user"`` for the others."""
        try:
            return "shipped" if directory.resolve() == SHIPPED_STYLES_DIR.resolve() else "user"
        except OSError:
            return "user"

    def find(self, name: str) -> Path:
        """The weights file of the first style called ``name`` along the search path.

        Raises:
            StyleError: ``name`` is not a valid style name, or its weights are not a regular file.
            NotFoundError: no folder has it (with a hint when it is the missing default style).
        """
        _check_name(name, Path(name))
        for d in self.dirs:
            candidate = d / f"{name}.safetensors"
            if candidate.is_file():
                return candidate
            if os.path.lexists(candidate):  # `styles` lists it too: say what is wrong rather than "no style named"
                try:
                    mode = candidate.stat().st_mode
                except OSError:
                    raise NotFoundError(f"{candidate}: style weights not found (a broken symbolic link)") from None
                raise _not_regular(candidate, "weights", mode)
        raise style_not_found(
            name,
            self.dirs,
            default_hint="choose one with --style NAME or PATH (see `autoretouch styles`) or train one with "
            "`autoretouch train`",
            listing="`autoretouch styles`",
        )

    def load(self, name: str) -> Style:
        """Load the style ``name`` (see :func:`load_style`)."""
        return load_style(self.find(name))

    def list_loading(self, wanted: Callable[[Path], bool]) -> tuple[list[StyleInfo], dict[Path, Style]]:
        """:meth:`list`, and the loaded styles asked for, built from the same reading (each style is read once).

        Args:
            wanted: given the weights path of each style no earlier folder shadows, before it is read: whether to
                load it too.

        Returns:
            What :meth:`list` returns, and weights path -> :class:`Style` (as :func:`load_style` loads it) of every
            wanted style that is valid.
        """
        infos: list[StyleInfo] = []
        loaded: dict[Path, Style] = {}
        seen: set[str] = set()
        for d in self.dirs:
            if not d.is_dir():
                continue
            stems = sorted({p.stem for p in d.iterdir() if p.suffix in (".json", ".safetensors")})
            for stem in stems:
                if not _NAME_RE.fullmatch(stem):
                    continue
                weights = d / f"{stem}.safetensors"
                load = stem not in seen and wanted(weights)
                meta: dict[str, Any] = {}
                error: str | None = None
                try:
                    if not os.path.lexists(weights):
                        raise StyleError(weights, "weights file missing (only the metadata exists)")
                    meta, tensors = _read_style(weights, weights.with_suffix(".json"))
                    if load:
                        loaded[weights] = _style_from(weights, meta, tensors)
                except AutoretouchError as exc:
                    meta, error = {}, str(exc)
                infos.append(StyleInfo(stem, weights, d, self.source_of(d), meta, error, shadowed=stem in seen))
                seen.add(stem)
        return infos, loaded

    def list(self) -> list[StyleInfo]:
        """Every style file pair in the search path, in folder order then by name; invalid ones carry ``error``.

        Each style is validated as :func:`load_style` validates it (metadata, digest, every tensor's name, shape,
        dtype and values; a truncated file, NaN weights, a mixed pair are an ``error``), without building its net.
        """
        return self.list_loading(lambda weights: False)[0]
