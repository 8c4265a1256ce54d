"""``autoretouch styles``: list the installed styles (user folders first, then the shipped ones).

With ``--server HOST:PORT`` it lists a running daemon's styles instead (``ListStyles``), in the same output
format; plug-ins use it as their health check.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from backend.cli.printable import printable
from backend.cli.server_options import add_server_options

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``styles`` sub-command to the CLI."""
    parser = subparsers.add_parser(
        "styles",
        help="list the installed styles (name, folder, creation, catalog version, training data, metrics)",
        description=(
            "List the styles `suggest` can use. User styles live in $AUTORETOUCH_STYLES (several folders "
            "separated by ':') or ~/.local/share/autoretouch/styles and shadow the shipped ones of the same "
            "name. A style is NAME.safetensors (weights) + NAME.json (metadata). A style `suggest` would refuse "
            "(a truncated file, NaN weights, a mixed pair, ...) is listed as UNUSABLE with the reason."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_server_options(parser)  # --server HOST:PORT, --token T
    parser.set_defaults(func=run, _parser=parser)


#: A list or table in a style's text listing longer than this (as JSON) is shown by its size; ``--json`` has it all.
_SHOWN_CHARS = 80


def _summary(data: Any) -> str:
    """``key=value, ...`` of a style's ``training`` or ``metrics``: long lists and tables by their size only.

    (A style's training record holds its whole configuration and the names of its photos: printed whole, one line
    of a listing ran to thousands of characters.)
    """
    if not data:
        return "-"
    return ", ".join(f"{k}={_shown(v)}" for k, v in data.items())


def _shown(value: Any) -> str:
    """One value of :func:`_summary`: as it is, as JSON when a list or table, or ``[N items]`` / ``{N keys}``."""
    if not isinstance(value, dict | list):
        return str(value)
    text = json.dumps(value)
    if len(text) <= _SHOWN_CHARS:
        return text
    return f"[{len(value)} items]" if isinstance(value, list) else f"{{{len(value)} keys}}"


def _print_style(entry: dict[str, Any]) -> None:
    """The text lines of one style (a local or a daemon's entry, as ``styles --json`` shows it).

    Every field is :func:`~backend.cli.printable.printable`, as the other commands print file names and messages:
    an escape sequence, a line break or a bidi override in a description, a folder's name or a reason cannot
    clear the screen or fake a line of the listing (``--json`` has them as they are).
    """
    flags = " [shadowed]" if entry["shadowed"] else ""
    print(printable(f"{entry['name']}  ({entry['source']}: {entry['directory']})") + flags)
    if entry["error"]:
        print(f"  UNUSABLE: {printable(entry['error'])}")
        return
    if entry["description"]:
        print(f"  {printable(entry['description'])}")
    line = f"  model {entry['name']}@{entry['model_version']}, created {entry['created']}"
    if entry["catalog_version"] is not None:  # known for local styles (not sent by a daemon)
        line += f", catalog version {entry['catalog_version']}, sliders {len(entry['agent']['sliders'])}"
    print(printable(line))
    if entry["prior"]:
        prior = entry["prior"]
        print(printable(f"  blended with {prior['from'] or 'a general agent'} at {prior['share']:.0%} (its prior)"))
    print(f"  training: {printable(_summary(entry['training']))}")  # whole in ``styles --json``
    print(f"  metrics:  {printable(_summary(entry['metrics']))}")


def _folder_state(d: Path) -> str:
    """How the listing describes a style folder that is not there: ``""``, ``", missing"``, ``", not a folder"``."""
    if d.is_dir():
        return ""
    return ", not a folder" if d.exists() else ", missing"


def _remote(args: argparse.Namespace) -> int:
    """``styles --server``: the daemon's styles, in the format of the local listing."""
    from backend.daemon.client import RemoteClient
    from backend.daemon.convert import style_info_from_pb

    with RemoteClient(args.server, token=args.token) as client:
        response = client.list_styles()
    styles = [style_info_from_pb(s) for s in response.styles]
    if args.json:
        out = {
            "default": response.default_style,
            "server": args.server,
            "server_version": response.server_version,
            "dirs": [],
            "styles": styles,
        }
        print(json.dumps(out, indent=2))
        return 0
    print(printable(f"styles of the daemon at {args.server} (autoretouch {response.server_version}):"))
    if not styles:
        print(printable(f"no styles installed (the default style, {response.default_style!r}, is not installed)"))
    for entry in styles:
        _print_style(entry)
    return 0


def run(args: argparse.Namespace) -> int:
    """Print the style store (or a daemon's, with ``--server``); returns 0."""
    from backend.agent.style import DEFAULT_STYLE, StyleStore

    if getattr(args, "server", None):
        return _remote(args)
    store = StyleStore()
    infos = store.list()
    if args.json:
        out = {
            "default": DEFAULT_STYLE,
            "server": None,
            "dirs": [{"path": str(d), "source": store.source_of(d), "exists": d.is_dir()} for d in store.dirs],
            "styles": [info.to_dict() for info in infos],
        }
        print(json.dumps(out, indent=2))
        return 0
    print("style folders (searched in this order):")
    for d in store.dirs:
        print(printable(f"  {d}  ({store.source_of(d)}{_folder_state(d)})"))
    if not infos:
        print(f"no styles installed (the default style, {DEFAULT_STYLE!r}, is not installed yet)")
        return 0
    for info in infos:
        _print_style(info.to_dict())
    return 0
