"""Run a scoring process: ``python -m mms_pulumi.emulator.scoring --bundle DIR --driver F``.

With ``--check`` it only loads the driver and checks the contract (exit 0, or 2 with the
reason on stderr). Otherwise it is the emulator's: it reads its settings from the link
(``--link-fd``, ``handoff``), calls ``init()`` once, says ``READY`` on the link and serves
the connections the emulator hands it there (``server``); a failing ``init()`` exits 3
with the traceback's last line on stderr. SIGTERM drains in-flight requests and exits 0,
and so does the link closing (the emulator is gone).

Its stdout and stderr are the service's log: the driver's own prints land there, and
one access line per call. ``--parent-pid``: it stops when the emulator is gone.

The process started is a keeper (``keeper``) that runs no driver code; the driver runs in
the worker it forks, and nothing the driver starts outlives the keeper.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import traceback
from pathlib import Path
from typing import Any

from mms_pulumi.emulator.handoff import BusyTable, LinkClosed, receive_settings
from mms_pulumi.emulator.scoring.driver import (
    Driver,
    DriverError,
    find_schema,
    last_line,
    load_driver,
    swagger_document,
)
from mms_pulumi.emulator.scoring.keeper import keep, watch_parent

EXIT_BAD_DRIVER = 2
EXIT_INIT_FAILED = 3
EXIT_NO_SETTINGS = 5


def main(argv: list[str] | None = None) -> int:
    """Entry point of the scoring process: the keeper, then the worker under it."""
    parser = argparse.ArgumentParser(prog="python -m mms_pulumi.emulator.scoring")
    parser.add_argument("--bundle", type=Path, required=True, help="the image bundle directory")
    parser.add_argument("--driver", required=True, help="file name of the driver program")
    parser.add_argument("--name", default="service", help="service name for swagger.json")
    parser.add_argument("--check", action="store_true", help="only check the driver")
    parser.add_argument("--link-fd", type=int, help="the emulator's link (inherited)")
    parser.add_argument("--busy-fd", type=int, help="the busy table (inherited)")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    args = parser.parse_args(argv)
    if not args.check and (args.link_fd is None or args.busy_fd is None):
        parser.error("--link-fd and --busy-fd are required unless --check")
    worker_only = [fd for fd in (args.link_fd, args.busy_fd) if fd is not None]
    return keep(lambda: serve(args), args.parent_pid, worker_only=worker_only)


def serve(args: argparse.Namespace) -> int:
    """The worker: load the driver, check it or ``init()`` it, and serve."""
    # The keeper gone (killed): nothing is left to answer to. Watched before the driver
    # loads, so a hanging ``init()`` does not keep this process running.
    watch_parent(os.getppid(), lambda: os._exit(1), name="watch-keeper")
    link: socket.socket | None = None
    if not args.check:
        # Neither is inherited by what the driver starts.
        os.set_inheritable(args.link_fd, False)
        os.set_inheritable(args.busy_fd, False)
        link = socket.socket(fileno=args.link_fd)
        try:
            settings = receive_settings(link)
        except (LinkClosed, ValueError) as err:
            print(f"no settings from the emulator: {err}", file=sys.stderr, flush=True)
            return EXIT_NO_SETTINGS
    bundle = args.bundle.resolve()
    os.chdir(bundle)
    sys.path.insert(0, str(bundle))
    try:
        driver = load_driver(bundle, args.driver)
    except DriverError as err:
        print(str(err), file=sys.stderr, flush=True)
        return EXIT_BAD_DRIVER
    if link is None:
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
    return _serve(link, BusyTable(args.busy_fd), settings, driver, swagger)


def _serve(
    link: socket.socket,
    busy: BusyTable,
    document: dict[str, Any],
    driver: Driver,
    swagger: dict[str, Any] | None,
) -> int:
    # Imported once the driver has loaded: the checks above stay quick.
    from mms_pulumi.emulator.scoring.server import (
        ReplicaApp,
        ReplicaServer,
        ReplicaState,
        ScoringEndpoint,
        replica_config,
    )
    from mms_pulumi.emulator.scoring_rules import KeyRule
    from mms_pulumi.emulator.settings import EmulatorSettings
    from mms_pulumi.emulator.store import ScoringIndex

    settings, service_id = EmulatorSettings.from_replica(document)
    _log_access_lines()
    index = ScoringIndex(settings.database)
    rule = KeyRule(settings.token, settings.require_scoring_keys)
    endpoint = ScoringEndpoint(service_id, driver, swagger, index, rule, busy)
    server = ReplicaServer(replica_config(ReplicaApp(endpoint, ReplicaState(settings))), link, busy)
    try:
        server.run()
    finally:
        index.close()
    return 0


def _log_access_lines() -> None:
    """The emulator's access lines (and its rules' errors) go to the service's log; the
    driver's own logging is left as it set it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("mms_pulumi.emulator", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


if __name__ == "__main__":
    sys.exit(main())
