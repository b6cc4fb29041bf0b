"""Typed results. One JSON shape, used by every renderer (and later by the report and the web API).

Money is exact: :class:`decimal.Decimal` in Python, a decimal string in JSON ("1234.50").
Ratios are floats; an undefined ratio (a share of a total that is not positive, the normalized
HHI of one entity) is ``None``/``null``, never NaN.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from topshare.money import normalize

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TopRow:
    rank: int
    entity: str
    value: Decimal
    share: float | None
    cumulative_share: float | None
    abc: str | None
    major: bool


@dataclass(frozen=True)
class Others:
    entities: int
    value: Decimal
    share: float | None


@dataclass(frozen=True)
class Concentration:
    """CR_k: the sum and share of the k largest entities."""

    k: int
    sum: Decimal
    share: float | None


@dataclass(frozen=True)
class Pareto:
    threshold: float
    k: int | None
    fraction: float | None


@dataclass(frozen=True)
class Entropy:
    shannon: float | None
    normalized: float | None
    exp: float | None


@dataclass(frozen=True)
class EntityValue:
    entity: str
    value: Decimal
    share: float | None = None


@dataclass(frozen=True)
class Population:
    """The entities the indices are computed over (net total >= 0)."""

    entities: int
    sum: Decimal


@dataclass(frozen=True)
class Negative:
    entities: int
    sum: Decimal
    most_negative: list[EntityValue]


@dataclass(frozen=True)
class Example:
    file: str
    line: int | None
    entity: str | None
    value: str | None
    date: str | None = None


@dataclass(frozen=True)
class Rejection:
    reason: str
    description: str
    rows: int
    amount: Decimal | None
    unreadable: int
    examples: list[Example]


@dataclass(frozen=True)
class Rows:
    read: int
    analysed: int
    rejected: int
    rejected_by_reason: list[Rejection]


@dataclass(frozen=True)
class Money:
    """Reconciliation: ``in`` = ``analysed`` + ``rejected`` (the amounts that could be read);
    rows whose amount could not be read at all are counted in ``unreadable_rows``."""

    in_: Decimal
    analysed: Decimal
    rejected: Decimal
    unreadable_rows: int
    reconciled: bool


@dataclass(frozen=True)
class Columns:
    entity: str
    value: str | None
    date: str | None
    measure: str
    detected: dict[str, str]


@dataclass(frozen=True)
class SourceInfo:
    paths: list[str]
    format: str
    files: int
    delimiter: str | None
    header: bool | None


@dataclass(frozen=True)
class DateRange:
    first: datetime
    last: datetime


@dataclass(frozen=True)
class Labels:
    entity: str = "customer"
    entities: str = "customers"
    value: str = "revenue"

    def count(self, n: int) -> str:
        """'1 customer', '2,345 customers'."""
        return f"{n:,} {self.entity if n == 1 else self.entities}"


@dataclass(frozen=True)
class Analysis:
    """Everything topshare knows about one source. See docs/json.md for each field."""

    total: Decimal
    n_entities: int
    top_n: int
    top_n_sum: Decimal
    top_n_share: float | None
    tie_at_boundary: bool
    top: list[TopRow]
    others: Others
    cr: list[Concentration]
    hhi: float | None
    hhi_points: float | None
    hhi_normalized: float | None
    hhi_band: str | None
    hhi_bands: str
    effective_number: float | None
    gini: float | None
    gini_corrected: float | None
    theil: float | None
    entropy: Entropy
    pareto: Pareto
    lorenz: list[tuple[float, float]]
    index_population: Population
    negative: Negative
    major: list[EntityValue]
    rows: Rows
    money: Money
    columns: Columns
    source: SourceInfo
    date_range: DateRange | None
    labels: Labels = field(default_factory=Labels)
    warnings: list[str] = field(default_factory=list)
    scale: int = 2
    version: str = ""

    @property
    def top1_share(self) -> float | None:
        return self.top[0].share if self.top else None

    def to_dict(self) -> dict[str, Any]:
        """The public JSON contract as plain Python data (money as decimal strings)."""
        out = _plain(self, self.scale)
        assert isinstance(out, dict)
        out["money"]["in"] = out["money"].pop("in_")
        out = {"schema_version": SCHEMA_VERSION, "topshare_version": out.pop("version"), **out}
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def top_frame(self, others: bool = True) -> pd.DataFrame:
        """The top-N list as a pandas DataFrame (exact Decimal values), with the Others row."""
        import pandas as pd

        rows = [dataclasses.asdict(r) for r in self.top]
        if others and self.others.entities:
            rows.append(
                {
                    "rank": None,
                    "entity": f"Others ({self.others.entities:,})",
                    "value": self.others.value,
                    "share": self.others.share,
                    "cumulative_share": 1.0 if self.others.share is not None else None,
                    "abc": None,
                    "major": False,
                }
            )
        frame = pd.DataFrame(
            rows,
            columns=["rank", "entity", "value", "share", "cumulative_share", "abc", "major"],
        )
        return frame.astype({"rank": "Int64"})

    def _repr_html_(self) -> str:
        from topshare.render.text import headline

        esc = html.escape
        body = "".join(
            f"<tr><td>{r.rank}</td><td>{esc(r.entity)}</td><td style='text-align:right'>"
            f"{_num(r.value, self.scale)}</td><td style='text-align:right'>{_pct(r.share)}</td>"
            f"<td style='text-align:right'>{_pct(r.cumulative_share)}</td><td>{r.abc or ''}</td></tr>"
            for r in self.top
        )
        if self.others.entities:
            body += (
                f"<tr><td></td><td><i>Others ({self.others.entities:,})</i></td>"
                f"<td style='text-align:right'>{_num(self.others.value, self.scale)}</td>"
                f"<td style='text-align:right'>{_pct(self.others.share)}</td><td></td><td></td></tr>"
            )
        facts = (
            f"HHI {_fmt(self.hhi_points, 0)} ({esc(self.hhi_band or 'n/a')}) · Gini {_fmt(self.gini, 3)}"
            f" · effective number {_fmt(self.effective_number, 1)} · rows analysed "
            f"{self.rows.analysed:,}, rejected {self.rows.rejected:,}"
        )
        return (
            f"<div><p><b>{esc(headline(self))}</b></p><p>{facts}</p>"
            f"<table><thead><tr><th>#</th><th>{esc(self.labels.entity)}</th>"
            f"<th>{esc(self.labels.value)}</th><th>share</th><th>cumulative</th><th>ABC</th></tr>"
            f"</thead><tbody>{body}</tbody></table></div>"
        )


def _fmt(x: float | None, places: int) -> str:
    return "n/a" if x is None else f"{x:,.{places}f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _num(v: Decimal, scale: int) -> str:
    return f"{normalize(v, scale=scale):,}"


def _plain(obj: Any, scale: int) -> Any:
    """Dataclasses to dicts, Decimal to exact strings, datetimes to ISO 8601, NaN to None."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name), scale) for f in dataclasses.fields(obj)}
    if isinstance(obj, Decimal):
        return str(normalize(obj, scale=scale))
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, (list, tuple)):
        return [_plain(x, scale) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _plain(v, scale) for k, v in obj.items()}
    return obj
