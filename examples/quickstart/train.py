"""Train the quickstart's churn model: logistic regression in pure Python, no downloads.

The data is synthetic but not random noise: customers with short tenure, high monthly
charges and many support calls churn more often. Run ``python train.py`` to rebuild
``churn-model.json``; the same seed gives the same file.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

FEATURES = ("tenure_months", "monthly_charges", "support_calls")
SEED = 7
SAMPLES = 2000
EPOCHS = 400
LEARNING_RATE = 0.5


def synthesize(rng: random.Random) -> tuple[list[list[float]], list[int]]:
    """Customers and whether each churned, drawn from a known logistic relationship."""
    rows, labels = [], []
    for _ in range(SAMPLES):
        tenure = rng.uniform(0, 72)
        charges = rng.uniform(20, 120)
        calls = float(rng.randint(0, 8))
        logit = -1.0 - 0.06 * tenure + 0.03 * charges + 0.45 * calls
        churned = rng.random() < 1 / (1 + math.exp(-logit))
        rows.append([tenure, charges, calls])
        labels.append(int(churned))
    return rows, labels


def train(rows: list[list[float]], labels: list[int]) -> dict[str, object]:
    """Batch gradient descent on standardised features."""
    columns = list(zip(*rows, strict=True))
    means = [sum(c) / len(c) for c in columns]
    stds = [
        math.sqrt(sum((x - m) ** 2 for x in c) / len(c)) or 1.0
        for c, m in zip(columns, means, strict=True)
    ]
    scaled = [[(x - m) / s for x, m, s in zip(row, means, stds, strict=True)] for row in rows]
    weights, bias = [0.0] * len(FEATURES), 0.0
    for _ in range(EPOCHS):
        grad_w, grad_b = [0.0] * len(FEATURES), 0.0
        for row, label in zip(scaled, labels, strict=True):
            error = (
                1 / (1 + math.exp(-(sum(w * x for w, x in zip(weights, row, strict=True)) + bias)))
                - label
            )
            grad_w = [g + error * x for g, x in zip(grad_w, row, strict=True)]
            grad_b += error
        weights = [w - LEARNING_RATE * g / len(rows) for w, g in zip(weights, grad_w, strict=True)]
        bias -= LEARNING_RATE * grad_b / len(rows)
    predictions = [
        (1 / (1 + math.exp(-(sum(w * x for w, x in zip(weights, row, strict=True)) + bias)))) >= 0.5
        for row in scaled
    ]
    accuracy = sum(int(p) == y for p, y in zip(predictions, labels, strict=True)) / len(labels)
    return {
        "features": list(FEATURES),
        "means": [round(m, 6) for m in means],
        "stds": [round(s, 6) for s in stds],
        "weights": [round(w, 6) for w in weights],
        "bias": round(bias, 6),
        "training_accuracy": round(accuracy, 4),
    }


def main() -> None:
    """Train and write churn-model.json beside this file."""
    rows, labels = synthesize(random.Random(SEED))
    model = train(rows, labels)
    path = Path(__file__).with_name("churn-model.json")
    path.write_text(json.dumps(model, indent=2) + "\n")
    print(f"wrote {path.name}: training accuracy {model['training_accuracy']:.1%}")


if __name__ == "__main__":
    main()
