"""The HTTP face of a scoring process: ``POST /score``, ``GET /`` and ``GET /swagger.json``."""

from __future__ import annotations

import contextlib
import hmac
import json
import socket
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mms_pulumi.emulator.framing import framing_problem
from mms_pulumi.emulator.scoring.driver import Driver, last_line

MAX_REQUEST_BYTES = 16 * 1024 * 1024
# Every call from the emulator carries the secret its scoring process announced at start.
# Without it a process on loopback could be called by anything on the machine, a web page
# of another origin included (a simple cross-site POST, or one after DNS rebinding), past
# the keys, the token and the Host and Origin rules the emulator applies.
SECRET_HEADER = "X-Mms-Scoring-Secret"


class ScoringServer(ThreadingHTTPServer):
    """Serves one driver; ``run`` calls are serialised, as a single-worker container would.

    The emulator keeps its connections open between calls (keep-alive), so a connection's
    thread lives as long as the connection, and most of the time it waits, idle, for the
    next request. On stop, ``close_idle`` ends those waits: in-flight calls finish and are
    answered, and no thread is left waiting for a request that will not come.
    """

    daemon_threads = False  # let in-flight requests finish on shutdown
    block_on_close = True
    # The emulator opens up to a scoring slot's worth of connections at once; with the
    # stdlib's backlog of 5 the rest lost their SYN and waited a second to retry.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        driver: Driver,
        swagger: dict[str, Any] | None,
        *,
        secret: str,
    ) -> None:
        super().__init__(address, ScoringHandler)
        self.secret = secret.encode("ascii")
        self.driver = driver
        self.swagger = swagger
        self.run_lock = threading.Lock()
        self.requests_served = 0
        self._connections_lock = threading.Lock()
        self._idle: set[socket.socket] = set()
        self._stopping = False

    def waiting(self, connection: socket.socket, idle: bool) -> bool:
        """Note whether a connection waits for its next request; ``False`` when it should
        close instead (the server is stopping)."""
        with self._connections_lock:
            if idle and not self._stopping:
                self._idle.add(connection)
                return True
            self._idle.discard(connection)
            return not idle

    def close_idle(self) -> None:
        """Stop waiting for requests: every idle connection is shut, later ones close once
        answered."""
        with self._connections_lock:
            self._stopping = True
            idle, self._idle = self._idle, set()
        for connection in idle:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class ScoringHandler(BaseHTTPRequestHandler):
    """One request to the scoring process."""

    server: ScoringServer
    protocol_version = "HTTP/1.1"
    # Buffered, and flushed once the request is handled: an answer's head and body leave
    # in one write (with the head alone first, a delayed ACK held the body back ~40 ms).
    wbufsize = 64 * 1024

    def setup(self) -> None:
        """A connection: answers go out at once (no Nagle delay behind a delayed ACK)."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._await_next()

    def parse_request(self) -> bool:
        """A request line arrived: the connection is busy until it is answered."""
        self.server.waiting(self.connection, idle=False)
        return super().parse_request()

    def handle_one_request(self) -> None:
        """Serve one request, then wait for the next unless the server is stopping."""
        super().handle_one_request()
        if not self.wfile.closed:
            self.wfile.flush()  # an error answer of the stdlib's own returns unflushed
        if not self.close_connection:
            self._await_next()

    def _await_next(self) -> None:
        if not self.server.waiting(self.connection, idle=True):
            self.close_connection = True

    def _admitted(self) -> bool:
        """Whether the call carries the process's secret; if not, it is answered 403."""
        offered = self.headers.get(SECRET_HEADER, "").encode("latin-1")
        if hmac.compare_digest(offered, self.server.secret):
            return True
        self.close_connection = True  # a body it sent is not read
        self._send(
            HTTPStatus.FORBIDDEN,
            {"error": "this port answers the emulator only: call the service's scoringUri"},
        )
        return False

    def do_GET(self) -> None:  # the stdlib's naming
        """Health at ``/``; the service's swagger document when it has a schema."""
        if not self._admitted():
            return
        path = self.path.split("?", 1)[0]
        if path in ("/", ""):
            self._send(HTTPStatus.OK, {"status": "Healthy"})
        elif path == "/swagger.json" and self.server.swagger is not None:
            self._send(HTTPStatus.OK, self.server.swagger)
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no route {path}"})

    def do_POST(self) -> None:  # the stdlib's naming
        """Score: JSON in, ``run(input)``'s result out as JSON."""
        if not self._admitted():
            return
        if self.path.split("?", 1)[0] != "/score":
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}"})
            return
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        problem = framing_problem(raw)
        if problem is None and "Transfer-Encoding" in self.headers:
            problem = "Send the body with a Content-Length, not chunked."
        if problem is not None:
            self.close_connection = True  # the rest of the request cannot be told apart
            self._send(HTTPStatus.BAD_REQUEST, {"error": problem})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True  # the body is not read
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "request body too large"})
            return
        try:
            payload = json.loads(self.rfile.read(length) or b"null", parse_constant=_no_constant)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            self._send(HTTPStatus.BAD_REQUEST, {"error": f"body is not JSON: {err}"})
            return
        except (ValueError, RecursionError) as err:
            # NaN/Infinity, integers over Python's 4,300-digit limit, nesting past the stack.
            reason = "is nested too deeply" if isinstance(err, RecursionError) else str(err)
            self._send(HTTPStatus.BAD_REQUEST, {"error": f"body is not usable JSON: {reason}"})
            return
        try:
            with self.server.run_lock:
                result = self.server.driver.run(payload)
        except (ValueError, TypeError, KeyError) as err:
            # The driver's own word on bad input, as the 2017 service passed it on.
            self._send(HTTPStatus.BAD_REQUEST, {"error": last_line(err)})
            return
        except Exception:  # user code: log it, keep serving; the caller gets no internals
            traceback.print_exc(file=sys.stderr)  # the service's log
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"error": "run() failed; the service's log has the traceback"},
            )
            return
        try:
            body = json.dumps(result, allow_nan=False)
        except (ValueError, TypeError, RecursionError) as err:
            print(f"run() returned what JSON cannot hold: {last_line(err)}", file=sys.stderr)
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"error": "run() returned a value JSON cannot hold (NaN, Infinity, an object)"},
            )
            return
        self.server.requests_served += 1
        self._send_raw(HTTPStatus.OK, body.encode())

    def _send(self, status: HTTPStatus, document: Any) -> None:
        self._send_raw(status, json.dumps(document).encode())

    def _send_raw(self, status: HTTPStatus, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # stdlib signature
        """Quiet: request bodies and results are the user's data."""


def _no_constant(name: str) -> Any:
    """``json.loads`` takes ``NaN``, ``Infinity`` and ``-Infinity``, which JSON does not."""
    raise ValueError(f"{name} is not JSON")
