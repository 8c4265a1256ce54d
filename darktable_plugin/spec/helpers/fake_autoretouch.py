#!/usr/bin/env python3
"""A fake ``autoretouch`` CLI for the plugin specs: records each call, answers as ``scenario.json`` says.

Both files live next to this script. Every call appends one JSON line to ``calls.jsonl``:
``{"argv": [...], "recipe": <the --recipe file's text or null>}``. ``scenario.json`` (optional) holds per
command (``suggest``, ``apply``) a dict: ``exit`` (status), ``stderr`` (text), ``mode`` (suggest: ok,
error, none, garbage; apply: written, skipped, failed, garbage, none), ``reason`` (apply), ``per_photo``
(photo path -> mode, overriding ``mode``).
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
if command == "suggest":
    for photo in photos:
        mode = conf.get("per_photo", {}).get(photo, conf.get("mode", "ok"))
        if mode == "ok":
            recipe = {
                "version": 1,
                "steps": [{"slider": "exposure", "value": 0.1 + 0.2}],
                "strength": 1.0,
                "style": 't\u00e9st "q"',
            }
            print(json.dumps({"photo": photo, "ok": True, "recipes": [recipe], "style": "x", "strength": 1.0}))
        elif mode == "error":
            print(json.dumps({"photo": photo, "ok": False, "error": f"{photo}: cannot decode \u2603"}))
        elif mode == "garbage":
            print("this is not JSON {")
elif command == "apply":
    photo = photos[0] if photos else ""
    mode = conf.get("per_photo", {}).get(photo, conf.get("mode", "written"))
    if mode in ("written", "skipped", "failed"):
        result = {
            "photo": photo,
            "host": "darktable",
            "sidecar": photo + ".xmp",
            "action": mode,
            "reason": conf.get("reason", ""),
            "warnings": conf.get("warnings", []),
        }
        print(json.dumps({"results": [result], "failed": int(mode == "failed")}, indent=2))
    elif mode == "garbage":
        print("Traceback (most recent call last):")
sys.exit(int(conf.get("exit", 0)))
