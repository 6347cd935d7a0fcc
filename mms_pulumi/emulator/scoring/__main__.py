"""Run a scoring process: ``python -m mms_pulumi.emulator.scoring --bundle DIR --driver F``.

With ``--check`` it only loads the driver and checks the contract (exit 0, or 2 with the
reason on stderr). Otherwise it calls ``init()`` once, then serves on loopback and prints
``{"port": N}`` on stdout once healthy; a failing ``init()`` exits 3 with the traceback's
last line on stderr. SIGTERM drains in-flight requests and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
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
from mms_pulumi.emulator.scoring.server import ScoringServer

EXIT_BAD_DRIVER = 2
EXIT_INIT_FAILED = 3


def main(argv: list[str] | None = None) -> int:
    """Entry point of the scoring process."""
    parser = argparse.ArgumentParser(prog="python -m mms_pulumi.emulator.scoring")
    parser.add_argument("--bundle", type=Path, required=True, help="the image bundle directory")
    parser.add_argument("--driver", required=True, help="file name of the driver program")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--name", default="service", help="service name for swagger.json")
    parser.add_argument("--check", action="store_true", help="only check the driver")
    args = parser.parse_args(argv)

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
    server = ScoringServer((args.host, args.port), driver, swagger)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever returns, so it cannot run on this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
