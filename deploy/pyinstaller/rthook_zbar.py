"""PyInstaller runtime hook: make pyzbar find the libzbar bundled beside the program.

pyzbar asks ctypes.util.find_library("zbar"), which looks at the host's libraries only;
a kiosk without the libzbar0 package would then lose its second QR decoder.
"""

import ctypes.util
import os
import sys

_find_library = ctypes.util.find_library


def _find_bundled(name):
    if name == "zbar":
        for candidate in ("libzbar.so.0", "libzbar-64.dll", "libzbar.dylib"):
            path = os.path.join(getattr(sys, "_MEIPASS", ""), candidate)
            if os.path.exists(path):
                return path
    return _find_library(name)


ctypes.util.find_library = _find_bundled
