"""Helpers shared by the end-to-end case tests."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import topshare
from topshare.result import Analysis

D = Decimal
MONEY = re.compile(r"^-?\d+(\.\d+)?$")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def csv(tmp_path: Path, text: str, name: str = "sales.csv") -> Path:
    return write(tmp_path / name, text)


def run(path: Path | str | list[Path | str], **kw: Any) -> Analysis:
    return topshare.analyze(path, **kw)


def close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def top_pairs(r: Analysis) -> list[tuple[str, Decimal]]:
    return [(t.entity, t.value) for t in r.top]


def summary(r: Analysis) -> dict[str, Any]:
    """What must not depend on the file format (Decimals compare by value)."""
    return {
        "total": r.total,
        "n": r.n_entities,
        "top": top_pairs(r),
        "top_n_sum": r.top_n_sum,
        "others": (r.others.entities, r.others.value),
        "cr": [(c.k, c.sum) for c in r.cr],
        "hhi": r.hhi,
        "gini": r.gini,
        "theil": r.theil,
        "pareto": (r.pareto.k, r.pareto.fraction),
        "negative": (r.negative.entities, r.negative.sum),
        "population": (r.index_population.entities, r.index_population.sum),
        "rows": (r.rows.read, r.rows.analysed, r.rows.rejected),
        "money": (r.money.in_, r.money.analysed, r.money.rejected, r.money.reconciled),
    }
