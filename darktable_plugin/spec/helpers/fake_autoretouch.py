#!/usr/bin/env python3
"""A fake ``autoretouch`` CLI for the plugin specs: records each call, answers as ``scenario.json`` says.

Both files live next to this script. Every call appends one JSON line to ``calls.jsonl``:
``{"argv": [...], "recipe": <the --recipe file's text or null>}`` (``apply --recipe=FILE`` answers as
``apply --style`` does; the file is read at once, so the caller may remove it afterwards). ``scenario.json``
(optional) holds per command (``apply`` and ``revert`` answer) a dict: ``exit`` (status), ``stderr`` (text), ``mode`` (written,
skipped, failed, and for revert reverted, deleted: one result row per photo; none: no row for the photo;
garbage: no JSON at all; default written for apply, reverted for revert), ``reason`` and
``warnings`` (of every row), ``per_photo`` (photo path -> mode, overriding ``mode``), ``rename`` (true: the
rows name each photo with a doubled slash, as if the CLI had spelled the path differently); each row's
``sidecar`` is darktable's name for the photo (``--duplicate=N``: its virtual copy N's, NAME_NN.EXT.xmp), or
the original's whatever ``--duplicate`` says with ``ignore_duplicate`` (true: an older CLI or daemon). ``styles``
answers ``styles --json``'s object with the scenario's ``styles`` list (default: ``default`` and ``warm``).
``suggest --json --dtstyle=DIR`` writes, per photo and ``--variants`` K, a ``.dtstyle`` into DIR named
``autoretouch preview STEM K TOKEN`` holding the scenario's ``operations`` (default exposure, colorbalancergb)
and prints one row per photo with each recipe (variant K: exposure 0.1 * K, at ``--strength``) and its
``dtstyle``; ``stray`` (true: also files it does not name, in DIR and a folder in DIR); ``per_photo`` (photo ->
``failed``) and ``mode`` (``failed`` for every photo, ``garbage``) as for
apply; some failed: exit status 9. ``built_on`` (true): each style's first operation is ``built on NAME`` (the base
name of the sidecar the style is built on: the photo's, or with ``--duplicate=N`` its virtual copy N's; ``built on
nothing`` when that file is missing; ``"history"``: followed by ``: OP,OP`` the history that sidecar holds now). ``no_duplicate`` (true): an autoretouch from before ``suggest --duplicate``,
which refuses the option as argparse does (exit status 2, nothing on stdout). ``usage_error`` (a text): today's
suggest refusing its arguments as argparse does, on every call: its whole usage (which names ``[--duplicate N]``),
then ``autoretouch suggest: error: TEXT`` (exit status 2, nothing on stdout). ``train --json`` prints its summary
(``mode`` finished, or rejected with exit status 10; ``wait``: sleeps until killed), with the scenario's ``notes``
list when it has one (without: no ``notes`` key, as an autoretouch older than the notes answers, or one through an
older daemon). Its ``run_dir`` is the scenario's, else ``--run-dir``, else with ``--runs-dir=RUNS`` the first of
RUNS/NAME, RUNS/NAME-2, ... that does not exist (made, as the trainer's finished run makes it: a second training of
NAME goes to RUNS/NAME-2), else ``runs/NAME``. ``no_runs_dir`` (true): an autoretouch from before ``train
--runs-dir``, which refuses the option as argparse does (exit status 2, nothing on stdout). ``no_copies`` (true): an
autoretouch from before training on darktable's virtual copies: a copy's sidecar ``NAME_NN.EXT.xmp`` given to
``--darktable`` is refused as the sidecar of a missing photo ``NAME_NN.EXT`` (exit status 3, nothing on stdout).

``serve`` plays the daemon the plug-in starts: it records its call, and with ``mode`` ``answer`` (the default)
writes ``daemon-PORT.json`` after ``delay`` seconds (``{"pid": its PID, "roots": its --root folders, "styles":
the scenario's list of names, default ["default", "warm"]}``), then sleeps until it is killed (at most 60 s);
``silent``: never answers; ``exit``: exits at once with status 1 (as when the port is taken). A call with ``--server=127.0.0.1:PORT`` (the plug-in's own daemon) is answered only
while ``daemon-PORT.json`` exists and its ``pid`` runs (``"pid": null``: a daemon someone else started, always
running); otherwise it fails with status 3, "cannot reach the autoretouch daemon". ``apply``, ``revert`` and
``train`` through such a daemon exit with status 7 and no output when a photo lies outside its ``roots`` (null:
any folder), and ``apply`` with status 6 when its ``--style`` is not among the daemon's ``styles`` (null: any).
Other ``--server`` addresses always answer.
"""

import json
import os
import re
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
argv = sys.argv[1:]
recipe_text = None
for arg in argv:
    if arg.startswith("--recipe="):
        with open(arg[len("--recipe=") :], encoding="utf-8") as f:
            recipe_text = f.read()
with open(os.path.join(here, "calls.jsonl"), "a", encoding="utf-8") as f:
    f.write(json.dumps({"argv": argv, "recipe": recipe_text}) + "\n")
try:
    with open(os.path.join(here, "scenario.json"), encoding="utf-8") as f:
        scenario = json.load(f)
except FileNotFoundError:
    scenario = {}
command = argv[0] if argv else ""
conf = scenario.get(command, {})
photos = argv[argv.index("--") + 1 :] if "--" in argv else []
if "--darktable" in argv:
    photos = argv[argv.index("--darktable") + 1 :]


def option(name: str) -> str | None:
    """The value of ``--name=VALUE`` in argv, or None."""
    return next((a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")), None)


def running(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def own_daemon(server: str) -> dict | None:
    """The fake daemon behind ``server`` (None: nothing answers); any address but 127.0.0.1:PORT always answers."""
    if not server.startswith("127.0.0.1:"):
        return {"pid": None, "roots": None}
    try:
        with open(os.path.join(here, f"daemon-{server.split(':', 1)[1]}.json"), encoding="utf-8") as f:
            info = json.load(f)
    except FileNotFoundError:
        return None
    return info if info.get("pid") is None or running(info["pid"]) else None


if command == "serve":
    if conf.get("mode") == "exit":
        sys.stderr.write("autoretouch: error: [Errno 98] Address already in use\n")
        sys.exit(1)
    if conf.get("mode", "answer") == "answer":
        time.sleep(float(conf.get("delay", 0)))
        marker = os.path.join(here, f"daemon-{option('port')}.json")
        roots = [a.split("=", 1)[1] for a in argv if a.startswith("--root=")]
        styles = conf.get("styles", ["default", "warm"])
        with open(marker + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"pid": os.getpid(), "roots": roots, "styles": styles}, f)
        os.replace(marker + ".tmp", marker)
    for _ in range(300):  # until the plug-in stops it (SIGTERM), at most 60 s
        time.sleep(0.2)
    sys.exit(0)
server = option("server")
if server is not None:
    daemon = own_daemon(server)
    if daemon is None:
        sys.stderr.write(f"autoretouch: error: cannot reach the autoretouch daemon at {server} (refused)\n")
        sys.exit(3)
    roots = daemon.get("roots")
    for photo in photos if roots is not None else []:
        folder = os.path.dirname(photo)
        if not any(folder == r or folder.startswith(r.rstrip("/") + "/") for r in roots):
            sys.stderr.write(f"autoretouch: error: {photo}: outside the daemon's --root folders\n")
            sys.exit(7)
    style = option("style")
    if (
        command == "apply"
        and style is not None
        and daemon.get("styles") not in (None, [])
        and style not in daemon["styles"]
    ):
        sys.stderr.write(f"autoretouch: error: no style named {style!r} on the daemon at {server}\n")
        sys.exit(6)
if conf.get("stderr"):
    sys.stderr.write(conf["stderr"])


def sidecar_of(photo: str) -> str:
    """darktable's sidecar of ``photo``, or of its virtual copy ``--duplicate=N``."""
    duplicate = 0 if conf.get("ignore_duplicate") else int(option("duplicate") or 0)
    if duplicate == 0:
        return photo + ".xmp"
    folder, name = os.path.split(photo)
    stem, ext = os.path.splitext(name)
    return os.path.join(folder, f"{stem}_{duplicate:02d}{ext}.xmp")


if command in ("apply", "revert"):
    default = "written" if command == "apply" else "reverted"
    modes = [conf.get("per_photo", {}).get(photo, conf.get("mode", default)) for photo in photos]
    if "garbage" in modes:
        print("Traceback (most recent call last):")
    else:
        results = []
        for photo, mode in zip(photos, modes, strict=True):
            if mode in ("written", "skipped", "failed", "reverted", "deleted"):
                shown = photo.replace("/", "//", 1) if conf.get("rename") else photo
                results.append(
                    {
                        "photo": shown,
                        "host": "darktable",
                        "sidecar": sidecar_of(shown),
                        "action": mode,
                        "reason": conf.get("reason", ""),
                        "warnings": conf.get("warnings", []),
                    }
                )
        if results:
            failed = sum(r["action"] == "failed" for r in results)
            print(json.dumps({"results": results, "failed": failed}, indent=2))
SUGGEST_USAGE = """\
usage: autoretouch suggest [-h] [--style S | --mix A:W,B:W] [--strength A]
                           [--variants K] [--seed N] [--json] [--dtstyle DIR]
                           [--duplicate N] [--server HOST:PORT] [--token T]
                           PHOTO [PHOTO ...]
"""
if command == "suggest":
    if conf.get("usage_error"):
        sys.stderr.write(SUGGEST_USAGE)
        sys.stderr.write(f"autoretouch suggest: error: {conf['usage_error']}\n")
        sys.exit(2)
    if conf.get("no_duplicate") and option("duplicate") is not None:
        sys.stderr.write("usage: autoretouch [-h] [--version] COMMAND ...\n")
        sys.stderr.write(f"autoretouch: error: unrecognized arguments: --duplicate={option('duplicate')}\n")
        sys.exit(2)
    folder = option("dtstyle")
    variants = int(option("variants") or 1)
    failed_any = False
    if conf.get("stray") and folder:  # files the answer does not name (a half-written style, a work folder)
        os.makedirs(os.path.join(folder, "work"), exist_ok=True)
        for name in ("half.dtstyle.tmp", os.path.join("work", "x")):
            with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
                f.write("stray")
    if conf.get("mode") == "garbage":
        print("Traceback (most recent call last):")
    for photo in photos if conf.get("mode") != "garbage" else []:
        if conf.get("per_photo", {}).get(photo, conf.get("mode")) == "failed":
            failed_any = True
            print(json.dumps({"photo": photo, "ok": False, "error": f"{photo}: cannot decode"}))
            continue
        recipes = []
        stem = os.path.splitext(os.path.basename(photo))[0]
        for k in range(1, variants + 1):
            token = f"{os.getpid()}{time.monotonic_ns() % 100000}"
            path = os.path.join(folder, f"{stem}.{k}.{token}.dtstyle") if folder else None
            if path:
                operations = list(conf.get("operations", ["exposure", "colorbalancergb"]))
                if conf.get("built_on"):
                    base = sidecar_of(photo)
                    built_on = "built on " + (os.path.basename(base) if os.path.exists(base) else "nothing")
                    if conf["built_on"] == "history" and os.path.exists(base):  # the history the sidecar holds now
                        with open(base, encoding="utf-8") as f:
                            built_on += ": " + ",".join(re.findall(r'darktable:operation="([^"]*)"', f.read()))
                    operations.insert(0, built_on)
                plugins = "".join(
                    f"<plugin><num>{i}</num><operation>{op}</operation></plugin>" for i, op in enumerate(operations)
                )
                with open(path, "w", encoding="utf-8") as f:
                    f.write(
                        f'<darktable_style version="1.0"><info><name>autoretouch preview {stem} {k} {token}</name>'
                        f"</info><style>{plugins}</style></darktable_style>\n"
                    )
            strength = float(option("strength") or 1)
            recipe = {"version": 1, "steps": [{"slider": "exposure", "value": 0.1 * k}], "strength": strength}
            if path:
                recipe["dtstyle"] = path
            recipes.append(recipe)
        print(json.dumps({"photo": photo, "ok": True, "recipes": recipes, "style": option("style") or "mix"}))
    if failed_any:
        sys.exit(9)
if command == "styles" and not conf.get("exit"):
    server = next((a.split("=", 1)[1] for a in argv if a.startswith("--server=")), None)
    default_styles = [
        {"name": "default", "source": "shipped", "description": "adaptive auto", "shadowed": False, "error": None},
        {"name": "warm", "source": "user", "description": "my warm look", "shadowed": False, "error": None},
    ]
    doc = {"default": "default", "server": server, "styles": conf.get("styles", default_styles)}
    if server:
        doc["server_version"] = "0.test"
    print(json.dumps(doc, indent=2))
if command == "train":
    mode = conf.get("mode", "finished")
    if mode == "wait":  # until killed (the plug-in's cancel), at most 30 s
        import time

        time.sleep(30)
    elif conf.get("no_copies") and any(re.search(r"_\d{2,}\.[^./]+\.xmp$", p) for p in photos):
        copy = next(p for p in photos if re.search(r"_\d{2,}\.[^./]+\.xmp$", p))
        photo = os.path.basename(copy)[: -len(".xmp")]
        print(
            f"autoretouch: error: {copy}: not a photo: a darktable sidecar, and its photo {photo} is not beside it; "
            "pass the photo",
            file=sys.stderr,
        )
        sys.exit(3)
    elif conf.get("no_runs_dir") and option("runs-dir") is not None:
        print("usage: autoretouch train [-h] --style NAME ...", file=sys.stderr)
        print(f"autoretouch: error: unrecognized arguments: --runs-dir={option('runs-dir')}", file=sys.stderr)
        sys.exit(2)
    elif mode in ("finished", "rejected"):
        rejected = "held-out check: worse than doing nothing" if mode == "rejected" else None
        style = argv[1].split("=", 1)[1]
        run_dir = option("run-dir") or "runs/" + style
        runs = option("runs-dir")
        if runs is not None and "run_dir" not in conf:
            run_dir = os.path.join(runs, style)
            n = 1
            while os.path.exists(run_dir):
                n += 1
                run_dir = os.path.join(runs, f"{style}-{n}")
            os.makedirs(run_dir)
        print(
            json.dumps(
                {
                    "style": style,
                    "steps": 3,
                    "stopped_by": "minutes",
                    "rejected": rejected,
                    "installed_path": None if rejected else "/styles/x.safetensors",
                    "learned_from": "darktable sidecars",
                    "run_dir": conf.get("run_dir", run_dir),
                    **({"notes": conf["notes"]} if "notes" in conf else {}),
                }
            )
        )
        sys.exit(10 if rejected else int(conf.get("exit", 0)))
sys.exit(int(conf.get("exit", 0)))
