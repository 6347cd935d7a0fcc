"""The floor of the scoring benchmark: a bare uvicorn app calling a driver's ``run()``
in-process, with nothing between the socket and the driver but JSON.

    python -m benchmarks.scoring_floor --bundle DIR --driver score.py --port N
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

Scope = dict[str, Any]


def load(bundle: Path, driver: str) -> Any:
    """Import the driver from its bundle (working directory and path), and ``init()`` it."""
    os.chdir(bundle)
    sys.path.insert(0, str(bundle))
    spec = importlib.util.spec_from_file_location("floor_driver", bundle / driver)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    return module


def app_for(module: Any) -> Any:
    """The ASGI app: POST any path → ``run(json)`` → JSON."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = json.dumps(module.run(json.loads(b"".join(chunks) or b"null"))).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--driver", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = app_for(load(args.bundle.resolve(), args.driver))
    # h11, as the emulator runs: the comparison is of what sits around the driver.
    uvicorn.run(app, host="127.0.0.1", port=args.port, http="h11", log_level="warning")


if __name__ == "__main__":
    main()
