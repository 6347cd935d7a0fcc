"""A Pulumi project as the CLI reads it, and where the engine runs the program and the plugin.

Everything here follows the engine's source (pulumi/pulumi, read at v3.259 and HEAD of the
mirror the session fetched); each function names the file and function it models:

* the program and every plugin run in the ``main:`` directory, not the project root
  (``pkg/engine/project.go`` ``getPwdMain``; ``plugin.Context.Pwd`` is that directory and
  ``sdk/go/common/resource/plugin/provider_plugin.go`` ``NewProvider`` starts the plugin
  there through ``newPlugin(ctx, ctx.Pwd, ...)``);
* the language host resolves ``virtualenv`` against the project root
  (``sdk/python/toolchain/pip.go`` ``newPip`` → ``resolveVirtualEnvironmentPath(root, …)``),
  but the dynamic provider's launch script resolves the same string against its own working
  directory (``sdk/python/dist/pulumi-resource-pulumi-python``:
  ``$PWD/$PULUMI_RUNTIME_VIRTUALENV``);
* runtime options reach the plugin as ``PULUMI_RUNTIME_<OPTION>`` and the project name as
  ``PULUMI_PROJECT`` (``provider_plugin.go`` ``NewProvider``);
* the language host asks for a resource plugin for every installed distribution with a
  ``pulumi-plugin.json`` saying ``resource: true``, or named ``pulumi-*`` without one
  (``sdk/python/cmd/pulumi-language-python/main.go`` ``listPulumiPackageInfos`` and
  ``packageDependencyFromPluginJSON``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# The launch script's own words when the venv is missing (``pulumi-resource-pulumi-python``).
MISSING_VENV = 'The \'virtualenv\' option in Pulumi.yaml is set to "{venv}", but "{venv}" {why}.'

# ``main.go`` ``packagesWithoutPlugins``: known Pulumi packages that have no plugin.
PACKAGES_WITHOUT_PLUGINS = frozenset({"pulumi-policy", "pulumi-esc-sdk"})


class PluginLaunchError(RuntimeError):
    """The launch script exited before starting Python; the message is what it printed."""


@dataclass(frozen=True)
class Project:
    """One ``Pulumi.yaml``: the project root, its name, ``main:`` and runtime options."""

    root: Path
    name: str
    main: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path) -> Project:
        """Read ``root/Pulumi.yaml`` (``sdk/go/common/workspace/project.go`` field names)."""
        document = yaml.safe_load((root / "Pulumi.yaml").read_text()) or {}
        runtime = document.get("runtime")
        options = runtime.get("options") or {} if isinstance(runtime, dict) else {}
        return cls(
            root=root.resolve(),
            name=str(document["name"]),
            main=str(document.get("main") or ""),
            options=dict(options),
        )

    @property
    def pwd(self) -> Path:
        """Where the program and the plugins run: ``getPwdMain(root, main)``'s ``pwd``.

        An empty ``main`` is the root; a relative one is joined to the root; a directory is
        itself the pwd, a file's parent is."""
        if not self.main:
            return self.root
        main = Path(self.main)
        target = main if main.is_absolute() else Path(os.path.normpath(self.root / main))
        return target if target.is_dir() else target.parent

    def runtime_env(self) -> dict[str, str]:
        """``PULUMI_RUNTIME_<OPTION>`` for each runtime option (``NewProvider``: the option
        name upper-cased, the value formatted with ``%v``)."""
        return {f"PULUMI_RUNTIME_{key.upper()}": _go_format(v) for key, v in self.options.items()}

    def language_host_python(self, environ: Mapping[str, str]) -> str:
        """The interpreter the language host runs the program with (``pip.go``): the
        virtualenv resolved against the project root, else ``CommandPath``
        (``PULUMI_PYTHON_CMD`` or ``python3`` on ``PATH``)."""
        venv = str(self.options.get("virtualenv") or "")
        if venv:
            base = Path(venv) if os.path.isabs(venv) else self.root / venv
            return os.path.normpath(base / "bin" / "python")
        return _command_path(environ)


def plugin_launch(cwd: Path, environ: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The command and environment ``pulumi-resource-pulumi-python`` ends up running in
    ``cwd``, or :class:`PluginLaunchError` with what it prints when it gives up.

    Modelled on the script (not copied): with ``PULUMI_RUNTIME_VIRTUALENV`` set it is made
    absolute against ``$PWD`` (the plugin's working directory), the trailing slash dropped;
    when ``bin/python`` exists there the venv's ``bin`` goes first on ``PATH``,
    ``PYTHONHOME`` is unset and that python runs ``-u -m pulumi.dynamic``; otherwise the
    script explains and exits 1. Without it, ``${PULUMI_PYTHON_CMD:-python3}`` runs. (The
    ``uv``/``poetry`` toolchain defaults are not modelled: this project uses ``pip``.)
    """
    env = dict(environ)
    toolchain = env.get("PULUMI_RUNTIME_TOOLCHAIN", "")
    venv = env.get("PULUMI_RUNTIME_VIRTUALENV", "")
    if not venv and toolchain in ("uv", "poetry"):
        raise NotImplementedError(f"the {toolchain} toolchain's default venv is not modelled")
    if venv:
        venv = venv.rstrip("/") if venv != "/" else venv
        if not venv.startswith("/"):
            venv = f"{cwd}/{venv}"
        python = f"{venv}/bin/python"
        if not os.path.isfile(python):
            why = (
                "doesn't appear to be a virtual environment"
                if os.path.isdir(venv)
                else ("doesn't exist")
            )
            raise PluginLaunchError(MISSING_VENV.format(venv=venv, why=why))
        env["PATH"] = f"{venv}/bin:{env.get('PATH', '')}"
        env.pop("PYTHONHOME", None)
        return [python, "-u", "-m", "pulumi.dynamic"], env
    command = env.get("PULUMI_PYTHON_CMD") or "python3"
    return [command, "-u", "-m", "pulumi.dynamic"], env


def required_plugins(python: str) -> dict[str, str]:
    """The resource plugins the language host would ask the engine for, name → version,
    from the distributions installed for ``python`` (``listPulumiPackageInfos``)."""
    script = (
        "import importlib.metadata as m, importlib.util as u, json, os\n"
        "out = {}\n"
        "for d in m.distributions():\n"
        "    name = d.metadata['Name']\n"
        "    spec = u.find_spec(name.replace('-', '_'))\n"
        "    locs = list(spec.submodule_search_locations or []) if spec else []\n"
        "    found = [os.path.join(str(l), 'pulumi-plugin.json') for l in locs]\n"
        "    found = [p for p in found if os.path.isfile(p)]\n"
        "    out[name] = [d.version, found[0] if found else '']\n"
        "print(json.dumps(out))\n"
    )
    listed = json.loads(
        subprocess.run(
            [python, "-c", script], check=True, capture_output=True, text=True, timeout=120
        ).stdout
    )
    plugins: dict[str, str] = {}
    for name, (version, plugin_json) in listed.items():
        normalized = name.lower().replace("_", "-")
        if normalized in PACKAGES_WITHOUT_PLUGINS:
            continue
        if not plugin_json and not normalized.startswith("pulumi-"):
            continue
        info = json.loads(Path(plugin_json).read_text()) if plugin_json else {}
        if plugin_json and not info.get("resource"):
            continue
        plugins[info.get("name") or normalized.removeprefix("pulumi-")] = (
            info.get("version") or version
        )
    return plugins


def _command_path(environ: Mapping[str, str]) -> str:
    """``toolchain.CommandPath``: ``PULUMI_PYTHON_CMD`` looked up on ``PATH`` (a path with a
    slash is taken as it is), else ``python3``, else ``python``."""
    candidates = (
        [environ["PULUMI_PYTHON_CMD"]]
        if environ.get("PULUMI_PYTHON_CMD")
        else [
            "python3",
            "python",
        ]
    )
    for candidate in candidates:
        found = shutil.which(candidate, path=environ.get("PATH", ""))
        if found:
            return os.path.normpath(found) if "/" in candidate else found
    raise FileNotFoundError(f"failed to locate any of {candidates} on PATH")


def _go_format(value: Any) -> str:
    """Go's ``%v`` for the YAML scalars runtime options hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
