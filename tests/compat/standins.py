"""Stand-ins for the modules the official 2017 CLI imports that cannot be installed today.

``azure-cli-ml`` 0.1.0a20 imports azure-cli-core 2.0 (2017), the Azure management SDKs,
msrest, docker and kubernetes clients at import time, almost all of it for commands this
workflow never runs (cluster set-up, local Docker mode). :func:`install` adds a last-resort
import finder: a module that no installed package provides becomes a stand-in whose unknown
names are inert placeholder classes (importable, subclassable, callable). Real packages
(requests, PyYAML, tabulate, setuptools' ``pkg_resources``) are always used as they are.
Both 0.1.0a20 and 0.1.0a27 run on these.

Only what the deploy workflow touches has behaviour, and none of it builds a request or reads
an answer: ``CLIError``; ``Profile`` (the subscription id and the bearer token, from
``MMS_COMPAT_SUBSCRIPTION`` / ``MMS_COMPAT_TOKEN``); the registration functions the command
table calls at import; and azure-ml-api-sdk's ``generate_main``, which writes the image's
entry module (here: re-exporting the user's driver, which the CLI ships beside it).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Top-level names of the packages the 2017 CLI imports that are not installed here.
STANDING_IN_FOR = (
    "azure.cli.core",
    "azure.graphrbac",
    "azure.mgmt",
    "azure.ml",
    "azure.storage",
    "azureml",  # 0.1.0a27 imports azure-ml-api-sdk under this name
    "dateutil",
    "docker",
    "kubernetes",
    "msrest",
    "msrestazure",
)


class Placeholder:
    """Any name a stand-in module does not define: accepts every call and attribute."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def __call__(self, *_args: Any, **_kwargs: Any) -> Placeholder:
        return Placeholder()

    def __getattr__(self, _name: str) -> Placeholder:
        return Placeholder()


class StandInModule(types.ModuleType):
    """A module whose names not set explicitly are placeholder classes."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = type(name, (Placeholder,), {"__module__": self.__name__})
        setattr(self, name, value)
        return value


class CLIError(Exception):
    """azure.cli.core.util.CLIError: the CLI's one error type."""


class Profile:
    """azure.cli.core._profile.Profile: the logged-in subscription and its token."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        self.subscription = os.environ["MMS_COMPAT_SUBSCRIPTION"]
        self.token = os.environ["MMS_COMPAT_TOKEN"]

    def get_subscription(self, *_args: Any, **_kwargs: Any) -> dict[str, str]:
        return {"id": self.subscription}

    def get_raw_token(self, resource: str | None = None) -> tuple[Any, ...]:
        return ("Bearer", self.token, {}), self.subscription, "tenant"

    def get_login_credentials(self, *_args: Any, **_kwargs: Any) -> tuple[Any, ...]:
        """What 0.1.0a27 asks (``_util.get_auth_header``): credentials whose signed session
        carries the bearer token."""
        return _SignedCredentials(self.token), self.subscription, "tenant"


class _SignedCredentials:
    def __init__(self, token: str) -> None:
        self._token = token

    def signed_session(self) -> Any:
        import requests

        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self._token}"
        return session


def _ignore(*_args: Any, **_kwargs: Any) -> None:
    """Command-table registration (``cli_command``, ``register_cli_argument``…)."""


def generate_main(user_file: str, schema_file: str, main_file_name: str) -> str:
    """azure.ml.api.realtime.services.generate_main: the image's entry module. The CLI
    ships the user's driver as an asset of its own; the entry module re-exports it."""
    driver = Path(user_file).stem
    Path(main_file_name).write_text(
        f"# generated entry module (schema: {schema_file or 'none'})\nfrom {driver} import *\n"
    )
    return main_file_name


BEHAVIOUR: dict[str, dict[str, Any]] = {
    "azure.cli.core.util": {
        "CLIError": CLIError,
        "get_file_json": lambda path: json.loads(Path(path).read_text()),
        "shell_safe_json_parse": json.loads,
    },
    "azure.cli.core._profile": {"Profile": Profile},
    "azure.cli.core.commands": {
        "cli_command": _ignore,
        "register_cli_argument": _ignore,
        "register_extra_cli_argument": _ignore,
        "_cli_extra_argument_registry": {},
    },
    "azure.cli.core.help_files": {"helps": {}},
    "azure.cli.core.azlogging": {"get_az_logger": logging.getLogger},
    "azure.cli.core._environment": {
        "get_config_dir": lambda: os.environ.get("AZURE_CONFIG_DIR", str(Path.home() / ".azure"))
    },
    "azure.ml.api.realtime.services": {"generate_main": generate_main},
    "azureml.api.realtime.services": {"generate_main": generate_main},
}


class StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds only what no other finder found, and only under ``STANDING_IN_FOR``."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not any(fullname == p or fullname.startswith(p + ".") for p in STANDING_IN_FOR):
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return StandInModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__.update(BEHAVIOUR.get(module.__name__, {}))


def install() -> None:
    """Add the finder after every real one (idempotent)."""
    if not any(isinstance(finder, StandInFinder) for finder in sys.meta_path):
        sys.meta_path.append(StandInFinder())
