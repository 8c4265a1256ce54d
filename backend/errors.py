"""Typed exceptions of autoretouch, mapped once to CLI exit codes and gRPC status codes.

Every error that reaches a user names the file (when there is one) and the problem. The daemon maps
``grpc_status`` (a ``grpc.StatusCode`` member name) and the CLI maps ``exit_code``; nothing else
inspects exception types to choose a code.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from pathlib import Path

#: CLI exit status of a batch (apply, render, catalog, eval) in which some photos failed and the others were done.
EXIT_PARTIAL = 9
#: CLI exit status of a training whose style was not installed (it did worse than doing nothing on photos it did
#: not see - cross-fitted or held out - or, with too few for that, on its training photos; or it made degenerate
#: moves; ``--force`` installs it anyway).
EXIT_STYLE_REJECTED = 10

__all__ = [
    "EXIT_PARTIAL",
    "EXIT_STYLE_REJECTED",
    "INTERNAL_ERROR",
    "AutoretouchError",
    "CatalogError",
    "CorruptImageError",
    "DecodeError",
    "ErrorKind",
    "FileError",
    "ImageTooLargeError",
    "ImageTooSmallError",
    "InvalidRecipeError",
    "NotFoundError",
    "OutputError",
    "OutputExistsError",
    "PermissionDeniedError",
    "SidecarError",
    "StyleError",
    "UnknownSliderError",
    "UnsupportedFormatError",
    "naming_file",
]


class AutoretouchError(Exception):
    """Base class of all autoretouch errors.

    Attributes:
        exit_code: process exit status the CLI uses for this error (2..9; 1 is reserved for bugs).
        grpc_status: name of the ``grpc.StatusCode`` the daemon answers with.
    """

    exit_code: int = 3
    grpc_status: str = "INVALID_ARGUMENT"


class InvalidRecipeError(AutoretouchError, ValueError):
    """A recipe (or a slider value) is malformed: wrong shape, out of range, duplicate or unknown slider."""

    exit_code = 4


class UnknownSliderError(InvalidRecipeError, KeyError):
    """A slider name that the catalog does not define."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown slider {name!r}")
        self.name = name

    def __str__(self) -> str:  # KeyError would quote the message again
        return str(self.args[0])


class DecodeError(AutoretouchError):
    """A photo could not be decoded.

    Attributes:
        path: the file that failed (``None`` for in-memory bytes).
        reason: what is wrong, in words a photographer understands.
    """

    exit_code = 5

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = None if path is None else Path(path)
        self.reason = reason
        where = "<bytes>" if path is None else str(path)
        super().__init__(f"{where}: {reason}")


class UnsupportedFormatError(DecodeError):
    """The file is not a photo format autoretouch reads (raw, TIFF, JPEG, PNG)."""


class CorruptImageError(DecodeError):
    """The file claims a supported format but is empty, truncated or otherwise damaged."""


class ImageTooLargeError(DecodeError):
    """The image is too large: past the pixel limit (decompression-bomb guard), the free memory, or a format's side.

    The last: wider or taller than the output format holds (JPEG: 65,500 pixels).
    """

    grpc_status = "RESOURCE_EXHAUSTED"


class NotFoundError(AutoretouchError):
    """A named file, style or photo does not exist."""

    exit_code = 6
    grpc_status = "NOT_FOUND"


class PermissionDeniedError(AutoretouchError):
    """A path lies outside the configured roots, or the OS refused access."""

    exit_code = 7
    grpc_status = "PERMISSION_DENIED"


class FileError(AutoretouchError):
    """Base class of the errors about one file that cannot be used; the message is ``"PATH: REASON"``.

    Attributes:
        path: the file concerned.
        reason: what is wrong.
    """

    grpc_status = "FAILED_PRECONDITION"

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class OutputError(FileError):
    """A file autoretouch was asked to write (e.g. a ``suggest --dtstyle`` style file) could not be written.

    Attributes:
        path: the file concerned.
        reason: what the operating system said.
    """


class OutputExistsError(FileError):
    """An output path is taken by something autoretouch must not replace: a file it did not write, or a folder.

    Attributes:
        path: the output path concerned.
        reason: what is there, and how to go on (e.g. ``--overwrite``).
    """

    exit_code = 7
    grpc_status = "ALREADY_EXISTS"


class ImageTooSmallError(FileError):
    """An image is too small for what is asked of it (e.g. SSIM compares windows of at least 3x3 pixels).

    Attributes:
        path: the image file concerned.
        reason: its size, the size needed, and what may help.
    """


class SidecarError(FileError):
    """An existing sidecar is malformed or unsafe (entities, wrong root), or a sidecar write failed.

    Attributes:
        path: the sidecar concerned.
        reason: what is wrong.
    """

    exit_code = 8


class StyleError(FileError):
    """A style file is malformed, incompatible with this autoretouch, or unsafe.

    Attributes:
        path: the file concerned.
        reason: what is wrong.
    """


class CatalogError(AutoretouchError):
    """A Lightroom catalog cannot be read: not SQLite, a missing table, an ambiguous or damaged row.

    Attributes:
        catalog: the ``.lrcat`` file (``None`` for text parsed outside a catalog).
        where: table and row the problem was found in (``"Adobe_images id_local=41"``), or ``""``.
        reason: what is wrong.
    """

    grpc_status = "FAILED_PRECONDITION"

    def __init__(self, catalog: str | Path | None, where: str, reason: str) -> None:
        self.catalog = None if catalog is None else Path(catalog)
        self.where = where
        self.reason = reason
        parts = [str(catalog) if catalog is not None else "<text>"]
        if where:
            parts.append(where)
        super().__init__(f"{': '.join(parts)}: {reason}")


@dataclass(frozen=True)
class ErrorKind:
    """What kind of error failed a photo or one host's sidecar, for the exit status (CLI) and the error code (daemon).

    Plain values, so that an outcome pickles (the catalog's worker processes) and crosses the wire.

    Attributes:
        type: the exception class name (``"CorruptImageError"``, ``"NotFoundError"``, ...; ``"WorkerCrash"``
            when the worker process died, ``"InternalError"`` for a bug).
        grpc_status: the ``grpc.StatusCode`` name of the error (the convention above).
        exit_code: the CLI exit status of the error.
    """

    type: str
    grpc_status: str
    exit_code: int

    @classmethod
    def of_class(cls, error: builtins.type[AutoretouchError]) -> ErrorKind:
        """The kind of an error of class ``error``."""
        return cls(error.__name__, error.grpc_status, error.exit_code)

    @classmethod
    def known(cls, exc: BaseException) -> ErrorKind | None:
        """The kind of ``exc``, or None for an error of no known kind (a batch's exit status is then 9).

        Typed errors carry their codes; ``FileNotFoundError`` / ``PermissionError`` count as not found / permission
        denied.
        """
        if isinstance(exc, AutoretouchError):
            return cls(type(exc).__name__, exc.grpc_status, exc.exit_code)
        if isinstance(exc, FileNotFoundError):
            return cls.of_class(NotFoundError)
        if isinstance(exc, PermissionError):
            return cls.of_class(PermissionDeniedError)
        return None

    @classmethod
    def of(cls, exc: BaseException) -> ErrorKind:
        """The kind of ``exc``: its :meth:`known` kind, else an ``OSError`` is ``UNAVAILABLE`` and anything else a bug."""
        kind = cls.known(exc)
        if kind is not None:
            return kind
        if isinstance(exc, OSError):
            return cls(type(exc).__name__, "UNAVAILABLE", 1)
        return INTERNAL_ERROR


#: A bug (an unexpected exception) while processing a photo.
INTERNAL_ERROR = ErrorKind("InternalError", "INTERNAL", 1)


def naming_file(path: str | Path, message: str) -> str:
    """``message`` prefixed with ``path: ``, unless it already names the file."""
    return message if str(path) in message else f"{path}: {message}"
