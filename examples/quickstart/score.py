"""Driver program of the churn quickstart: MMS calls ``init()`` once, then ``run(input)``.

Input: ``{"customers": [{"tenure_months": 3, "monthly_charges": 95.0, "support_calls": 4}]}``
Output: ``{"churn_probability": [0.87], "churn": [true]}``
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

MODEL_FILE = "churn-model.json"

_model: dict[str, Any] = {}


def init() -> None:
    """Load the model shipped in the image (the working directory holds the model files)."""
    _model.clear()
    _model.update(json.loads(Path(MODEL_FILE).read_text()))


def run(input: Any) -> dict[str, list[Any]]:
    """Score each customer; raises ValueError naming what is missing from the input."""
    if isinstance(input, str | bytes):
        input = json.loads(input)
    customers = input.get("customers") if isinstance(input, dict) else None
    if not isinstance(customers, list):
        raise ValueError('input must be {"customers": [{"tenure_months": ..., ...}, ...]}')
    probabilities = [round(_probability(customer), 4) for customer in customers]
    return {"churn_probability": probabilities, "churn": [p >= 0.5 for p in probabilities]}


def _probability(customer: dict[str, Any]) -> float:
    missing = [name for name in _model["features"] if name not in customer]
    if missing:
        raise ValueError(f"customer is missing {', '.join(missing)}")
    logit = _model["bias"] + sum(
        weight * (float(customer[name]) - mean) / std
        for name, weight, mean, std in zip(
            _model["features"], _model["weights"], _model["means"], _model["stds"], strict=True
        )
    )
    return 1 / (1 + math.exp(-logit))
