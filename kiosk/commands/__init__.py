"""Sub-commands of `python -m kiosk`. Each module defines `register(subparsers)`.

`register` adds one sub-parser and sets `func=handler` on it; the handler takes the
parsed arguments and returns the process exit code.
"""
