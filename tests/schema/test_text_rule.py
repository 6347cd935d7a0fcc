"""One text rule for every request field of both generations: no Unicode Cc (C0, DEL,
C1) and no line or paragraph separator; checked over every field the schema declares, so
a field added later without the rule fails here."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from mms_pulumi import schema, schema_2017_09
from mms_pulumi.schema import RegisterModelRequest, RequestModel
from mms_pulumi.schema_2017_09 import RegisterModelRequest2017_09

REFUSED = ["\x00", "\n", "\x1b", "\x7f", "\x85", "\x9b", "\x9f", "\u2028", "\u2029"]
# A document of lines, parsed as YAML instead.
MULTILINE_FIELDS = {"kube_config"}


def _request_models() -> Iterator[type[RequestModel]]:
    for module in (schema, schema_2017_09):
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, RequestModel)
                and value is not RequestModel
                and value.__module__ == module.__name__
            ):
                yield value


def _string_patterns(annotation: Any, metadata: list[Any]) -> Iterator[list[str]]:
    """For each ``str`` inside the annotation (lists, dicts, optionals), its patterns."""
    if annotation is str:
        yield [m.pattern for m in metadata if getattr(m, "pattern", None)]
        return
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        yield from _string_patterns(base, [*metadata, *extra])
        return
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return  # checked as a model of its own
    for argument in typing.get_args(annotation):
        yield from _string_patterns(argument, [])


FIELDS = [
    (model, name, info)
    for model in _request_models()
    for name, info in model.model_fields.items()
    if name not in MULTILINE_FIELDS
]


@pytest.mark.parametrize(
    ("model", "name", "info"), FIELDS, ids=[f"{m.__name__}.{n}" for m, n, _ in FIELDS]
)
def test_every_text_field_refuses_control_characters_and_separators(
    model: type[RequestModel], name: str, info: Any
) -> None:
    for patterns in _string_patterns(info.annotation, list(info.metadata)):
        assert patterns, f"{model.__name__}.{name} takes any text"
        for char in REFUSED:
            assert any(re.fullmatch(p, f"a{char}b") is None for p in patterns), (name, char)
        assert all(re.fullmatch(p, "ab") for p in patterns)


@pytest.mark.parametrize("char", ["\x85", "\x9b", "\u2028"])
def test_c1_and_separators_are_refused_with_the_field_named(char: str) -> None:
    base = {"name": "churn", "url": "file:///m.json", "mimeType": "application/json"}
    cases: list[tuple[type[RequestModel], dict[str, Any], str]] = [
        (RegisterModelRequest2017_09, {**base, "name": f"ch{char}urn"}, "name"),
        (RegisterModelRequest2017_09, {**base, "tags": [f"t{char}"]}, "tags"),
        (RegisterModelRequest, {**base, "url": f"file:///m{char}.json"}, "url"),
        (RegisterModelRequest, {**base, "description": f"two{char}lines"}, "description"),
    ]
    for model, body, field in cases:
        with pytest.raises(ValidationError) as refused:
            model.model_validate(body)
        (problem,) = schema.problems_from(refused.value)
        assert problem.path[0] == field
        assert "control characters or line separators" in problem.rule
