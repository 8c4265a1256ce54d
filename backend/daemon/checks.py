"""Checks every request shares: the protocol version, and the strength (absent = 1)."""

from __future__ import annotations

from backend.daemon.errors import BadRequestError, ProtocolVersionError
from backend.recipe import check_strength
from backend.rpc import SUPPORTED_PROTOCOL_VERSIONS

__all__ = ["check_protocol", "request_strength"]


def check_protocol(version: int) -> None:
    """Refuse requests without ``protocol_version`` or with one this server does not speak.

    Raises:
        BadRequestError: ``protocol_version`` missing (0).
        ProtocolVersionError: an unknown version.
    """
    supported = ", ".join(str(v) for v in sorted(SUPPORTED_PROTOCOL_VERSIONS))
    if version == 0:
        raise BadRequestError(f"protocol_version is required (this server speaks {supported})")
    if version not in SUPPORTED_PROTOCOL_VERSIONS:
        raise ProtocolVersionError(f"protocol_version {version} is not supported (this server speaks {supported})")


def request_strength(has: bool, value: float) -> float:
    """A request's ``strength`` (``has``: the optional field is set; absent = 1), checked to lie in [0, 1].

    Raises:
        InvalidRecipeError: not a finite number in [0, 1].
    """
    return check_strength(value if has else 1.0)
