#!/usr/bin/env bash
# One-step set-up of spiral-jax on Debian/Ubuntu: system packages, a virtual environment in .venv,
# and the pinned Python packages. Safe to run again: finished steps are skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The viewer's window (pyglet: OpenGL, fonts) and the virtual display its tests open it on.
APT_PACKAGES=(libmypaint-1.5-1 mypaint-brushes libosmesa6 libcairo2 libgl1 libglx-mesa0
              libgl1-mesa-dri libfontconfig1 libfreetype6 fonts-dejavu-core xvfb xauth)
PYTHON=${PYTHON:-python3}

log() { echo "[bootstrap] $*" >&2; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if ! command -v apt-get >/dev/null; then
    log "apt-get not found: install ${missing[*]} (libmypaint 1.5/1.6, its brushes, OSMesa, cairo, OpenGL, fonts, Xvfb) with your system's package manager, then run this again."
    exit 1
  fi
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  log "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  log "Python 3.11 or newer is needed; found $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.11."
  exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    log "python3 -m venv failed: install python3-venv (sudo apt-get install python3-venv)."
    exit 1
  fi
fi

stamp=$(cat requirements.txt setup.py | sha256sum | cut -d' ' -f1)
if [[ ! -f .venv/.bootstrap-stamp || $(cat .venv/.bootstrap-stamp) != "$stamp" ]]; then
  log "installing Python packages into .venv (a few minutes the first time)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$stamp" > .venv/.bootstrap-stamp
fi
log "ready: .venv/bin/python"
