"""Run a scoring process: ``python -m mms_pulumi.emulator.scoring --bundle DIR --driver F``.

With ``--check`` it only loads the driver and checks the contract (exit 0, or 2 with the
reason on stderr). Otherwise it calls ``init()`` once, then serves on loopback and says
``{"port": N, "secret": S}`` once healthy (every call must send ``S`` in
``server.SECRET_HEADER``); a failing ``init()`` exits 3 with the traceback's
last line on stderr. SIGTERM drains in-flight requests and exits 0.

Started by the emulator, it gets ``--port-file`` (the port and secret go there, readable
by its user only, so stdout is free for the driver's own prints, which land in the
service's log with stderr) and ``--parent-pid`` (it stops when the emulator is gone).

The process started is a keeper (``keeper``) that runs no driver code; the driver runs in
the worker it forks, and nothing the driver starts outlives the keeper.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import threading
import traceback
from pathlib import Path
from types import FrameType

from mms_pulumi.emulator.scoring.driver import (
    DriverError,
    find_schema,
    last_line,
    load_driver,
    swagger_document,
)
from mms_pulumi.emulator.scoring.keeper import keep, watch_parent
from mms_pulumi.emulator.scoring.server import ScoringServer

EXIT_BAD_DRIVER = 2
EXIT_INIT_FAILED = 3


def main(argv: list[str] | None = None) -> int:
    """Entry point of the scoring process: the keeper, then the worker under it."""
    parser = argparse.ArgumentParser(prog="python -m mms_pulumi.emulator.scoring")
    parser.add_argument("--bundle", type=Path, required=True, help="the image bundle directory")
    parser.add_argument("--driver", required=True, help="file name of the driver program")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--name", default="service", help="service name for swagger.json")
    parser.add_argument("--check", action="store_true", help="only check the driver")
    parser.add_argument("--port-file", type=Path, help="where to write {port} once ready")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    args = parser.parse_args(argv)
    return keep(lambda: serve(args), args.parent_pid)


def serve(args: argparse.Namespace) -> int:
    """The worker: load the driver, check it or ``init()`` it, and serve."""
    # The keeper gone (killed): nothing is left to answer to. Watched before the driver
    # loads, so a hanging ``init()`` does not keep this process running.
    watch_parent(os.getppid(), lambda: os._exit(1), name="watch-keeper")
    bundle = args.bundle.resolve()
    os.chdir(bundle)
    sys.path.insert(0, str(bundle))
    try:
        driver = load_driver(bundle, args.driver)
    except DriverError as err:
        print(str(err), file=sys.stderr, flush=True)
        return EXIT_BAD_DRIVER
    if args.check:
        print(json.dumps({"driver": args.driver, "ok": True}), flush=True)
        return 0
    try:
        driver.init()
    except BaseException as err:  # user code
        traceback.print_exc(file=sys.stderr)
        print(f"init() failed: {last_line(err)}", file=sys.stderr, flush=True)
        return EXIT_INIT_FAILED

    schema = find_schema(bundle)
    swagger = swagger_document(schema, args.name) if schema is not None else None
    secret = secrets.token_urlsafe(32)
    server = ScoringServer((args.host, args.port), driver, swagger, secret=secret)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever returns, so it cannot run on this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    announce(server.server_address[1], secret, args.port_file)
    server.serve_forever(poll_interval=0.1)
    server.close_idle()  # kept-alive connections waiting for a next request end now
    server.server_close()
    return 0


def announce(port: int, secret: str, port_file: Path | None) -> None:
    """Say the process is ready: its port and secret in ``port_file`` (written whole, for
    its user only, then renamed into place), or on stdout when run by hand."""
    document = json.dumps({"port": port, "secret": secret})
    if port_file is None:
        print(document, flush=True)
        return
    partial = port_file.with_name(port_file.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(document)
    partial.replace(port_file)


if __name__ == "__main__":
    sys.exit(main())
