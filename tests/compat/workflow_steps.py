"""What the official CLIs' workflow drivers share, in the driver's own process: the files
the CLI deploys, its uploads as ``file://`` URIs, and the step recorder.

``Steps.run`` calls one CLI function with its printing captured and records
``{"step", "ok", "detail"}``; the first failure (an exception, or ``ok`` saying no) ends
the workflow, and ``write`` leaves the record where the test reads it.
"""

from __future__ import annotations

import contextlib
import io
import json
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

DRIVER = "def init():\n    pass\n\n\ndef run(data):\n    return {'echo': data}\n"


def as_uri(path: str) -> str:
    """Where an "upload" of ``path`` lands: a ``file://`` URI the emulator reads."""
    return Path(path).resolve().as_uri()


def write_files(work: Path) -> Path:
    """The model and driver the workflow deploys, in ``work/files``."""
    files = work / "files"
    files.mkdir(exist_ok=True)
    (files / "model.pkl").write_bytes(b"\x80\x04compat-model")
    (files / "score.py").write_text(DRIVER)
    return files


def returned_zero(value: Any) -> bool:
    """The CLI's success value: ``0``, or a tuple that starts with it."""
    return bool(value == 0 or (isinstance(value, tuple) and value[0] == 0))


class Steps:
    """The workflow's record, one entry per CLI function called."""

    def __init__(self, ok: Callable[[Any], bool] = returned_zero) -> None:
        self.results: list[dict[str, Any]] = []
        self.output = ""  # what the last step printed
        self._ok = ok  # success, for the steps that name no test of their own

    def run(
        self, name: str, call: Callable[[], Any], ok: Callable[[Any], bool] | None = None
    ) -> Any:
        """Run one CLI function; record whether it completed (its own success value)."""
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                value = call()
        except BaseException:  # the CLIs raise CLIError, MlCliError, KeyError… on bad answers
            self.results.append(
                {"step": name, "ok": False, "detail": traceback.format_exc(limit=4)}
            )
            raise SystemExit(0) from None
        self.output = printed.getvalue()
        passed = bool((ok or self._ok)(value))
        self.results.append({"step": name, "ok": passed, "detail": self.output[-2000:]})
        if not passed:
            raise SystemExit(0)
        return value

    def write(self, path: str) -> None:
        """Leave the record for the test."""
        Path(path).write_text(json.dumps({"results": self.results}))
