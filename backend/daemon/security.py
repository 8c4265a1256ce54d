"""What the daemon lets callers touch: loopback binding, the shared token, and the configured roots.

Roots: every path a request names, every photo found in a folder and every file the daemon writes
(sidecar, its ``.autoretouch.bak`` backup and ``.autoretouch.lock`` file) must lie under a configured root once symlinks are
resolved; otherwise :class:`~backend.errors.PermissionDeniedError`. Request paths must be absolute and
free of ``..`` components (the daemon works on the path as given, and its resolved form is what is
checked). The check is made right before each file is used; a symlink swapped in between the check and
the use by someone who can write inside the root is not guarded against.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import socket
from collections.abc import Iterable, Sequence
from pathlib import Path

from backend.daemon.errors import BadRequestError, UnauthenticatedError
from backend.errors import NotFoundError, PermissionDeniedError

__all__ = ["Roots", "check_bind_address", "check_token", "is_loopback", "token_from_headers"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) is a loopback address (127.0.0.0/8, ``::1``, ``localhost``)."""
    name = host.strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def check_bind_address(host: str, *, allow_remote: bool, token: str | None) -> None:
    """Refuse to bind a non-loopback address unless ``allow_remote`` and a token are both given.

    Raises:
        PermissionDeniedError: a non-loopback ``host`` without ``--allow-remote`` and ``--token``.
    """
    if is_loopback(host):
        return
    if not allow_remote or not token:
        raise PermissionDeniedError(
            f"refusing to listen on {host!r}, which is not a loopback address: that needs both "
            "--allow-remote and --token (callers must then send the token)"
        )


def check_token(expected: str | None, given: str | None) -> None:
    """Compare the caller's token with the server's in constant time (no token configured = accept).

    Raises:
        UnauthenticatedError: a token is configured and ``given`` is missing or different.
    """
    if expected is None:
        return
    if given is None or not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise UnauthenticatedError("missing or wrong token (send 'Authorization: Bearer TOKEN')")


def token_from_headers(pairs: Iterable[tuple[str, str]]) -> str | None:
    """The token of a request's headers/metadata: ``authorization: Bearer T`` or ``x-autoretouch-token: T``."""
    for key, value in pairs:
        k = key.lower()
        if k == "authorization" and value[:7].lower() == "bearer ":
            return value[7:].strip()
        if k == "x-autoretouch-token":
            return value.strip()
    return None


class Roots:
    """The folders the daemon may read and write under.

    Args:
        roots: existing folders (resolved at construction).

    Raises:
        NotFoundError: a root does not exist or is not a folder.
    """

    def __init__(self, roots: Sequence[str | Path]) -> None:
        resolved: list[Path] = []
        for root in roots:
            r = Path(root).expanduser()
            if not r.is_dir():
                raise NotFoundError(f"{r}: --root is not an existing folder")
            resolved.append(r.resolve())
        self.roots: tuple[Path, ...] = tuple(resolved)

    def __bool__(self) -> bool:
        return bool(self.roots)

    def request_path(self, text: str) -> Path:
        """Validate a path named by a request and check it lies under a root.

        Args:
            text: the path as sent (absolute, no ``..``).

        Returns:
            The path as given (not resolved); the daemon uses it so that sidecars sit next to the name the
            user knows.

        Raises:
            BadRequestError: empty, relative, with ``..`` components or a NUL character.
            PermissionDeniedError: outside every root (after resolving symlinks).
        """
        if not text or "\x00" in text:
            raise BadRequestError(f"invalid path {text!r}")
        p = Path(text)
        if not p.is_absolute():
            raise BadRequestError(f"{text}: paths sent to the daemon must be absolute")
        if ".." in p.parts:
            raise BadRequestError(f"{text}: '..' is not allowed in paths sent to the daemon")
        self.check(p)
        return p

    def check(self, path: Path) -> None:
        """Check that ``path``, with every symlink resolved, lies under a root.

        Raises:
            PermissionDeniedError: it does not (or cannot be resolved).
        """
        try:
            real = Path(os.path.realpath(path))
        except (OSError, ValueError) as exc:
            raise PermissionDeniedError(f"{path}: cannot resolve the path ({exc})") from None
        if not self.roots:
            raise PermissionDeniedError(
                f"{path}: the daemon has no --root folder configured, so it reads and writes nothing"
            )
        if not any(real == r or real.is_relative_to(r) for r in self.roots):
            shown = "" if real == path else f" (it resolves to {real})"
            raise PermissionDeniedError(f"{path}: outside the daemon's --root folders{shown}")

    def check_all(self, paths: Iterable[Path]) -> None:
        """:meth:`check` every path."""
        for p in paths:
            self.check(p)
