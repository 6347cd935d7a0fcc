"""``mms-emulator``: serve the local MMS until SIGINT or SIGTERM.

Prints the base URL (alone on one line) once it accepts requests.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

import uvicorn

from mms_pulumi.emulator.app import EmulatorApp, create_app
from mms_pulumi.emulator.faults import FaultSettings
from mms_pulumi.emulator.middleware import CONSOLE_PREFIX
from mms_pulumi.emulator.scoring_rules import OneServicePort
from mms_pulumi.emulator.settings import (
    DEFAULT_LOG_LEVEL,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_PAGE_SIZE,
    FILE_ROOTS_ENV,
    LOG_LEVELS,
    EmulatorSettings,
    default_file_roots,
)
from mms_pulumi.emulator.wire import GracefulServer, SeedErrorH11Protocol, serve_accepted
from mms_pulumi.local import (
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_OPERATION_SECONDS,
    DEFAULT_PORT,
)


def build_parser() -> argparse.ArgumentParser:
    """The command line; the docs' flag table is made from it (``scripts/docs_tables.py``)."""
    parser = argparse.ArgumentParser(
        prog="mms-emulator", description="Local Azure ML Model Management Service (2017 API)."
    )
    parser.add_argument(
        "--host", metavar="ADDRESS", default=DEFAULT_HOST, help="address to bind (default loopback)"
    )
    parser.add_argument(
        "--port", metavar="PORT", type=int, default=DEFAULT_PORT, help="0 picks a free port"
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        type=Path,
        default=Path(DEFAULT_DATA_DIR),
        help="SQLite database, image bundles and logs (created if missing)",
    )
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help=f"accept only this bearer token (default: ${TOKEN_ENV}, else any); visible in "
        "the process list, so prefer --token-file or the environment",
    )
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        type=Path,
        help="read the token from this file (its first line)",
    )
    parser.add_argument(
        "--operation-seconds",
        metavar="S",
        type=float,
        default=DEFAULT_OPERATION_SECONDS,
        help="how long an async operation takes before it completes",
    )
    parser.add_argument(
        "--page-size",
        metavar="N",
        type=int,
        default=DEFAULT_PAGE_SIZE,
        help="answer lists as {value, nextLink} pages of N (0: bare arrays, as the seed)",
    )
    parser.add_argument(
        "--max-body-bytes",
        metavar="N",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help="larger request bodies are answered 413, counted as they arrive on every route "
        "(MMS, control, scoring)",
    )
    parser.add_argument(
        "--no-scoring",
        action="store_true",
        help="do not start scoring processes for services (no scoringUri)",
    )
    parser.add_argument(
        "--file-root",
        metavar="DIR",
        dest="file_roots",
        type=Path,
        action="append",
        help="a directory file:// URLs may point into (repeatable; default: "
        f"${FILE_ROOTS_ENV}, else the working directory and the home directory)",
    )
    parser.add_argument(
        "--require-scoring-keys",
        action="store_true",
        help="refuse scoring requests without a service key (a wrong key is always refused)",
    )
    parser.add_argument(
        "--log-level",
        metavar="LEVEL",
        default=DEFAULT_LOG_LEVEL,
        type=str.lower,
        choices=LOG_LEVELS,
        help="access log and warnings on stderr",
    )
    faults = parser.add_argument_group("fault injection (tests)")
    faults.add_argument(
        "--fault-throttle-rate",
        metavar="R",
        type=float,
        default=0.0,
        help="fraction of MMS requests answered 429",
    )
    faults.add_argument(
        "--fault-retry-after",
        metavar="S",
        type=float,
        default=None,
        help="Retry-After seconds on injected 429 and 503 (default: no header)",
    )
    faults.add_argument(
        "--fault-unavailable-rate",
        metavar="R",
        type=float,
        default=0.0,
        help="fraction of MMS requests answered 503",
    )
    faults.add_argument(
        "--fault-fail-operations",
        metavar="N",
        type=int,
        default=0,
        help="the next N async operations end Failed",
    )
    faults.add_argument(
        "--fault-delay",
        metavar="S",
        type=float,
        default=0.0,
        help="hold every MMS answer back S seconds",
    )
    faults.add_argument(
        "--fault-seed",
        metavar="N",
        type=int,
        default=None,
        help="seed of the fault dice (repeatable runs)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, checked beyond what argparse checks."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.operation_seconds < 0:
        parser.error("--operation-seconds must be 0 or more")
    if args.page_size < 0:
        parser.error("--page-size must be 0 (bare arrays) or more")
    if args.max_body_bytes <= 0:
        parser.error("--max-body-bytes must be positive")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    return args


TOKEN_ENV = "MMS_EMULATOR_TOKEN"


def resolve_token(
    flag: str | None, token_file: Path | None, environ: Mapping[str, str]
) -> str | None:
    """The token to require: ``--token``, else ``--token-file``, else ``$MMS_EMULATOR_TOKEN``,
    else none (any token is accepted). Raises ``ValueError`` naming what is wrong."""
    if flag is not None and token_file is not None:
        raise ValueError("give --token or --token-file, not both")
    if token_file is not None:
        try:
            lines = token_file.read_text().splitlines()
        except OSError as err:
            raise ValueError(f"--token-file {token_file}: {err.strerror or err}") from None
        token = lines[0].strip() if lines else ""
        if not token:
            raise ValueError(f"--token-file {token_file}: the file holds no token")
        return token
    if flag is not None:
        if not flag.strip():
            raise ValueError("--token must not be empty")
        return flag.strip()
    return environ.get(TOKEN_ENV, "").strip() or None


def main(argv: list[str] | None = None) -> int:
    """Run the emulator in the foreground."""
    args = parse_args(argv)

    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        faults = FaultSettings.from_json(
            {
                "throttle_rate": args.fault_throttle_rate,
                "retry_after": args.fault_retry_after,
                "unavailable_rate": args.fault_unavailable_rate,
                "fail_next_operations": args.fault_fail_operations,
                "delay_seconds": args.fault_delay,
                "seed": args.fault_seed,
            }
        )
    except ValueError as err:
        print(f"mms-emulator: {err}", file=sys.stderr)
        return 2
    try:
        token = resolve_token(args.token, args.token_file, os.environ)
    except ValueError as err:
        print(f"mms-emulator: {err}", file=sys.stderr)
        return 2
    settings = EmulatorSettings(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        token=token,
        operation_seconds=args.operation_seconds,
        page_size=args.page_size,
        max_body_bytes=args.max_body_bytes,
        faults=faults,
        run_services=not args.no_scoring,
        require_scoring_keys=args.require_scoring_keys,
        file_roots=tuple(args.file_roots or default_file_roots(os.environ)),
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        http=SeedErrorH11Protocol,
        # No proxy sits in front of the emulator: a client's X-Forwarded-* says nothing true.
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
    server = AnnouncingServer(config, settings)
    server.run()
    return 0


class AnnouncingServer(GracefulServer):
    """A uvicorn server that prints the base URL once its socket is bound, then the
    console's link."""

    def __init__(self, config: uvicorn.Config, settings: EmulatorSettings) -> None:
        super().__init__(config)
        self._settings = settings

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does, then announce where we listen."""
        await super().startup(sockets)
        if self.started:
            self._stand_in_for_scoring_ports()
            port = self.servers[0].sockets[0].getsockname()[1]
            self._settings.base_url = base_url(self.config.host, port)
            # The first line is the URL alone (``EmulatorProcess`` and scripts read it).
            print(self._settings.base_url, flush=True)
            print(f"console: {self._settings.base_url}{CONSOLE_PREFIX}/", flush=True)

    def _stand_in_for_scoring_ports(self) -> None:
        """Let the services' scoring ports hand this server what no replica can serve: its
        scoring road answers why (restarting, failed) or forwards the call."""
        loop = asyncio.get_running_loop()
        app = self.config.app
        assert isinstance(app, EmulatorApp)  # what ``main`` gave it
        ports = app.state.emulator.host.ports

        def protocol(service_id: str) -> asyncio.Protocol:
            served = SeedErrorH11Protocol(
                config=self.config, server_state=self.server_state, app_state=self.lifespan.state
            )
            served.app = OneServicePort(service_id, served.app)  # its scoring calls only
            return served

        ports.stand_in = lambda service_id, connection: loop.call_soon_threadsafe(
            serve_accepted, loop, functools.partial(protocol, service_id), connection
        )


def base_url(host: str, port: int) -> str:
    """The URL to reach a server bound to ``host``: a wildcard address means this machine."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


if __name__ == "__main__":
    sys.exit(main())
