"""The docs: generated tables current, every block in use, the README short and its links live."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.docs_tables import BLOCKS, DOCS, blocks_used, render, stale_pages

ROOT = DOCS.parent
README = ROOT / "README.md"


def test_every_generated_table_says_what_the_code_says() -> None:
    """Run ``python -m scripts.docs_tables`` after changing an input, a flag or a key."""
    assert [str(page.relative_to(ROOT)) for page in stale_pages()] == []


def test_every_generated_block_appears_in_the_docs() -> None:
    assert blocks_used() == set(BLOCKS)


def test_a_block_is_replaced_and_the_rest_of_the_page_kept() -> None:
    page = (
        "before\n<!-- generated: emulator-flags -->\nstale\n<!-- end: emulator-flags -->\nafter\n"
    )
    rendered = render(page)
    assert rendered.startswith("before\n<!-- generated: emulator-flags -->\n| flag |")
    assert rendered.endswith("<!-- end: emulator-flags -->\nafter\n")
    assert "`--max-body-bytes N`" in rendered and "stale" not in rendered


def test_the_readme_is_read_in_five_minutes() -> None:
    assert len(README.read_bytes()) <= 11 * 1024


def test_the_readme_links_to_files_that_exist() -> None:
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    local = [link for link in links if "://" not in link]
    assert local, "the README links to the docs"
    assert [link for link in local if not (ROOT / link).exists()] == []


def test_there_is_one_emulator_flag_table() -> None:
    pages = [*DOCS.rglob("*.md"), README, ROOT / "mms_pulumi" / "emulator" / "README.md"]
    with_table = [page for page in pages if "| `--port PORT` |" in page.read_text()]
    assert with_table == [Path(DOCS / "emulator.md")]
