from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Host(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOST_UNSPECIFIED: _ClassVar[Host]
    HOST_LIGHTROOM: _ClassVar[Host]
    HOST_DARKTABLE: _ClassVar[Host]

class SidecarAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIDECAR_ACTION_UNSPECIFIED: _ClassVar[SidecarAction]
    SIDECAR_ACTION_WRITTEN: _ClassVar[SidecarAction]
    SIDECAR_ACTION_WOULD_WRITE: _ClassVar[SidecarAction]
    SIDECAR_ACTION_SKIPPED: _ClassVar[SidecarAction]
    SIDECAR_ACTION_REVERTED: _ClassVar[SidecarAction]
    SIDECAR_ACTION_WOULD_REVERT: _ClassVar[SidecarAction]
    SIDECAR_ACTION_DELETED: _ClassVar[SidecarAction]
    SIDECAR_ACTION_WOULD_DELETE: _ClassVar[SidecarAction]
    SIDECAR_ACTION_FAILED: _ClassVar[SidecarAction]
HOST_UNSPECIFIED: Host
HOST_LIGHTROOM: Host
HOST_DARKTABLE: Host
SIDECAR_ACTION_UNSPECIFIED: SidecarAction
SIDECAR_ACTION_WRITTEN: SidecarAction
SIDECAR_ACTION_WOULD_WRITE: SidecarAction
SIDECAR_ACTION_SKIPPED: SidecarAction
SIDECAR_ACTION_REVERTED: SidecarAction
SIDECAR_ACTION_WOULD_REVERT: SidecarAction
SIDECAR_ACTION_DELETED: SidecarAction
SIDECAR_ACTION_WOULD_DELETE: SidecarAction
SIDECAR_ACTION_FAILED: SidecarAction

class RecipeStep(_message.Message):
    __slots__ = ("slider", "value")
    SLIDER_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    slider: str
    value: _struct_pb2.Value
    def __init__(self, slider: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class Recipe(_message.Message):
    __slots__ = ("version", "steps", "style", "strength", "model")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    version: int
    steps: _containers.RepeatedCompositeFieldContainer[RecipeStep]
    style: str
    strength: float
    model: str
    def __init__(self, version: _Optional[int] = ..., steps: _Optional[_Iterable[_Union[RecipeStep, _Mapping]]] = ..., style: _Optional[str] = ..., strength: _Optional[float] = ..., model: _Optional[str] = ...) -> None: ...

class StyleWeight(_message.Message):
    __slots__ = ("style", "weight")
    STYLE_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    style: str
    weight: float
    def __init__(self, style: _Optional[str] = ..., weight: _Optional[float] = ...) -> None: ...

class StyleMix(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[StyleWeight]
    def __init__(self, entries: _Optional[_Iterable[_Union[StyleWeight, _Mapping]]] = ...) -> None: ...

class PhotoUpload(_message.Message):
    __slots__ = ("data", "name")
    DATA_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    name: str
    def __init__(self, data: _Optional[bytes] = ..., name: _Optional[str] = ...) -> None: ...

class PhotoInfo(_message.Message):
    __slots__ = ("kind", "is_raw", "width", "height", "colour_note")
    KIND_FIELD_NUMBER: _ClassVar[int]
    IS_RAW_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    COLOUR_NOTE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    is_raw: bool
    width: int
    height: int
    colour_note: str
    def __init__(self, kind: _Optional[str] = ..., is_raw: _Optional[bool] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., colour_note: _Optional[str] = ...) -> None: ...

class DarktableHistoryEntry(_message.Message):
    __slots__ = ("operation", "modversion", "params", "enabled", "multi_name", "multi_priority", "blendop_version", "blendop_params")
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    MODVERSION_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    MULTI_NAME_FIELD_NUMBER: _ClassVar[int]
    MULTI_PRIORITY_FIELD_NUMBER: _ClassVar[int]
    BLENDOP_VERSION_FIELD_NUMBER: _ClassVar[int]
    BLENDOP_PARAMS_FIELD_NUMBER: _ClassVar[int]
    operation: str
    modversion: int
    params: str
    enabled: bool
    multi_name: str
    multi_priority: int
    blendop_version: int
    blendop_params: str
    def __init__(self, operation: _Optional[str] = ..., modversion: _Optional[int] = ..., params: _Optional[str] = ..., enabled: _Optional[bool] = ..., multi_name: _Optional[str] = ..., multi_priority: _Optional[int] = ..., blendop_version: _Optional[int] = ..., blendop_params: _Optional[str] = ...) -> None: ...

class Suggestion(_message.Message):
    __slots__ = ("recipe", "lightroom_settings", "lightroom_warnings", "darktable_history", "lightroom_relative")
    RECIPE_FIELD_NUMBER: _ClassVar[int]
    LIGHTROOM_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    LIGHTROOM_WARNINGS_FIELD_NUMBER: _ClassVar[int]
    DARKTABLE_HISTORY_FIELD_NUMBER: _ClassVar[int]
    LIGHTROOM_RELATIVE_FIELD_NUMBER: _ClassVar[int]
    recipe: Recipe
    lightroom_settings: _struct_pb2.Struct
    lightroom_warnings: _containers.RepeatedScalarFieldContainer[str]
    darktable_history: _containers.RepeatedCompositeFieldContainer[DarktableHistoryEntry]
    lightroom_relative: _struct_pb2.Struct
    def __init__(self, recipe: _Optional[_Union[Recipe, _Mapping]] = ..., lightroom_settings: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., lightroom_warnings: _Optional[_Iterable[str]] = ..., darktable_history: _Optional[_Iterable[_Union[DarktableHistoryEntry, _Mapping]]] = ..., lightroom_relative: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class SuggestRequest(_message.Message):
    __slots__ = ("protocol_version", "path", "upload", "style", "mix", "strength", "variants", "seed", "hosts")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    MIX_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    VARIANTS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    path: str
    upload: PhotoUpload
    style: str
    mix: StyleMix
    strength: float
    variants: int
    seed: int
    hosts: _containers.RepeatedScalarFieldContainer[Host]
    def __init__(self, protocol_version: _Optional[int] = ..., path: _Optional[str] = ..., upload: _Optional[_Union[PhotoUpload, _Mapping]] = ..., style: _Optional[str] = ..., mix: _Optional[_Union[StyleMix, _Mapping]] = ..., strength: _Optional[float] = ..., variants: _Optional[int] = ..., seed: _Optional[int] = ..., hosts: _Optional[_Iterable[_Union[Host, str]]] = ...) -> None: ...

class PreviewRequest(_message.Message):
    __slots__ = ("protocol_version", "suggest", "strengths", "size")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SUGGEST_FIELD_NUMBER: _ClassVar[int]
    STRENGTHS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    suggest: SuggestRequest
    strengths: _containers.RepeatedScalarFieldContainer[float]
    size: int
    def __init__(self, protocol_version: _Optional[int] = ..., suggest: _Optional[_Union[SuggestRequest, _Mapping]] = ..., strengths: _Optional[_Iterable[float]] = ..., size: _Optional[int] = ...) -> None: ...

class PreviewVariant(_message.Message):
    __slots__ = ("suggestion", "after")
    SUGGESTION_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    suggestion: Suggestion
    after: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, suggestion: _Optional[_Union[Suggestion, _Mapping]] = ..., after: _Optional[_Iterable[bytes]] = ...) -> None: ...

class PreviewResponse(_message.Message):
    __slots__ = ("server_version", "model_version", "before", "strengths", "variants", "photo")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    STRENGTHS_FIELD_NUMBER: _ClassVar[int]
    VARIANTS_FIELD_NUMBER: _ClassVar[int]
    PHOTO_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    model_version: str
    before: bytes
    strengths: _containers.RepeatedScalarFieldContainer[float]
    variants: _containers.RepeatedCompositeFieldContainer[PreviewVariant]
    photo: PhotoInfo
    def __init__(self, server_version: _Optional[str] = ..., model_version: _Optional[str] = ..., before: _Optional[bytes] = ..., strengths: _Optional[_Iterable[float]] = ..., variants: _Optional[_Iterable[_Union[PreviewVariant, _Mapping]]] = ..., photo: _Optional[_Union[PhotoInfo, _Mapping]] = ...) -> None: ...

class SuggestResponse(_message.Message):
    __slots__ = ("server_version", "model_version", "suggestions", "photo")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    PHOTO_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    model_version: str
    suggestions: _containers.RepeatedCompositeFieldContainer[Suggestion]
    photo: PhotoInfo
    def __init__(self, server_version: _Optional[str] = ..., model_version: _Optional[str] = ..., suggestions: _Optional[_Iterable[_Union[Suggestion, _Mapping]]] = ..., photo: _Optional[_Union[PhotoInfo, _Mapping]] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message", "type", "exit_code")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    type: str
    exit_code: int
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., type: _Optional[str] = ..., exit_code: _Optional[int] = ...) -> None: ...

class SidecarOutcome(_message.Message):
    __slots__ = ("photo", "host", "sidecar", "action", "reason", "warnings")
    PHOTO_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    SIDECAR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    photo: str
    host: Host
    sidecar: str
    action: SidecarAction
    reason: str
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, photo: _Optional[str] = ..., host: _Optional[_Union[Host, str]] = ..., sidecar: _Optional[str] = ..., action: _Optional[_Union[SidecarAction, str]] = ..., reason: _Optional[str] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class WriteSidecarsRequest(_message.Message):
    __slots__ = ("protocol_version", "paths", "recursive", "hosts", "recipe", "style", "mix", "strength", "overwrite", "dry_run", "duplicate")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    RECIPE_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    MIX_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    paths: _containers.RepeatedScalarFieldContainer[str]
    recursive: bool
    hosts: _containers.RepeatedScalarFieldContainer[Host]
    recipe: Recipe
    style: str
    mix: StyleMix
    strength: float
    overwrite: bool
    dry_run: bool
    duplicate: int
    def __init__(self, protocol_version: _Optional[int] = ..., paths: _Optional[_Iterable[str]] = ..., recursive: _Optional[bool] = ..., hosts: _Optional[_Iterable[_Union[Host, str]]] = ..., recipe: _Optional[_Union[Recipe, _Mapping]] = ..., style: _Optional[str] = ..., mix: _Optional[_Union[StyleMix, _Mapping]] = ..., strength: _Optional[float] = ..., overwrite: _Optional[bool] = ..., dry_run: _Optional[bool] = ..., duplicate: _Optional[int] = ...) -> None: ...

class FileResult(_message.Message):
    __slots__ = ("index", "total", "photo", "outcomes", "recipe", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PHOTO_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    RECIPE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    total: int
    photo: str
    outcomes: _containers.RepeatedCompositeFieldContainer[SidecarOutcome]
    recipe: Recipe
    error: Error
    def __init__(self, index: _Optional[int] = ..., total: _Optional[int] = ..., photo: _Optional[str] = ..., outcomes: _Optional[_Iterable[_Union[SidecarOutcome, _Mapping]]] = ..., recipe: _Optional[_Union[Recipe, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class Summary(_message.Message):
    __slots__ = ("photos", "changed", "skipped", "failed", "cancelled")
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    photos: int
    changed: int
    skipped: int
    failed: int
    cancelled: bool
    def __init__(self, photos: _Optional[int] = ..., changed: _Optional[int] = ..., skipped: _Optional[int] = ..., failed: _Optional[int] = ..., cancelled: _Optional[bool] = ...) -> None: ...

class WriteSidecarsResponse(_message.Message):
    __slots__ = ("server_version", "model_version", "file", "summary")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    model_version: str
    file: FileResult
    summary: Summary
    def __init__(self, server_version: _Optional[str] = ..., model_version: _Optional[str] = ..., file: _Optional[_Union[FileResult, _Mapping]] = ..., summary: _Optional[_Union[Summary, _Mapping]] = ...) -> None: ...

class RevertRequest(_message.Message):
    __slots__ = ("protocol_version", "paths", "recursive", "hosts", "dry_run", "duplicate")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    paths: _containers.RepeatedScalarFieldContainer[str]
    recursive: bool
    hosts: _containers.RepeatedScalarFieldContainer[Host]
    dry_run: bool
    duplicate: int
    def __init__(self, protocol_version: _Optional[int] = ..., paths: _Optional[_Iterable[str]] = ..., recursive: _Optional[bool] = ..., hosts: _Optional[_Iterable[_Union[Host, str]]] = ..., dry_run: _Optional[bool] = ..., duplicate: _Optional[int] = ...) -> None: ...

class RevertResponse(_message.Message):
    __slots__ = ("server_version", "model_version", "files", "summary")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    model_version: str
    files: _containers.RepeatedCompositeFieldContainer[FileResult]
    summary: Summary
    def __init__(self, server_version: _Optional[str] = ..., model_version: _Optional[str] = ..., files: _Optional[_Iterable[_Union[FileResult, _Mapping]]] = ..., summary: _Optional[_Union[Summary, _Mapping]] = ...) -> None: ...

class ListStylesRequest(_message.Message):
    __slots__ = ("protocol_version",)
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    def __init__(self, protocol_version: _Optional[int] = ...) -> None: ...

class StyleInfo(_message.Message):
    __slots__ = ("name", "model", "version", "description", "source", "path", "created", "loaded", "error", "shadowed", "agent", "training", "metrics")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SHADOWED_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    name: str
    model: str
    version: int
    description: str
    source: str
    path: str
    created: str
    loaded: bool
    error: str
    shadowed: bool
    agent: _struct_pb2.Struct
    training: _struct_pb2.Struct
    metrics: _struct_pb2.Struct
    def __init__(self, name: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[int] = ..., description: _Optional[str] = ..., source: _Optional[str] = ..., path: _Optional[str] = ..., created: _Optional[str] = ..., loaded: _Optional[bool] = ..., error: _Optional[str] = ..., shadowed: _Optional[bool] = ..., agent: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., training: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., metrics: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ListStylesResponse(_message.Message):
    __slots__ = ("server_version", "model_version", "styles", "default_style")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    STYLES_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_STYLE_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    model_version: str
    styles: _containers.RepeatedCompositeFieldContainer[StyleInfo]
    default_style: str
    def __init__(self, server_version: _Optional[str] = ..., model_version: _Optional[str] = ..., styles: _Optional[_Iterable[_Union[StyleInfo, _Mapping]]] = ..., default_style: _Optional[str] = ...) -> None: ...

class TrainStyleRequest(_message.Message):
    __slots__ = ("protocol_version", "name", "favourites", "sources", "steps", "minutes", "description", "overrides", "pairs_before", "pairs_after", "lrcat", "lrcat_favourites", "photos", "darktable", "favourite_files", "darktable_files", "lightroom_edits", "darktable_given")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FAVOURITES_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    PAIRS_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PAIRS_AFTER_FIELD_NUMBER: _ClassVar[int]
    LRCAT_FIELD_NUMBER: _ClassVar[int]
    LRCAT_FAVOURITES_FIELD_NUMBER: _ClassVar[int]
    PHOTOS_FIELD_NUMBER: _ClassVar[int]
    DARKTABLE_FIELD_NUMBER: _ClassVar[int]
    FAVOURITE_FILES_FIELD_NUMBER: _ClassVar[int]
    DARKTABLE_FILES_FIELD_NUMBER: _ClassVar[int]
    LIGHTROOM_EDITS_FIELD_NUMBER: _ClassVar[int]
    DARKTABLE_GIVEN_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    name: str
    favourites: str
    sources: str
    steps: int
    minutes: float
    description: str
    overrides: _containers.RepeatedScalarFieldContainer[str]
    pairs_before: str
    pairs_after: str
    lrcat: str
    lrcat_favourites: str
    photos: str
    darktable: str
    favourite_files: _containers.RepeatedScalarFieldContainer[str]
    darktable_files: _containers.RepeatedScalarFieldContainer[str]
    lightroom_edits: _containers.RepeatedCompositeFieldContainer[LightroomEdit]
    darktable_given: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, protocol_version: _Optional[int] = ..., name: _Optional[str] = ..., favourites: _Optional[str] = ..., sources: _Optional[str] = ..., steps: _Optional[int] = ..., minutes: _Optional[float] = ..., description: _Optional[str] = ..., overrides: _Optional[_Iterable[str]] = ..., pairs_before: _Optional[str] = ..., pairs_after: _Optional[str] = ..., lrcat: _Optional[str] = ..., lrcat_favourites: _Optional[str] = ..., photos: _Optional[str] = ..., darktable: _Optional[str] = ..., favourite_files: _Optional[_Iterable[str]] = ..., darktable_files: _Optional[_Iterable[str]] = ..., lightroom_edits: _Optional[_Iterable[_Union[LightroomEdit, _Mapping]]] = ..., darktable_given: _Optional[_Iterable[str]] = ...) -> None: ...

class LightroomEdit(_message.Message):
    __slots__ = ("path", "settings")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    path: str
    settings: _struct_pb2.Struct
    def __init__(self, path: _Optional[str] = ..., settings: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class TrainProgress(_message.Message):
    __slots__ = ("step", "total_steps", "elapsed_s", "metrics", "phase")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_S_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    step: int
    total_steps: int
    elapsed_s: float
    metrics: _containers.ScalarMap[str, float]
    phase: str
    def __init__(self, step: _Optional[int] = ..., total_steps: _Optional[int] = ..., elapsed_s: _Optional[float] = ..., metrics: _Optional[_Mapping[str, float]] = ..., phase: _Optional[str] = ...) -> None: ...

class TrainFinished(_message.Message):
    __slots__ = ("style", "run_dir", "steps", "stopped_by", "metrics", "rejected", "notes")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    STYLE_FIELD_NUMBER: _ClassVar[int]
    RUN_DIR_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    STOPPED_BY_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    style: StyleInfo
    run_dir: str
    steps: int
    stopped_by: str
    metrics: _containers.ScalarMap[str, float]
    rejected: str
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, style: _Optional[_Union[StyleInfo, _Mapping]] = ..., run_dir: _Optional[str] = ..., steps: _Optional[int] = ..., stopped_by: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., rejected: _Optional[str] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...

class TrainStyleResponse(_message.Message):
    __slots__ = ("server_version", "model_version", "progress", "finished")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    model_version: str
    progress: TrainProgress
    finished: TrainFinished
    def __init__(self, server_version: _Optional[str] = ..., model_version: _Optional[str] = ..., progress: _Optional[_Union[TrainProgress, _Mapping]] = ..., finished: _Optional[_Union[TrainFinished, _Mapping]] = ...) -> None: ...

class TrainStatus(_message.Message):
    __slots__ = ("server_version", "state", "name", "last", "error")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    state: str
    name: str
    last: TrainStyleResponse
    error: ErrorResponse
    def __init__(self, server_version: _Optional[str] = ..., state: _Optional[str] = ..., name: _Optional[str] = ..., last: _Optional[_Union[TrainStyleResponse, _Mapping]] = ..., error: _Optional[_Union[ErrorResponse, _Mapping]] = ...) -> None: ...

class TrainControlRequest(_message.Message):
    __slots__ = ("protocol_version",)
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    def __init__(self, protocol_version: _Optional[int] = ...) -> None: ...

class ErrorResponse(_message.Message):
    __slots__ = ("server_version", "model_version", "code", "message", "type", "exit_code")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    model_version: str
    code: str
    message: str
    type: str
    exit_code: int
    def __init__(self, server_version: _Optional[str] = ..., model_version: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., type: _Optional[str] = ..., exit_code: _Optional[int] = ...) -> None: ...
