#!/bin/sh
# Wayland alternative: cage is a compositor that shows one application full screen and
# nothing else (apt-get install cage). UNTESTED HERE. cage runs a small client that hands
# the Wayland display to the systemd user unit and then waits; the kiosk window (from
# kiosk.service, QT_QPA_PLATFORM=wayland) is the one cage shows.
exec cage -d -s -- sh -c '
  systemctl --user import-environment WAYLAND_DISPLAY XDG_RUNTIME_DIR
  systemctl --user start graphical-session.target kiosk.service
  exec sleep infinity'
