"""Commune public-service kiosk."""

import os

# OpenCV's C++ side writes "[ WARN:0@0.01] … can't open camera by index" lines straight to
# stderr (the kiosk's log and doctor's table) unless told before cv2 loads.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

__version__ = "0.1.0"
