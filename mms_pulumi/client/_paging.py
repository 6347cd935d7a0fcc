"""Reading list answers: a bare JSON array, or ``{"value": [...], "nextLink": ...}`` pages.

The 2017-06 documentation shows bare arrays; the 2017-09 API and the emulator's
``--page-size`` answer pages. Both clients of the time followed ``nextLink`` verbatim,
with no parameters of their own, until a page had none; so does this one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from pydantic import ValidationError

from mms_pulumi.client._transport import Response
from mms_pulumi.errors import ProtocolError
from mms_pulumi.schema import Page

# Guards against a service that hands out fresh links forever, or pages of any size: a
# hosting account never held anywhere near this many objects, and a listing is held in
# memory whole.
MAX_PAGES = 10_000
MAX_ITEMS = 100_000


def page_items(page: Response) -> tuple[list[Any], str | None]:
    """The items of one answer and the link to the next page, if any."""
    body = page.body
    if isinstance(body, list):
        return body, None
    if isinstance(body, dict):
        try:
            parsed = Page.model_validate(body)
        except ValidationError:
            raise _unreadable(
                page, "its value is not a list or its nextLink not a string"
            ) from None
        return parsed.value, parsed.next_link or None
    raise _unreadable(page, f"expected a JSON array or a page, got {type(body).__name__}")


def iterate_items(first: Response, get_page: Callable[[str], Response]) -> Iterator[Any]:
    """Every item of a list answer, following ``nextLink`` until a page has none.

    ``get_page`` receives the link resolved against the page that carried it, so absolute,
    host-relative and relative links all work.
    """
    page = first
    seen: set[str] = set()
    count = 0
    for _ in range(MAX_PAGES):
        items, next_link = page_items(page)
        count += len(items)
        if count > MAX_ITEMS:
            raise _unreadable(page, f"the listing holds more than {MAX_ITEMS} items")
        yield from items
        if next_link is None:
            return
        try:
            # A fragment never reaches the service: links differing only there are one page.
            link = urldefrag(urljoin(page.url, next_link)).url
        except ValueError:
            raise _unreadable(page, "its nextLink is not a well-formed URL") from None
        if link in seen:
            raise _unreadable(page, f"its nextLink {_path_of(link)} repeats an earlier page")
        seen.add(link)
        page = get_page(link)
    raise _unreadable(page, f"the listing did not end after {MAX_PAGES} pages")


def _path_of(link: str) -> str:
    return urlsplit(link).path


def _unreadable(page: Response, why: str) -> ProtocolError:
    return ProtocolError(
        f"MMS answered a list request ({_path_of(page.url)}) in a form this client cannot "
        f"read: {why}. Report it with the request ids.",
        request_id=page.request_id,
        client_request_id=page.client_request_id,
    )
