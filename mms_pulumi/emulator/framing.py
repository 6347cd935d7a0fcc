"""Request framing the emulator refuses, for the app and the scoring processes alike (pure)."""

from __future__ import annotations

from collections.abc import Sequence


def framing_problem(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    """Why a request's framing headers cannot be trusted, or ``None`` (pure).

    RFC 9112 §6.3: a message with both ``Transfer-Encoding`` and ``Content-Length`` may be
    an attempt at request smuggling and must be refused, as must differing lengths.
    """
    lengths = {value.strip() for name, value in headers if name.lower() == b"content-length"}
    encodings = [value for name, value in headers if name.lower() == b"transfer-encoding"]
    if encodings and lengths:
        return "The request has both Transfer-Encoding and Content-Length; send one of them."
    if len(lengths) > 1:
        return "The request has Content-Length headers that disagree; send one."
    if lengths and not all(length.isdigit() for length in lengths):
        return "The request's Content-Length is not a number of bytes."
    return None
