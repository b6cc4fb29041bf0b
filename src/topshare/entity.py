"""One entity over the scope of a query: its total, share and rank, overall and per period.

Computed in the engine straight from the explorer's cells (:mod:`topshare.explore`): the
per-entity totals of each group of the scope, and the entity's rank among them (value
descending, key ascending, as everywhere in topshare).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt

from topshare.money import WIDE


@dataclass(frozen=True)
class EntityPeriod:
    """One entity in one period: its total, its share of the period's total, its rank."""

    period: date
    label: str
    value: Decimal
    share: float | None
    rank: int | None  # 1-based among the period's entities (value desc, key asc); None: absent
    in_top_n: bool


@dataclass(frozen=True)
class EntitySeries:
    """One entity over the scope of a query: overall and per period (when a period is given)."""

    entity: str
    value: Decimal
    share: float | None
    rank: int | None
    rows: int
    n_entities: int
    top_n: int
    in_top_n: bool
    period: str | None
    periods: list[EntityPeriod] | None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["value"] = str(self.value)
        for p in out["periods"] or []:
            p["period"] = p["period"].isoformat()
            p["value"] = str(p["value"])
        return out


def rank_in(inside: Any, key: str, unit: str | None, scale: int) -> list[dict[str, Any]]:
    """Per group (one period of ``unit``, or the whole scope): its total and number of
    entities, the entity's units and rows, and its rank (None where it has no rows)."""
    cols: dict[str, Any] = {"key": inside.key, "value": inside.value, "rows": inside.rows}
    by = []
    if unit is not None:
        cols["period"] = inside.day.truncate(unit).cast(dt.date)
        by = ["period"]
    t = inside.select(**cols)
    per = t.group_by([*by, "key"]).aggregate(v=t.value.sum(), r=t.rows.sum())
    mine = per.filter(per.key == key)
    me = mine.select(*by, mv=mine.v, mr=mine.r)
    j = per.left_join(me, by) if by else per.cross_join(me) if _has(me) else None
    if j is None:  # the entity has no row in the scope: only the totals
        res = per.aggregate(total=per.v.sum(), n=per.count())
        rows = res.to_pyarrow().to_pylist()
        return [{**r, "units": 0, "rows": 0, "rank": None, "total": _u(r["total"], scale)}
                for r in rows if r["n"]]  # fmt: skip
    ahead = (j.v > j.mv) | ((j.v == j.mv) & (j.key < key))
    sums = {"total": j.v.sum(), "n": j.count(), "ahead": ibis.cases((ahead, 1), else_=0).sum(),
            "mv": j.mv.max(), "mr": j.mr.max()}  # fmt: skip
    res = j.group_by(by).aggregate(**sums) if by else j.aggregate(**sums)
    out = []
    for r in res.to_pyarrow().to_pylist():
        if isinstance(r.get("period"), datetime):
            r["period"] = r["period"].date()
        present = r["mv"] is not None
        out.append({
            **r,
            "units": _u(r["mv"], scale) if present else 0,
            "rows": int(r["mr"] or 0),
            "rank": int(r["ahead"]) + 1 if present else None,
            "total": _u(r["total"], scale),
        })  # fmt: skip
    return out


def _has(table: Any) -> bool:
    return bool(table.limit(1).to_pyarrow().num_rows)


def _u(value: Decimal | None, scale: int) -> int:
    return int(value.scaleb(scale, WIDE)) if value is not None else 0
