"""The docs' tables that describe code, made from the code so they cannot drift.

    python -m scripts.docs_tables          # rewrite the generated blocks under docs/
    python -m scripts.docs_tables --check  # exit 1 naming each block that is out of date

A block sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->`` in a docs
page or the README; what is between the markers is replaced, the rest of the page is left alone. The
sources: the stack config keys (``mms_pulumi.account.CONFIG_KEYS``), the emulator's
command line (``mms_pulumi.emulator.__main__.build_parser``), and each resource's inputs
(its provider's ``FieldSpec`` s, with the rules read from the wire models' JSON schema).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mms_pulumi.account import CONFIG_KEYS
from mms_pulumi.emulator.__main__ import build_parser
from mms_pulumi.resources._base import EMULATOR_KEY, MmsProvider
from mms_pulumi.resources._fields import FieldSpec, OnChange
from mms_pulumi.resources.image import ImageProvider
from mms_pulumi.resources.manifest import ManifestProvider
from mms_pulumi.resources.model import ModelProvider
from mms_pulumi.resources.service import ServiceProvider
from mms_pulumi.schema import ApiGeneration, pattern_rule

DOCS = Path(__file__).resolve().parents[1] / "docs"
_BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)", re.S
)
_GENERATIONS = {ApiGeneration.V2017_06: "2017-06", ApiGeneration.V2017_09: "2017-09"}


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def config_keys() -> str:
    """The ``mms:`` stack config keys."""
    return _table(
        ("stack config", "environment", "meaning", "default"),
        (
            (
                f"`{key.key}`" + (" (secret)" if key.secret else ""),
                f"`{key.env}`" if key.env else "—",
                key.meaning,
                key.default,
            )
            for key in CONFIG_KEYS
        ),
    )


def emulator_flags() -> str:
    """``mms-emulator``'s flags, as its argument parser declares them."""
    rows = []
    for action in build_parser()._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        flag = max(action.option_strings, key=len)
        takes_value = action.nargs != 0
        if takes_value:
            metavar = action.metavar if isinstance(action.metavar, str) else None
            flag += " " + (metavar or action.dest.upper())
        if not takes_value:
            default = "off"
        elif action.default is None:
            default = "—"
        elif isinstance(action.default, float):
            default = f"`{action.default:g}`"
        else:
            default = f"`{action.default}`"
        meaning = (action.help or "").replace("%%", "%")
        if action.choices:
            meaning += "; one of " + ", ".join(f"`{choice}`" for choice in action.choices)
        rows.append((f"`{flag}`", default, meaning))
    return _table(("flag", "default", "meaning"), rows)


def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str):
        return schema["$defs"][ref.rsplit("/", 1)[-1]]  # type: ignore[no-any-return]
    return node


def _value_rule(schema: Mapping[str, Any], node: Mapping[str, Any]) -> list[str]:
    """What a value of this JSON-schema node must be, in words."""
    choices = [_resolve(schema, option) for option in node.get("anyOf", ())]
    choices = [option for option in choices if option.get("type") != "null"]
    if len(choices) == 1:
        node = choices[0]
    node = _resolve(schema, node)
    rules: list[str] = []
    if "enum" in node:
        rules.append("one of " + ", ".join(f"`{value}`" for value in node["enum"]))
    if "const" in node:
        rules.append(f"`{node['const']}`")
    if "minItems" in node:
        rules.append(f"at least {node['minItems']}")
    if "maxLength" in node:
        rules.append(f"≤ {node['maxLength']} characters")
    if "pattern" in node:
        rules.append(pattern_rule(node["pattern"]))
    for bound, words in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤")):
        if bound in node:
            rules.append(f"{words} {node[bound]:g}")
    if node.get("type") == "array" and isinstance(node.get("items"), Mapping):
        inner = _value_rule(schema, node["items"])
        if inner:
            rules.append("each " + ", ".join(inner))
    return rules


def _wire_rule(model: type[BaseModel], name: str) -> str | None:
    """The rule the wire model sets for an input, or ``None`` where it has no such field."""
    schema = model.model_json_schema(by_alias=False)
    node = schema.get("properties", {}).get(name)
    if node is None:
        return None
    required = name in schema.get("required", ())
    return ", ".join(["required" if required else "optional", *_value_rule(schema, node)])


def _on_change(provider: type[MmsProvider], spec: FieldSpec) -> str:
    if spec.on_change is OnChange.IGNORE:
        return "never a change by itself"
    if spec.on_change is OnChange.UPDATE:
        return "update in place"
    if not provider.unique_name_fields:
        return "replace"
    if spec.name in provider.unique_name_fields:
        return "**replace** (create the new one, then delete the old)"
    return "**replace** (delete first: the name is kept)"


def _rule(provider: type[MmsProvider], spec: FieldSpec) -> str:
    generations = (
        [spec.only_in]
        if spec.only_in is not None
        else [ApiGeneration.V2017_06, ApiGeneration.V2017_09]
    )
    rules = {
        generation: _wire_rule(provider.request_models[generation], spec.name)
        for generation in generations
    }
    known = {generation: rule for generation, rule in rules.items() if rule is not None}
    if len(set(known.values())) > 1:
        wire = "; ".join(f"{_GENERATIONS[g]}: {rule}" for g, rule in known.items())
    else:
        wire = next(iter(known.values()), "")
    parts = [part for part in (wire, spec.doc) if part]
    if spec.secret:
        parts.append("**secret** in state and outputs, even when given as plain text")
    return "; ".join(parts)


def resource_inputs(provider: type[MmsProvider]) -> str:
    """A resource's inputs: the API generation, the rule and what a change does."""
    rows = (
        (
            f"`{spec.name}`",
            _GENERATIONS[spec.only_in] if spec.only_in is not None else "both",
            _rule(provider, spec),
            _on_change(provider, spec),
        )
        for spec in provider.fields
        if spec.name != EMULATOR_KEY
    )
    return _table(("input", "API", "rule", "on change"), rows)


BLOCKS: dict[str, Callable[[], str]] = {
    "config-keys": config_keys,
    "emulator-flags": emulator_flags,
    "inputs-model": lambda: resource_inputs(ModelProvider),
    "inputs-manifest": lambda: resource_inputs(ManifestProvider),
    "inputs-image": lambda: resource_inputs(ImageProvider),
    "inputs-service": lambda: resource_inputs(ServiceProvider),
}


def render(text: str) -> str:
    """The page with each generated block made anew; an unknown block name is an error."""

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise KeyError(f"no generated block is called {name!r}; known: {sorted(BLOCKS)}")
        return f"{match[1]}{BLOCKS[name]()}\n{match[4]}"

    return _BLOCK.sub(fill, text)


def pages(docs: Path = DOCS) -> list[Path]:
    """Every page that may hold generated blocks: the docs and the README."""
    return [*sorted(docs.rglob("*.md")), docs.parent / "README.md"]


def stale_pages(docs: Path = DOCS) -> list[Path]:
    """The pages whose generated blocks differ from what the code says now."""
    return [page for page in pages(docs) if render(page.read_text()) != page.read_text()]


def blocks_used(docs: Path = DOCS) -> set[str]:
    """The names of the generated blocks the pages hold."""
    return {match["name"] for page in pages(docs) for match in _BLOCK.finditer(page.read_text())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    stale = stale_pages()
    if args.check:
        for page in stale:
            print(
                f"{page.relative_to(DOCS.parent)} is out of date: run python -m scripts.docs_tables"
            )
        return 1 if stale else 0
    for page in stale:
        page.write_text(render(page.read_text()))
        print(f"rewrote {page.relative_to(DOCS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
