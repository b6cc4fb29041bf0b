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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

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
    out_of_range: int = 0  # valid rows outside --from/--to/--last: neither analysed nor rejected


@dataclass(frozen=True)
class Money:
    """Reconciliation: ``in`` = ``analysed`` + ``rejected`` + ``out_of_range`` (the amounts
    that could be read); rows whose amount could not be read at all are counted in
    ``unreadable_rows``."""

    in_: Decimal
    analysed: Decimal
    rejected: Decimal
    unreadable_rows: int
    reconciled: bool
    out_of_range: Decimal = Decimal(0)


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
class Scope:
    """What part of the data was analysed: the date window (inclusive days, in ``tz``), the
    period unit of the series and the segment columns."""

    period: str | None
    first_day: date | None
    last_day: date | None
    last: str | None  # the --last spec the window came from, if any
    tz: str
    segments: list[list[str]]


@dataclass(frozen=True)
class Slice:
    """The headline metrics of one part of the data (a period, a segment value, or both), as
    in the top level of :class:`Analysis` (same definitions, same names)."""

    _json_first: ClassVar[tuple[str, ...]] = ()

    total: Decimal
    rows: int
    n_entities: int
    top_n_sum: Decimal
    top_n_share: float | None
    tie_at_boundary: bool
    top: list[TopRow]
    others: Others
    hhi: float | None
    hhi_points: float | None
    hhi_normalized: float | None
    hhi_band: str | None
    effective_number: float | None
    gini: float | None
    gini_corrected: float | None
    theil: float | None
    pareto: Pareto
    major: list[EntityValue]
    negative: Negative

    @property
    def top1_share(self) -> float | None:
        return self.top[0].share if self.top else None


@dataclass(frozen=True)
class Mover:
    """An entity that entered, left or stayed in the top N between two consecutive periods.
    Ranks are 1-based within the top N (None: not in it); shares are of each period's total."""

    entity: str
    rank: int | None
    previous_rank: int | None
    value: Decimal
    previous_value: Decimal
    share: float | None
    previous_share: float | None


@dataclass(frozen=True)
class ShareChange:
    """Top-N share of this period minus the previous one's, and its exact decomposition:
    ``total = entered - left + stayed`` (each term is a sum of shares; see docs/formulas.md)."""

    total: float | None
    entered: float | None
    left: float | None
    stayed: float | None


@dataclass(frozen=True, kw_only=True)
class Period(Slice):
    _json_first: ClassVar[tuple[str, ...]] = ("period", "label")

    period: date
    label: str
    entered: list[Mover] | None  # None for the first period of a series
    left: list[Mover] | None
    stayed: list[Mover] | None
    share_change: ShareChange | None


@dataclass(frozen=True, kw_only=True)
class Segment(Slice):
    _json_first: ClassVar[tuple[str, ...]] = ("segment",)

    segment: dict[str, str | None]
    periods: list[Period] | None = None


@dataclass(frozen=True)
class TheilSplit:
    """Theil T over (segment, entity) cells = between + within (exact). ``nested`` is true when
    every entity falls in one segment value only: the cells are then the entities and ``theil``
    is the overall Theil T."""

    by: list[str]
    theil: float | None
    between: float | None
    within: float | None
    nested: bool


@dataclass(frozen=True)
class EntityCount:
    entity: str
    count: int


@dataclass(frozen=True)
class Traffic:
    """What an access-log analysis adds: the format read, the lines that were not requests, the
    bots (their hits and bytes among all requests, before any bot filter) and the visitors of
    the top entities (distinct IP + user agent per day: not additive, so shown per row but never
    summed, shared or used by an index)."""

    format: str
    format_spec: str
    dimension: str
    measure: str
    lines: int
    blank_lines: int
    directive_lines: int
    bots: str  # include, exclude or only
    all_hits: int
    all_bytes: int
    bot_hits: int
    bot_bytes: int
    bot_share_hits: float | None
    bot_share_bytes: float | None
    visitors: list[EntityCount]
    note: str = "visitors are not additive: shown per entity, never summed or used for shares"


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
    scope: Scope | None = None
    periods: list[Period] | None = None
    segments: list[Segment] | None = None
    theil_decomposition: list[TheilSplit] | None = None
    traffic: Traffic | None = None

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


def json_names(cls: type) -> tuple[str, ...]:
    """The JSON keys of a result dataclass, in order (its ``_json_first`` keys first)."""
    first = getattr(cls, "_json_first", ())
    return (*first, *(f.name for f in dataclasses.fields(cls) if f.name not in first))


def _plain(obj: Any, scale: int, inner: Callable[[Any, int], Any] | None = None) -> Any:
    """Dataclasses to dicts, Decimal to exact strings, datetimes to ISO 8601, NaN to None;
    ``inner`` converts the parts (default: this function; the web app's kept conversions)."""
    part = inner or _plain
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {name: part(getattr(obj, name), scale) for name in json_names(type(obj))}
    if isinstance(obj, Decimal):
        return str(normalize(obj, scale=scale))
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, (list, tuple)):
        return [part(x, scale) for x in obj]
    if isinstance(obj, dict):
        return {str(k): part(v, scale) for k, v in obj.items()}
    return obj
