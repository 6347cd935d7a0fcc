"""Driver program of the replicas example: flags customers over a charge threshold and says
which replica (scoring process) answered, so two replicas are visible."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

_rule: dict[str, Any] = {}


def init() -> None:
    """Load the threshold shipped in the image (the working directory holds it)."""
    _rule.update(json.loads(Path("threshold.json").read_text()))


def run(input: Any) -> dict[str, Any]:
    """``{"customers": [{"monthly_charges": 95.0}, ...]}`` → a flag per customer."""
    if isinstance(input, str | bytes):
        input = json.loads(input)
    customers = input.get("customers") if isinstance(input, dict) else None
    if not isinstance(customers, list):
        raise ValueError('input must be {"customers": [{"monthly_charges": ...}, ...]}')
    feature, threshold = _rule["feature"], float(_rule["threshold"])
    flags = [float(customer.get(feature, 0.0)) > threshold for customer in customers]
    return {"over_threshold": flags, "replica": os.getpid()}
