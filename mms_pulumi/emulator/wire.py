"""The HTTP/1.1 server protocol: uvicorn's h11 protocol, answering in the seed's shape.

Requests h11 cannot parse (differing ``Content-Length`` headers, a malformed chunk, a bad
request line) never reach the app; uvicorn answers them itself with a plain-text 400. This
subclass gives that answer the seed's error body and an ``x-ms-request-id`` like every
other, and still closes the connection.
"""

from __future__ import annotations

import json
import uuid

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from mms_pulumi.emulator.errors import error_body
from mms_pulumi.emulator.middleware import REQUEST_ID


class SeedErrorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol whose answer to an unparseable request is a seed error."""

    def send_400_response(self, msg: str) -> None:
        body = json.dumps(
            error_body(400, f"The request is not valid HTTP/1.1 and was not read ({msg})")
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (REQUEST_ID.encode(), str(uuid.uuid4()).encode()),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()
