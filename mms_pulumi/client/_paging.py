"""Reading list answers: a bare JSON array or ``{"value": [...], "nextLink": ...}`` pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


def iterate_items(first_page: Any, get_page: Callable[[str], Any]) -> Iterator[Any]:
    """Every item of a list answer, following ``nextLink`` until a page has none."""
    page = first_page
    seen: set[str] = set()
    while True:
        if isinstance(page, list):
            yield from page
            return
        if not isinstance(page, dict):
            raise ValueError(
                f"a list answer must be a JSON array or a page, got {type(page).__name__}"
            )
        yield from page.get("value") or []
        next_link = page.get("nextLink")
        if not next_link:
            return
        if next_link in seen:
            raise ValueError(f"nextLink {next_link} repeats; the listing would never end")
        seen.add(next_link)
        page = get_page(next_link)
