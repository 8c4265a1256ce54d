"""Generated code of ``package autoretouch.v1`` (import through :mod:`backend.rpc`)."""
