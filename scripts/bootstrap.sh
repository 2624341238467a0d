#!/usr/bin/env bash
# Set up everything the kiosk and its tests need on a Debian machine: system packages
# (installed when run as root, otherwise named), a virtualenv in .venv, pinned packages.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # Qt widgets under Xvfb or offscreen
  xvfb xauth libxcb-icccm4 libxcb-keysyms1 libegl1 libgl1 libopengl0 libglib2.0-0
  libfontconfig1 libfreetype6 libdbus-1-3 libx11-xcb1 libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xkb1
  libxcb-util1
  x11-utils         # xwininfo: the full-screen test reads the window's size from X
  libzbar0          # pyzbar, the second QR decoder
  libpulse0         # QtMultimedia / QtTextToSpeech import
  alsa-utils        # aplay: plays the spoken prompts
  pulseaudio pulseaudio-utils  # parecord: the microphone through the sound server, and its test
  espeak-ng         # spoken prompts in Vietnamese and English
  poppler-utils     # pdftoppm / pdftotext: looking at receipts, PDF text checks
  postgresql        # the shared centre database, and its tests
  pcscd vsmartcard-vpcd  # ID-card chip reader service; vpcd: the virtual reader for tests
  swig libpcsclite-dev gcc python3-dev  # to build pyscard (no Linux wheel on PyPI)
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "bootstrap: installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: these system packages are missing: ${missing[*]}" >&2
    echo "bootstrap: install them as root: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.lock | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing Python packages from requirements.lock"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock
  echo "$want" > "$stamp"
fi
