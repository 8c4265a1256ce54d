#!/usr/bin/env python3
"""A fake ``autoretouch`` CLI for the plugin specs: records each call, answers as ``scenario.json`` says.

Both files live next to this script. Every call appends one JSON line to ``calls.jsonl``:
``{"argv": [...], "recipe": <the --recipe file's text or null>}``. ``scenario.json`` (optional) holds per
command (``apply`` and ``revert`` answer) a dict: ``exit`` (status), ``stderr`` (text), ``mode`` (written,
skipped, failed, and for revert reverted, deleted: one result row per photo; none: no row for the photo;
garbage: no JSON at all; default written for apply, reverted for revert), ``reason`` and
``warnings`` (of every row), ``per_photo`` (photo path -> mode, overriding ``mode``), ``rename`` (true: the
rows name each photo with a doubled slash, as if the CLI had spelled the path differently). ``styles``
answers ``styles --json``'s object with the scenario's ``styles`` list (default: ``default`` and ``warm``).
"""

import json
import os
import sys

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
if conf.get("stderr"):
    sys.stderr.write(conf["stderr"])
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
                        "sidecar": shown + ".xmp",
                        "action": mode,
                        "reason": conf.get("reason", ""),
                        "warnings": conf.get("warnings", []),
                    }
                )
        if results:
            failed = sum(r["action"] == "failed" for r in results)
            print(json.dumps({"results": results, "failed": failed}, indent=2))
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
    elif mode in ("finished", "rejected"):
        rejected = "held-out check: worse than doing nothing" if mode == "rejected" else None
        print(
            json.dumps(
                {
                    "style": argv[1].split("=", 1)[1],
                    "steps": 3,
                    "stopped_by": "minutes",
                    "rejected": rejected,
                    "installed_path": None if rejected else "/styles/x.safetensors",
                    "learned_from": "darktable sidecars",
                }
            )
        )
        sys.exit(10 if rejected else int(conf.get("exit", 0)))
sys.exit(int(conf.get("exit", 0)))
