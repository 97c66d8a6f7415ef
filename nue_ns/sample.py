"""Deterministic sample billing data for the demo, the tests and the benchmarks."""

from __future__ import annotations

import random
from typing import Any

PRODUCT_TYPES = ("subscription", "entitlement", "asset")
CATEGORIES = ("Enterprise", "SMB", "Training")


def customers(n: int, seed: int = 1, prefix: str = "CUST") -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        person = rnd.random() < 0.2
        c: dict[str, Any] = {
            "id": f"{prefix}-{i:05d}",
            "name": f"Customer {i:05d} {'Ltd' if not person else ''}".strip(),
            "email": f"billing{i}@example.com",
            "currency": "USD",
        }
        if person:
            c |= {"is_person": True, "first_name": f"Pat{i}", "last_name": "Doe"}
        out.append(c)
    return out


def products(n: int, seed: int = 2, prefix: str = "PROD") -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(1, n + 1):
        ptype = PRODUCT_TYPES[(i - 1) % 3]
        p: dict[str, Any] = {
            "id": f"{prefix}-{i:04d}",
            "sku": f"SKU-{i:04d}",
            "name": f"{ptype.title()} product {i}",
            "product_type": ptype,
        }
        if rnd.random() < 0.5:
            p["category"] = rnd.choice(CATEGORIES)
        out.append(p)
    return out
