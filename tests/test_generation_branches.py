"""The API generation is chosen in one place (``mms_pulumi.wire.DIALECTS`` and the tables
keyed by generation): a branch on it anywhere else says why, in a ``# generation:``
comment on its line or the line above."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mms_pulumi"
# The table itself.
HOME = PACKAGE / "wire"
BRANCH = re.compile(
    r"(\b(is|is not|==|!=)\s+ApiGeneration\.V2017_0[69])"
    r"|(isinstance\([^)]*(2017_09|MmsClient2017)[^)]*\))"
    r"|(\.v2017_09\b)"
    r"|(startswith\(ACCOUNTS_SCOPE\))"
)
REASON = "# generation:"


def _unexplained() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if HOME in path.parents:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            code = line.split("#", 1)[0]
            if not BRANCH.search(code) or code.lstrip().startswith("def "):
                continue
            above = lines[number - 1] if number else ""
            if REASON not in line and REASON not in above:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{number + 1}: {line.strip()}")
    return found


def test_every_branch_on_the_generation_outside_the_table_says_why() -> None:
    assert _unexplained() == []


def test_the_rule_sees_a_branch() -> None:
    assert BRANCH.search("if generation is ApiGeneration.V2017_09:")
    assert BRANCH.search("if isinstance(image, Image2017_09):")
    assert BRANCH.search("if account.v2017_09:")
    assert BRANCH.search("if scope.startswith(ACCOUNTS_SCOPE):")
    assert not BRANCH.search("request_models = {g: d.create_image for g, d in DIALECTS.items()}")


def test_both_generations_modules_have_the_same_names() -> None:
    from mms_pulumi.wire import v2017_06, v2017_09

    assert v2017_06.__all__ == v2017_09.__all__
    assert all(
        hasattr(module, name) for module in (v2017_06, v2017_09) for name in v2017_06.__all__
    )
