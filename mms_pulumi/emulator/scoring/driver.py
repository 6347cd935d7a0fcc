"""Loading a driver program (``score.py``) and checking it keeps MMS's contract."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

SCHEMA_KEYS = ("input", "output")


class DriverError(Exception):
    """The driver program cannot serve: the message says which file and why."""


@dataclass(frozen=True)
class Driver:
    """A loaded driver program: ``init()`` once, then ``run(input)`` per request."""

    module: ModuleType
    init: Callable[[], Any]
    run: Callable[[Any], Any]


def load_driver(bundle: Path, file_name: str) -> Driver:
    """Import ``file_name`` from the bundle and check it defines ``init()`` and ``run(input)``.

    The bundle directory becomes the working directory and the first import path, as in
    the image MMS would have built, so the driver finds its model files by name.
    """
    path = bundle / file_name
    if not path.is_file():
        raise DriverError(f"driver program {file_name}: not found in the image")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise DriverError(f"driver program {file_name}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as err:  # any failure of user code is reported
        raise DriverError(f"driver program {file_name}: import failed: {last_line(err)}") from err
    init, run = getattr(module, "init", None), getattr(module, "run", None)
    if not callable(init):
        raise DriverError(f"driver program {file_name}: defines no init() function")
    if not callable(run):
        raise DriverError(f"driver program {file_name}: defines no run(input) function")
    if not _accepts_one_argument(run):
        raise DriverError(f"driver program {file_name}: run() must take one argument (input)")
    return Driver(module=module, init=init, run=run)


def _accepts_one_argument(function: Callable[..., Any]) -> bool:
    try:
        inspect.signature(function).bind(None)
    except TypeError:
        return False
    except ValueError:
        return True  # builtins without a signature: let the call decide
    return True


def last_line(err: BaseException) -> str:
    """The last line of an exception's traceback, e.g. ``FileNotFoundError: model.pkl``,
    with the working directory (the image bundle, in a scoring process) left out of any
    path it names: callers and operation errors see paths relative to the image, never
    where the emulator keeps its data."""
    lines = traceback.format_exception_only(type(err), err)
    line = lines[-1].strip() if lines else type(err).__name__
    here = os.getcwd()
    return line.replace(here + os.sep, "").replace(here, ".") if len(here) > 1 else line


def find_schema(bundle: Path) -> dict[str, Any] | None:
    """The service schema file of the bundle (``generate_schema``'s JSON), if there is one."""
    for path in sorted(bundle.glob("*.json")):
        try:
            document = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(document, dict) and _is_schema(document):
            return document
    return None


def _is_schema(document: dict[str, Any]) -> bool:
    sections = [document[key] for key in SCHEMA_KEYS if key in document]
    return bool(sections) and all(
        isinstance(section, dict)
        and section
        and all(isinstance(arg, dict) and "swagger" in arg for arg in section.values())
        for section in sections
    )


def swagger_document(schema: dict[str, Any], title: str) -> dict[str, Any]:
    """An OpenAPI 2.0 description of ``POST /score`` built from the service schema."""

    def properties(section: str) -> dict[str, Any]:
        arguments = schema.get(section) or {}
        return {
            "type": "object",
            "properties": {name: arg["swagger"] for name, arg in arguments.items()},
        }

    return {
        "swagger": "2.0",
        "info": {"title": title, "version": "1.0"},
        "schemes": ["http"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": {
            "/score": {
                "post": {
                    "operationId": "RunMLService",
                    "parameters": [
                        {
                            "name": "input",
                            "in": "body",
                            "required": True,
                            "schema": properties("input"),
                        }
                    ],
                    "responses": {"200": {"description": "OK", "schema": properties("output")}},
                }
            }
        },
    }
