"""Where the on-demand local emulator listens and keeps its state, unless configured.

Apart from ``settings`` so that a provider (which records these with every resource of the
local emulator) imports four constants, not the emulator's settings and fault machinery.
"""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5080
DEFAULT_DATA_DIR = ".mms-emulator"
DEFAULT_OPERATION_SECONDS = 2.0

__all__ = ["DEFAULT_DATA_DIR", "DEFAULT_HOST", "DEFAULT_OPERATION_SECONDS", "DEFAULT_PORT"]
