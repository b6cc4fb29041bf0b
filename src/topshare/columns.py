"""Column roles: which column is the entity (customer), the value (amount) and the date.

Roles come from the user's flags, else from common column names, else (for CSV files without a
header) from the content types the sniffer saw. The mapping used is always reported back, with
how each role was found. Types are checked here, before any query is built.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from topshare.errors import ColumnError

ENTITY_NAMES = (
    "customer_id", "customer", "customerid", "customer_no", "customer_number", "customer_code",
    "customer_name", "client_id", "client", "clientid", "client_name", "account_id", "account",
    "accountid", "account_number", "account_name", "cust_id", "cust", "custid", "buyer_id", "buyer",
    "company", "company_name", "entity", "entity_id", "member_id", "user_id", "partner", "party",
    "payer", "shopper_id", "store_id", "vendor", "supplier", "name",
)  # fmt: skip
AMOUNT_NAMES = (
    "amount", "revenue", "sales", "net_amount", "net_revenue", "net_sales", "net", "total",
    "total_amount", "order_total", "grand_total", "amount_usd", "amount_eur", "revenue_usd",
    "sales_amount", "invoice_amount", "invoice_total", "line_total", "subtotal", "gross",
    "gross_amount", "turnover", "value", "price", "spend", "payment", "paid",
)  # fmt: skip
DATE_NAMES = (
    "date", "order_date", "orderdate", "invoice_date", "transaction_date", "sale_date", "sales_date",
    "purchase_date", "payment_date", "created_at", "created", "created_on", "ordered_at",
    "order_time", "timestamp", "datetime", "time", "day", "booking_date", "posted_at", "posting_date",
)  # fmt: skip
_ENTITY_WORDS = ("customer", "client", "account", "buyer", "cust")
_AMOUNT_WORDS = ("amount", "revenue", "sales", "total", "net")
_DATE_WORDS = ("date", "_at", "time")

_NUMERIC_CONTENT = ("BIGINT", "DOUBLE", "DECIMAL", "INTEGER", "HUGEINT", "FLOAT", "SMALLINT")
_DATE_CONTENT = ("DATE", "TIMESTAMP")


@dataclass(frozen=True)
class Roles:
    """The mapping used: column names per role and how each was found (flag, name, content)."""

    entity: str
    value: str | None
    date: str | None
    how: dict[str, str]
    value_kind: str  # "text", "integer", "decimal", "float", "count"
    value_scale: int  # decimal places of a DECIMAL source column (else 0)
    date_kind: str | None  # "text", "date", "timestamp"


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def _find(columns: list[str], names: tuple[str, ...], words: tuple[str, ...]) -> str | None:
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(_norm(c), c)
    for candidate in names:
        if candidate in by_norm:
            return by_norm[candidate]
    for word in words:
        for c in columns:
            if word in _norm(c):
                return c
    return None


def resolve(name: str, columns: list[str], where: str, role: str) -> str:
    """The column ``name`` (case-insensitive when unambiguous), or a clear error."""
    if name in columns:
        return name
    folded = [c for c in columns if c.lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    hint = difflib.get_close_matches(name, columns, n=1)
    suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
    raise ColumnError(
        f"{where}: no column {name!r} for the {role} (columns: {', '.join(columns)}){suggestion}"
    )


def kind_of(dtype: Any) -> str:
    """A coarse kind of an Ibis data type: text, integer, decimal, float, date, timestamp,
    boolean or nested."""
    if dtype.is_string():
        return "text"
    if dtype.is_integer():
        return "integer"
    if dtype.is_decimal():
        return "decimal"
    if dtype.is_floating():
        return "float"
    if dtype.is_timestamp():
        return "timestamp"
    if dtype.is_date():
        return "date"
    if dtype.is_boolean():
        return "boolean"
    if dtype.is_nested():
        return "nested"
    return str(dtype)


def map_roles(
    columns: dict[str, Any],
    where: str,
    *,
    entity: str | None = None,
    value: str | None = None,
    date: str | bool | None = None,
    count: bool = False,
    content_types: dict[str, str] | None = None,
    entity_label: str = "customer",
    value_label: str = "amount",
) -> Roles:
    """Map the roles, detect the missing ones, and check every mapped column's type.
    ``date=False`` maps no date column (none is detected)."""
    names = list(columns)
    how: dict[str, str] = {}
    content = content_types or {}

    if entity is not None:
        ent: str | None = resolve(entity, names, where, entity_label)
        how["entity"] = "flag"
    else:
        ent = _find(names, ENTITY_NAMES, _ENTITY_WORDS)
        how["entity"] = "name"
        if ent is None and content:
            ent = next((c for c in names if content.get(c) == "VARCHAR"), None)
            how["entity"] = "content"
    if ent is None:
        raise ColumnError(
            f"{where}: cannot tell which column is the {entity_label} (columns: {', '.join(names)}); "
            f"name it with --{entity_label if entity_label == 'customer' else 'entity'} COLUMN"
        )

    val: str | None = None
    if count:
        if value is not None:
            raise ColumnError("--count counts rows; it cannot be combined with --amount/--value")
        how["value"] = "count"
    elif value is not None:
        val = resolve(value, names, where, value_label)
        how["value"] = "flag"
    else:
        rest = [c for c in names if c != ent]
        val = _find(rest, AMOUNT_NAMES, _AMOUNT_WORDS)
        how["value"] = "name"
        if val is None and content:
            val = next((c for c in rest if content.get(c, "").startswith(_NUMERIC_CONTENT)), None)
            how["value"] = "content"
        if val is None:
            raise ColumnError(
                f"{where}: cannot tell which column is the {value_label} (columns: {', '.join(names)}); "
                "name it with --amount COLUMN, or use --count to count rows"
            )

    dt: str | None = None
    if date is False:
        pass  # no date column: none is detected, no row is checked for one
    elif isinstance(date, str):
        dt = resolve(date, names, where, "date")
        how["date"] = "flag"
    else:
        rest = [c for c in names if c not in (ent, val)]
        dt = _find(rest, DATE_NAMES, _DATE_WORDS)
        how["date"] = "name"
        if dt is None and content:
            dt = next((c for c in rest if content.get(c, "").startswith(_DATE_CONTENT)), None)
            how["date"] = "content"
        if dt is None:
            how.pop("date")
    if val is not None and val == ent:
        raise ColumnError(
            f"{where}: column {ent!r} cannot be both the {entity_label} and the {value_label}"
        )
    if dt is not None and dt in (ent, val):
        raise ColumnError(f"{where}: column {dt!r} cannot be the date and another role at once")

    ent_kind = kind_of(columns[ent])
    if ent_kind in ("nested", "float", "boolean"):
        raise ColumnError(
            f"{where}: column {ent!r} ({entity_label}) has type {columns[ent]}; "
            "expected text or integer keys"
        )
    value_kind, scale = "count", 0
    if val is not None:
        value_kind = kind_of(columns[val])
        if value_kind not in ("text", "integer", "decimal", "float"):
            raise ColumnError(
                f"{where}: column {val!r} ({value_label}) has type {columns[val]}; expected numbers"
            )
        if value_kind == "decimal":
            scale = int(columns[val].scale or 0)
    date_kind = None
    if dt is not None:
        date_kind = kind_of(columns[dt])
        if date_kind not in ("text", "date", "timestamp"):
            raise ColumnError(
                f"{where}: column {dt!r} (date) has type {columns[dt]}; expected dates"
            )
    return Roles(ent, val, dt, how, value_kind, scale, date_kind)
