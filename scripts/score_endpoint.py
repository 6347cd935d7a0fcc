"""Score a deployed service once and print the answer.

    scripts/pulumi stack output --json --show-secrets | python scripts/score_endpoint.py INPUT.json

Reads the stack's outputs from stdin (``scoring_uri`` and, when the service has keys,
``primary_key``), so the key never appears in a command line or in what is printed. Sends
INPUT.json to the scoring URI with the key as a bearer token and prints the status, the time
it took and the answer. Exits 1 when the service does not answer 200.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import requests


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    outputs = json.load(sys.stdin)
    uri = outputs.get("scoring_uri")
    if not isinstance(uri, str) or not uri:
        print("score_endpoint: the stack has no scoring_uri output", file=sys.stderr)
        return 1
    body = Path(argv[0]).read_bytes()
    headers = {"Content-Type": "application/json"}
    key = outputs.get("primary_key")
    if isinstance(key, str) and key:
        headers["Authorization"] = f"Bearer {key}"
    with requests.Session() as session:
        session.trust_env = False  # no proxy or ~/.netrc from the environment
        started = time.perf_counter()
        answer = session.post(uri, data=body, headers=headers, timeout=30, allow_redirects=False)
        took = (time.perf_counter() - started) * 1000
    print(f"POST {uri} with {argv[0]}: {answer.status_code} in {took:.0f} ms")
    print(answer.text[:4000])
    return 0 if answer.status_code == 200 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
