"""Generated code of the ``autoretouch`` proto packages (import through :mod:`backend.rpc`)."""
