"""A synthetic, deterministic sales file to try topshare on: ``demo-orders-*.csv.gz``.

About a million order lines over three years (2022-01-01 to 2024-12-31) from about 20,000
customers, shaped like a real B2B ledger: a few whales (the largest customer brings roughly a tenth
of the revenue, the ten largest roughly a third), a long lognormal/Pareto tail, a Q4 peak and quiet
weekends, refunds as separate negative lines that point back at a real order, and a handful of
broken lines (an empty customer id, an amount of "N/A", empty or with a decimal comma as in
"12,50", an impossible date such as 2023-02-30) that topshare must reject and count.

Everything is drawn with NumPy from one seed and written in one go (no Python loop over rows), so
the same ``rows`` and ``seed`` give a byte-identical file with the same library versions.

>>> import topshare
>>> from topshare import demo
>>> info = demo.ensure()  # doctest: +SKIP
>>> topshare.analyze(info.path, customer="customer_id", amount="amount", date="order_date")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

DEMO_COLUMNS = (
    "order_id", "order_date", "customer_id", "customer_name", "region", "product_line",
    "channel", "quantity", "unit_price", "amount",
)  # fmt: skip
DEFAULT_ROWS = 1_000_000
DEFAULT_SEED = 20240101
MIN_ROWS = 1_000

FIRST_DAY = np.datetime64("2022-01-01", "D")
LAST_DAY = np.datetime64("2024-12-31", "D")

#: Region and its share of customers.
REGIONS = (
    ("North America", 0.38),
    ("EMEA", 0.30),
    ("APAC", 0.18),
    ("Latin America", 0.08),
    ("Japan", 0.06),
)
#: Product line, typical unit price and share of order lines.
PRODUCT_LINES = (
    ("Hardware", 420.0, 0.24),
    ("Software", 1150.0, 0.18),
    ("Services", 185.0, 0.16),
    ("Support", 95.0, 0.17),
    ("Consumables", 32.0, 0.25),
)
CHANNELS = ("Direct", "Online", "Partner")
REGION_NAMES = tuple(name for name, _ in REGIONS)
LINE_NAMES = tuple(name for name, _, _ in PRODUCT_LINES)
_TAIL_CHANNEL_P = (0.25, 0.50, 0.25)
_OWN_CHANNEL_P = 0.85  # an order goes through the customer's usual channel this often

#: Revenue share of the largest customers before jitter (the whales).
_WHALE_SHARES = (0.105, 0.055, 0.040, 0.032, 0.027, 0.023, 0.020, 0.018, 0.016, 0.014)
#: The next largest customers (key accounts): how many, and how fast their shares fall with rank.
_KEY_ACCOUNTS = 50
_KEY_ACCOUNT_DECAY = 1.6
_MAX_CUSTOMERS = 20_000
_ROWS_PER_CUSTOMER = 50
REFUND_RATE = 0.025
_CHUNK_ROWS = 1 << 17
_GZIP_LEVEL = 6

#: Seasonality: order volume by month (Jan..Dec), by weekday (Mon..Sun) and yearly growth.
_MONTH_FACTOR = (0.82, 0.86, 0.97, 0.95, 0.98, 1.00, 0.90, 0.88, 1.02, 1.12, 1.32, 1.55)
_WEEKDAY_FACTOR = (1.08, 1.12, 1.12, 1.10, 1.02, 0.52, 0.38)
_GROWTH_PER_YEAR = 0.10

#: Broken lines, of kinds topshare rejects, and how many of each kind a file holds (drawn).
_MESSY_KINDS = ("missing_customer", "amount_na", "amount_empty", "amount_comma", "bad_date")
_MESSY_PER_KIND = (4, 10)
_BAD_DATES = ("2023-02-30", "2022-02-29", "2024-04-31")

_NAME_FIRST = (
    "Acme", "Apex", "Blue Harbor", "Brightline", "Cedar", "Crescent", "Delta", "Evergreen",
    "Falcon", "Golden Gate", "Granite", "Horizon", "Iron Oak", "Juniper", "Keystone", "Lakeside",
    "Lumen", "Maple", "Meridian", "Nordic", "Northwind", "Oakridge", "Orion", "Pacific",
    "Pinnacle", "Polar", "Quantum", "Redwood", "Riverside", "Sapphire", "Silverline", "Summit",
    "Sunrise", "Tidewater", "Trident", "Vertex", "Westfield", "Zenith", "Müller", "Søndergaard",
    "Étoile", "Zürich", "O'Brien", "Sakura",
)  # fmt: skip
_NAME_SECOND = (
    "Analytics", "Bakeries", "Builders", "Capital", "Chemicals", "Consulting", "Dynamics",
    "Electric", "Energy", "Foods", "Freight", "Health", "Industries", "Labs", "Logistics",
    "Manufacturing", "Media", "Motors", "Networks", "Pharma", "Retail", "Robotics", "Solutions",
    "Steel", "Systems", "Technologies", "Textiles", "Trading", "Travel", "Ventures",
)  # fmt: skip
_NAME_SUFFIX = (
    ", Inc.", " Inc.", ", LLC", " LLC", " Ltd", " Ltd.", " GmbH", " AG", " S.A.", " SAS",
    " B.V.", " K.K.", " Pty Ltd", " & Co.", " Group", " Holdings", "",
)  # fmt: skip

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
PathArg = str | os.PathLike[str]


@dataclass(frozen=True)
class DemoInfo:
    """A demo file and what is in it.

    ``messy_rows`` is the number of broken lines (topshare rejects exactly these);
    ``customers`` the number of distinct non-empty customer ids in the file.
    """

    path: Path
    rows: int
    seed: int
    messy_rows: int
    customers: int


@dataclass(frozen=True)
class _Plan:
    """The sizes of a demo file; cheap to compute, without generating it."""

    rows: int
    orders: int
    refunds: int
    customers: int
    whales: int
    key_accounts: int
    messy: tuple[int, ...]  # broken lines per kind, in the order of _MESSY_KINDS


def _plan(rows: int, seed: int) -> _Plan:
    if isinstance(rows, bool) or int(rows) != rows or rows < MIN_ROWS:
        raise ValueError(f"rows must be a whole number >= {MIN_ROWS:,}, got {rows!r}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    rows, seed = int(rows), int(seed)
    refunds = round(rows * REFUND_RATE)
    orders = rows - refunds
    customers = max(1, min(_MAX_CUSTOMERS, rows // _ROWS_PER_CUSTOMER))
    whales = min(len(_WHALE_SHARES), customers // 20)
    key_accounts = min(_KEY_ACCOUNTS, customers // 20)
    # The counts come from their own stream, so that ensure() can tell them without generating.
    low, high = _MESSY_PER_KIND
    messy = np.random.default_rng([seed, 1]).integers(low, high + 1, size=len(_MESSY_KINDS))
    return _Plan(
        rows, orders, refunds, customers, whales, key_accounts, tuple(int(m) for m in messy)
    )


def _info(path: Path, plan: _Plan, seed: int) -> DemoInfo:
    return DemoInfo(path, plan.rows, seed, sum(plan.messy), plan.customers)


def default_path(rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> Path:
    """Where :func:`ensure` keeps the demo file: ``$TOPSHARE_DEMO_DIR``, else
    ``$XDG_CACHE_HOME/topshare``, else ``~/.cache/topshare``; the name tells rows and seed."""
    own = os.environ.get("TOPSHARE_DEMO_DIR")
    xdg = os.environ.get("XDG_CACHE_HOME")
    if own:
        folder = Path(own).expanduser()
    elif xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore relative paths
        folder = Path(xdg) / "topshare"
    else:
        folder = Path.home() / ".cache" / "topshare"
    return folder / f"demo-orders-{int(rows)}-s{int(seed)}.csv.gz"


def ensure(
    rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED, path: PathArg | None = None
) -> DemoInfo:
    """The demo file for ``rows`` and ``seed``, generated only if it does not exist yet.

    The file is written under a temporary name in the same folder and renamed into place, so
    that an interrupted run or a concurrent one never leaves a half-written file behind.
    """
    plan = _plan(rows, seed)
    target = Path(path) if path is not None else default_path(plan.rows, seed)
    if target.is_file() and target.stat().st_size > 0:
        return _info(target, plan, seed)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        generate(tmp, plan.rows, seed)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return _info(target, plan, seed)


def generate(path: PathArg, rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> DemoInfo:
    """Write the demo file (gzip CSV with a header) to ``path``, replacing it, and describe it.

    The file is written in place; :func:`ensure` is the safe way to fill a shared cache.
    """
    plan = _plan(rows, seed)
    target = Path(path)
    table = _table(plan, seed)
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_csv_gz(table, target)
    return _info(target, plan, seed)


def _table(plan: _Plan, seed: int) -> Any:
    """Every line of the file as an Arrow table of DEMO_COLUMNS (all drawn, none looped)."""
    rng = np.random.default_rng(seed)
    cust = _customers(rng, plan)

    # Orders: one per customer first (every customer appears), the rest by order propensity.
    n_ord, n_cust = plan.orders, plan.customers
    buyer = np.concatenate(
        [np.arange(n_cust, dtype=np.int64), rng.choice(n_cust, n_ord - n_cust, p=cust.propensity)]
    )
    anchor = np.arange(n_ord) < n_cust
    day = _order_days(rng, n_ord)
    line = _choice(rng, len(PRODUCT_LINES), n_ord, [p for _, _, p in PRODUCT_LINES])
    own = rng.random(n_ord) < _OWN_CHANNEL_P
    channel = np.where(own, cust.channel[buyer], rng.integers(0, len(CHANNELS), n_ord))
    qty = 1 + rng.poisson(cust.quantity[buyer] - 1.0).astype(np.int64)
    price = _unit_prices(rng, line)

    order = np.argsort(day, kind="stable")  # order ids follow the dates
    buyer, anchor, day, line = buyer[order], anchor[order], day[order], line[order]
    channel, qty, price = channel[order], qty[order], price[order]

    # Refunds: part or all of a real order, a few days to weeks later, as a negative line.
    src = np.sort(rng.choice(n_ord, plan.refunds, replace=False))
    last = int((LAST_DAY - FIRST_DAY).astype(np.int64))
    room = np.minimum(45, last - day[src]) + 1
    r_day = day[src] + np.floor(rng.random(plan.refunds) * room).astype(np.int64)
    r_qty = -(1 + np.floor(rng.random(plan.refunds) * qty[src]).astype(np.int64))

    # Broken lines: on orders that are neither a customer's first order nor refunded.
    free = ~anchor
    free[src] = False
    picks = rng.choice(np.flatnonzero(free), sum(plan.messy), replace=False)
    kind = np.full(n_ord + plan.refunds, -1, dtype=np.int64)
    kind[picks] = np.repeat(np.arange(len(plan.messy)), plan.messy)

    # All lines in date order: a day's refunds after its orders.
    order_no = np.concatenate([np.arange(1, n_ord + 1), src + 1])
    refund = np.arange(n_ord + plan.refunds) >= n_ord
    all_day = np.concatenate([day, r_day])
    final = np.argsort(all_day, kind="stable")
    order_no, refund, all_day, kind = order_no[final], refund[final], all_day[final], kind[final]
    who = np.concatenate([buyer, buyer[src]])[final]
    line = np.concatenate([line, line[src]])[final]
    channel = np.concatenate([channel, channel[src]])[final]
    qty = np.concatenate([qty, r_qty])[final]
    price = np.concatenate([price, price[src]])[final]
    cents = qty * price

    width = max(7, len(str(n_ord)))
    ids = _join("SO-", pc.utf8_lpad(_text(order_no), width, "0"))
    ids = pc.if_else(pa.array(refund), _join(ids, "-R"), ids)
    dates = pc.cast(pa.array(FIRST_DAY + all_day), pa.string())
    amount = _money(cents)
    customer_id = cust.ids.take(pa.array(who))
    # The broken lines.
    missing_id, amount_na, amount_empty, amount_comma, bad_date = (
        kind == k for k in range(len(_MESSY_KINDS))
    )
    customer_id = pc.if_else(pa.array(missing_id), pa.scalar(None, pa.string()), customer_id)
    amount = pc.if_else(pa.array(amount_na), "N/A", amount)
    amount = pc.if_else(pa.array(amount_empty), pa.scalar(None, pa.string()), amount)
    amount = pc.if_else(pa.array(amount_comma), pc.replace_substring(amount, ".", ","), amount)
    n_bad = int(bad_date.sum())
    bad = pa.array([_BAD_DATES[i % len(_BAD_DATES)] for i in range(n_bad)], pa.string())
    dates = pc.replace_with_mask(dates, pa.array(bad_date), bad)

    columns = {
        "order_id": ids,
        "order_date": dates,
        "customer_id": customer_id,
        "customer_name": cust.names.take(pa.array(who)),
        "region": pa.array(REGION_NAMES).take(pa.array(cust.region[who])),
        "product_line": pa.array(LINE_NAMES).take(pa.array(line)),
        "channel": pa.array(CHANNELS).take(pa.array(channel)),
        "quantity": pa.array(qty),
        "unit_price": _money(price),
        "amount": amount,
    }
    return pa.table([columns[name] for name in DEMO_COLUMNS], names=list(DEMO_COLUMNS))


@dataclass(frozen=True)
class _Customers:
    ids: Any  # Arrow strings, C000123
    names: Any  # Arrow strings
    region: IntArray
    channel: IntArray
    quantity: FloatArray  # mean quantity per order line
    propensity: FloatArray  # probability that an order line is theirs


def _customers(rng: np.random.Generator, plan: _Plan) -> _Customers:
    """Customers with a revenue share each: whales, key accounts, then a long tail."""
    n, k, m = plan.customers, plan.whales, plan.key_accounts
    whales = np.array(_WHALE_SHARES[:k]) * np.exp(rng.normal(0.0, 0.08, k))
    whales = np.sort(whales)[::-1]
    # Key accounts continue the whales' curve, falling off faster.
    rank = np.arange(k + 1, k + m + 1) / max(k, 1)
    key = _WHALE_SHARES[k - 1 if k else 0] * rank**-_KEY_ACCOUNT_DECAY
    key *= np.exp(rng.normal(0.0, 0.15, m))
    # The tail: mostly lognormal, with a Pareto minority for the odd bigger one.
    t = n - k - m
    tail = rng.lognormal(0.0, 1.2, t)
    pareto = rng.random(t) < 0.08
    tail[pareto] = (rng.pareto(1.3, int(pareto.sum())) + 1.0) * 3.0
    tail_total = 1.0 - float(whales.sum()) - float(key.sum())
    tail *= tail_total / tail.sum()
    if k and t * whales[-1] > 2 * tail_total:  # keep the tail below the whales
        cap = 0.9 * float(whales[-1])
        for _ in range(8):
            tail = np.minimum(tail, cap)
            tail *= tail_total / tail.sum()
    share = np.concatenate([whales, key, tail])

    # Bigger customers buy more per line; whales buy in bulk, mostly direct.
    quantity = np.concatenate(
        [
            rng.uniform(15.0, 40.0, k),
            rng.uniform(5.0, 15.0, m),
            1.0 + 3.0 * (tail / tail.max()) ** 0.35,
        ]
    )
    propensity = share / quantity
    propensity /= propensity.sum()
    region = _choice(rng, len(REGIONS), n, [p for _, p in REGIONS])
    channel = _choice(rng, len(CHANNELS), n, list(_TAIL_CHANNEL_P))
    channel[:k] = CHANNELS.index("Direct")

    space = min(999_999, max(10 * n, 1_000))
    number = rng.choice(space, n, replace=False) + 1
    ids = _join("C", pc.utf8_lpad(_text(number), 6, "0"))
    return _Customers(ids, _names(rng, n), region, channel, quantity, propensity)


def _names(rng: np.random.Generator, n: int) -> Any:
    """Company names, distinct while there are enough combinations (some hold a comma)."""
    words = (_NAME_FIRST, _NAME_SECOND, _NAME_SUFFIX)
    space = len(_NAME_FIRST) * len(_NAME_SECOND) * len(_NAME_SUFFIX)
    pick = rng.choice(space, n, replace=n > space)
    parts = []
    for w in reversed(words):
        parts.append(pa.array(w).take(pa.array(pick % len(w))))
        pick //= len(w)
    suffix, second, first = parts
    return pc.binary_join_element_wise(first, " ", second, suffix, "")


def _order_days(rng: np.random.Generator, n: int) -> IntArray:
    """Days since FIRST_DAY, weighted by month, weekday and growth."""
    days = np.arange(FIRST_DAY, LAST_DAY + 1)
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    years = (days - FIRST_DAY).astype(np.int64) / 365.25
    weight = (
        np.array(_MONTH_FACTOR)[month]
        * np.array(_WEEKDAY_FACTOR)[weekday]
        * (1.0 + _GROWTH_PER_YEAR * years)
    )
    return rng.choice(days.size, n, p=weight / weight.sum()).astype(np.int64)


def _unit_prices(rng: np.random.Generator, line: IntArray) -> IntArray:
    """Unit prices in cents around each product line's typical price; most end in .99."""
    base = np.array([p for _, p, _ in PRODUCT_LINES])[line]
    price = base * np.exp(rng.normal(0.0, 0.35, line.size))
    nines = np.ceil(price) * 100 - 1
    round5 = np.round(price * 20) * 5
    cents = np.where(rng.random(line.size) < 0.6, nines, round5)
    return np.maximum(cents, 99).astype(np.int64)


def _choice(rng: np.random.Generator, k: int, n: int, p: list[float]) -> IntArray:
    weights = np.array(p, dtype=np.float64)
    return rng.choice(k, n, p=weights / weights.sum()).astype(np.int64)


def _text(values: IntArray) -> Any:
    return pc.cast(pa.array(values), pa.string())


def _join(*parts: Any) -> Any:
    """Concatenate string arrays and scalars element-wise."""
    return pc.binary_join_element_wise(*parts, "")


def _money(cents: IntArray) -> Any:
    """Integer cents as exact text with two decimals: 1230 -> '12.30', -5 -> '-0.05'."""
    size = np.abs(cents)
    whole = _text(size // 100)
    frac = pc.utf8_lpad(_text(size % 100), 2, "0")
    sign = pc.if_else(pa.array(cents < 0), "-", "")
    return _join(sign, whole, ".", frac)


def _write_csv_gz(table: Any, path: Path) -> None:
    """RFC 4180 CSV (fields quoted only when they hold a comma, quote or line break), gzip
    compressed as one stream with no file name or time stamp in the header (reproducible).

    Chunks of lines are built by Arrow while the previous chunk is compressed in a second
    thread (both release the GIL); one compressor, fed in order, keeps the bytes reproducible.
    """
    pack = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with path.open("wb") as out, ThreadPoolExecutor(max_workers=1) as pool:

        def put(data: bytes | memoryview) -> None:
            out.write(pack.compress(data))

        pending = pool.submit(put, (",".join(table.column_names) + "\n").encode())
        for start in range(0, table.num_rows, _CHUNK_ROWS):
            lines = _csv_lines(table.slice(start, _CHUNK_ROWS))
            pending.result()
            pending = pool.submit(put, lines)
        pending.result()
        out.write(pack.flush())


def _csv_lines(chunk: Any) -> memoryview:
    """The CSV text of some rows, built column-wise by Arrow: one buffer of lines."""
    fields = [_csv_field(pc.cast(col.combine_chunks(), pa.string())) for col in chunk.columns]
    lines = pc.binary_join_element_wise(*fields, ",", null_handling="replace")
    lines = pc.binary_join_element_wise(lines, "\n", "")
    offsets = np.frombuffer(lines.buffers()[1], np.int32, len(lines) + 1, lines.offset * 4)
    return memoryview(lines.buffers()[2])[int(offsets[0]) : int(offsets[-1])]


def _csv_field(column: Any) -> Any:
    """Quote the values that need it; NULL stays NULL (written as an empty field)."""
    needs = pc.match_substring_regex(column, r'[,"\r\n]')
    if not pc.any(needs).as_py():
        return column
    quoted = _join('"', pc.replace_substring(column, '"', '""'), '"')
    return pc.if_else(needs, quoted, column)
