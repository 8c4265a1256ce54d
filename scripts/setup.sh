#!/usr/bin/env bash
# Installs everything autoretouch and its tests need on a fresh Debian/Ubuntu machine (idempotent).
#   - Debian packages: darktable (darktable-cli for fidelity tests), exiftool, Lua 5.1 + busted + luacheck +
#     LuaSocket (plugin specs), xvfb (darktable GUI under a virtual screen).
#   - Python packages: this project in editable mode with its dev extras (pytest, ruff, grpcio-tools).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(darktable libimage-exiftool-perl lua5.1 lua-busted lua-check lua-socket lua-dkjson xvfb zip)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON="${PYTHON:-python3}"
# torch is pinned to 2.13.0 in pyproject.toml so that pip takes the CPU wheel instead of a CUDA build.
"$PYTHON" -m pip install -q --disable-pip-version-check -e '.[dev]'
