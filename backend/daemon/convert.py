"""Proto messages <-> autoretouch's domain objects (recipes, outcomes, styles), and proto <-> JSON.

The servicer and the JSON bridge are thin: every translation between the schema and the domain lives here.
JSON is ``google.protobuf.json_format`` with the proto's own (snake_case) field names; every field is
printed, defaults included; the parser also accepts lowerCamelCase names and refuses unknown fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message

from backend.agent.style import StyleInfo
from backend.daemon.errors import BadRequestError
from backend.fsio import utf8_text
from backend.recipe import Recipe
from backend.rpc import pb
from backend.sidecar.apply import Outcome
from backend.translate.darktable import HistoryEntry

__all__ = [
    "ACTION_NAMES",
    "history_from_pb",
    "history_to_pb",
    "host_arg",
    "host_name",
    "hosts_from_pb",
    "json_to_message",
    "message_to_dict",
    "message_to_json",
    "outcome_from_pb",
    "outcome_to_pb",
    "recipe_from_pb",
    "recipe_to_pb",
    "settings_to_struct",
    "style_info_from_pb",
    "style_info_to_pb",
    "value_from_pb",
    "value_to_pb",
]

M = TypeVar("M", bound=Message)

_HOSTS: dict[int, str] = {pb.HOST_LIGHTROOM: "lightroom", pb.HOST_DARKTABLE: "darktable"}
_HOST_ENUMS: dict[str, int] = {v: k for k, v in _HOSTS.items()}

#: Outcome action (``backend.sidecar.apply.Action``) <-> ``SidecarAction`` value.
ACTION_NAMES: dict[str, int] = {
    "written": pb.SIDECAR_ACTION_WRITTEN,
    "would-write": pb.SIDECAR_ACTION_WOULD_WRITE,
    "skipped": pb.SIDECAR_ACTION_SKIPPED,
    "reverted": pb.SIDECAR_ACTION_REVERTED,
    "would-revert": pb.SIDECAR_ACTION_WOULD_REVERT,
    "deleted": pb.SIDECAR_ACTION_DELETED,
    "would-delete": pb.SIDECAR_ACTION_WOULD_DELETE,
    "failed": pb.SIDECAR_ACTION_FAILED,
}
_ACTIONS_BY_ENUM: dict[int, str] = {v: k for k, v in ACTION_NAMES.items()}


# -- JSON ---------------------------------------------------------------------------------------------


def message_to_dict(message: Message) -> dict[str, Any]:
    """A message as JSON-ready data (snake_case names, defaults included)."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def message_to_json(message: Message) -> str:
    """A message as one line of JSON (see :func:`message_to_dict`)."""
    return json.dumps(message_to_dict(message), separators=(",", ":"), ensure_ascii=False)


def json_to_message(data: bytes | str | Mapping[str, Any], cls: type[M]) -> M:
    """Parse a JSON body (or parsed JSON) into a message of type ``cls``.

    Raises:
        BadRequestError: not JSON, not an object, unknown fields or wrongly typed values.
    """
    try:
        parsed = json.loads(data) if isinstance(data, bytes | str) else data
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadRequestError(f"the body is not valid JSON ({exc})") from None
    if not isinstance(parsed, dict):
        raise BadRequestError(f"the body must be a JSON object ({cls.DESCRIPTOR.name}), got {type(parsed).__name__}")
    try:
        return json_format.ParseDict(parsed, cls())
    except (json_format.ParseError, RecursionError) as exc:
        raise BadRequestError(f"invalid {cls.DESCRIPTOR.name}: {exc}") from None


# -- values and recipes -------------------------------------------------------------------------------


def value_to_pb(value: Any) -> struct_pb2.Value:
    """A slider value (number or nested tuples/lists of numbers) as a ``google.protobuf.Value``."""
    out = struct_pb2.Value()
    if isinstance(value, list | tuple):
        out.list_value.values.extend(value_to_pb(v) for v in value)
    else:
        out.number_value = float(value)
    return out


def value_from_pb(value: struct_pb2.Value) -> Any:
    """A ``google.protobuf.Value`` as plain Python (numbers as floats; recipe validation judges the rest)."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return value.number_value
    if kind == "list_value":
        return [value_from_pb(v) for v in value.list_value.values]
    if kind == "struct_value":
        return {k: value_from_pb(v) for k, v in value.struct_value.fields.items()}
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None


def recipe_to_pb(recipe: Recipe) -> pb.Recipe:
    """A :class:`~backend.recipe.Recipe` as its proto message."""
    data = recipe.to_dict()
    return pb.Recipe(
        version=data["version"],
        steps=[pb.RecipeStep(slider=s["slider"], value=value_to_pb(s["value"])) for s in data["steps"]],
        style=recipe.style or "",
        strength=recipe.strength,
        model=recipe.model or "",
    )


def recipe_from_pb(message: pb.Recipe, *, source: str = "request recipe", unset_strength: float | None = 1.0) -> Recipe:
    """A proto recipe as a validated :class:`~backend.recipe.Recipe`.

    Args:
        message: the proto recipe.
        source: where it came from, for error messages.
        unset_strength: the strength a proto ``strength`` of 0 stands for: 1 in requests (proto3 cannot tell
            "not given" from 0), ``None`` to keep 0 (a recipe the daemon sent at strength 0).

    Raises:
        InvalidRecipeError: wrong version, unknown slider, bad value (as :meth:`Recipe.from_dict`).
    """
    strength = message.strength if message.strength or unset_strength is None else unset_strength
    data: dict[str, Any] = {
        "version": message.version,
        "steps": [{"slider": s.slider, "value": value_from_pb(s.value)} for s in message.steps],
        "strength": strength,
    }
    if message.style:
        data["style"] = message.style
    if message.model:
        data["model"] = message.model
    return Recipe.from_dict(data, source=source)


def settings_to_struct(settings: Mapping[str, Any]) -> struct_pb2.Struct:
    """A Lightroom develop-settings table as a ``google.protobuf.Struct`` (numbers become doubles)."""
    out = struct_pb2.Struct()
    out.update(dict(settings))
    return out


#: The fields a darktable history entry and its proto message share (``blendop_params`` aside: ``None`` <-> ``""``).
_HISTORY_FIELDS = ("operation", "modversion", "params", "enabled", "multi_name", "multi_priority", "blendop_version")


def history_to_pb(entry: HistoryEntry) -> pb.DarktableHistoryEntry:
    """A darktable history entry as its proto message."""
    fields = {name: getattr(entry, name) for name in _HISTORY_FIELDS}
    return pb.DarktableHistoryEntry(**fields, blendop_params=entry.blendop_params or "")


def history_from_pb(message: pb.DarktableHistoryEntry) -> HistoryEntry:
    """A ``DarktableHistoryEntry`` message as a :class:`~backend.translate.darktable.HistoryEntry`."""
    fields = {name: getattr(message, name) for name in _HISTORY_FIELDS}
    return HistoryEntry(**fields, blendop_params=message.blendop_params or None)


# -- hosts and outcomes -------------------------------------------------------------------------------


def host_name(host: int) -> str:
    """``HOST_LIGHTROOM`` -> ``"lightroom"``, ``HOST_DARKTABLE`` -> ``"darktable"``.

    Raises:
        BadRequestError: ``HOST_UNSPECIFIED`` or an unknown value.
    """
    try:
        return _HOSTS[host]
    except KeyError:
        raise BadRequestError(f"unknown host {host} (expected HOST_LIGHTROOM or HOST_DARKTABLE)") from None


def hosts_from_pb(hosts: Iterable[int]) -> tuple[str, ...]:
    """Requested hosts as names, each once, in the order lightroom, darktable.

    Raises:
        BadRequestError: an unspecified or unknown host.
    """
    names = {host_name(h) for h in hosts}
    return tuple(h for h in ("lightroom", "darktable") if h in names)


def host_arg(hosts: Sequence[str]) -> str:
    """Host names as the ``host`` argument of ``backend.sidecar`` (``"lightroom"``, ``"darktable"``, ``"both"``).

    Raises:
        BadRequestError: no host.
    """
    if not hosts:
        raise BadRequestError("name at least one host (HOST_LIGHTROOM, HOST_DARKTABLE)")
    return hosts[0] if len(hosts) == 1 else "both"


def wire_text(text: str | Path) -> str:
    """``text`` as a proto string, which must be valid UTF-8.

    A file name that is not valid UTF-8 reaches Python as lone surrogates (``os.fsdecode``); proto refuses
    those. Its undecodable bytes are shown as U+FFFD instead, so the photo's result can still be told (its
    sidecar is written as any other's); everything else passes unchanged.
    """
    return utf8_text(str(text))


def outcome_to_pb(outcome: Outcome) -> pb.SidecarOutcome:
    """A sidecar :class:`~backend.sidecar.apply.Outcome` as its proto message (names as :func:`wire_text`)."""
    return pb.SidecarOutcome(
        photo=wire_text(outcome.photo),
        host=_HOST_ENUMS[outcome.host],
        sidecar=wire_text(outcome.sidecar),
        action=ACTION_NAMES[outcome.action],  # type: ignore[arg-type]
        reason=wire_text(outcome.reason),
        warnings=[wire_text(w) for w in outcome.warnings],
    )


def outcome_from_pb(message: pb.SidecarOutcome) -> Outcome:
    """A proto outcome as a sidecar :class:`~backend.sidecar.apply.Outcome` (what the remote CLI prints).

    The wire does not carry ``error`` nor ``skip_kind``: the rebuilt outcome is for printing and counting only,
    never for a journal (the daemon journals its batches' outcomes as they were made, before they are sent).
    """
    return Outcome(
        photo=Path(message.photo),
        host=_HOSTS.get(message.host, "unknown"),
        sidecar=Path(message.sidecar),
        action=_ACTIONS_BY_ENUM.get(message.action, "failed"),  # type: ignore[arg-type]
        reason=message.reason,
        warnings=tuple(message.warnings),
    )


# -- styles -------------------------------------------------------------------------------------------


def _struct(data: Any) -> struct_pb2.Struct | None:
    if not isinstance(data, dict):
        return None
    out = struct_pb2.Struct()
    try:
        out.update(json.loads(json.dumps(data, default=str)))
    except (TypeError, ValueError):
        return None
    return out


def style_info_to_pb(info: StyleInfo, *, loaded: bool, error: str | None = None) -> pb.StyleInfo:
    """A style-store entry as its proto message.

    Args:
        info: the entry of :meth:`backend.agent.style.StyleStore.list`.
        loaded: whether the server has the style loaded.
        error: why the style cannot be used (overrides ``info.error``).
    """
    meta = info.metadata
    version = meta.get("model_version")
    version = version if isinstance(version, int) and version > 0 else 0
    out = pb.StyleInfo(
        name=info.name,
        model=f"{info.name}@{version}" if version and not (error or info.error) else "",
        version=version,
        description=str(meta.get("description") or ""),
        source=info.source,
        path=str(info.path),
        created=str(meta.get("created") or ""),
        loaded=loaded,
        error=error or info.error or "",
        shadowed=info.shadowed,
    )
    for key in ("agent", "training", "metrics"):
        s = _struct(meta.get(key))
        if s is not None:
            getattr(out, key).CopyFrom(s)
    return out


def style_info_from_pb(message: pb.StyleInfo) -> dict[str, Any]:
    """A daemon's style entry as the JSON object ``autoretouch styles --json`` prints for a local style.

    What the protocol does not carry (the folder's catalog version, the examples count, the prior) is ``None``;
    ``loaded`` says whether the daemon has the style loaded.
    """

    def struct(field: str) -> dict[str, Any] | None:
        return json_format.MessageToDict(getattr(message, field)) if message.HasField(field) else None

    return {
        "name": message.name,
        "path": message.path,
        "directory": str(Path(message.path).parent) if message.path else None,
        "source": message.source,
        "description": message.description,
        "created": message.created or None,
        "catalog_version": None,
        "model_version": message.version or None,
        "agent": struct("agent"),
        "training": struct("training"),
        "metrics": struct("metrics"),
        "examples": None,
        "prior": None,
        "shadowed": message.shadowed,
        "error": message.error or None,
        "loaded": message.loaded,
    }
