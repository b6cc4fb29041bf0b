"""Rejected rows: statistics per reason, examples with their file and line, and the messages.

The engine counts and sums the rejected rows in its one scan; this module turns those counts into
:class:`~topshare.result.Rejection` records, finding up to 5 examples per reason with bounded
extra scans (only when rows were rejected) and mapping record numbers to physical lines.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from topshare.columns import Roles
from topshare.engine import (
    EXAMPLES_PER_REASON,
    REASONS,
    Prepared,
    RejectStat,
    Totals,
    examples,
    prepare,
)
from topshare.errors import InputError, TopshareError, first_line
from topshare.lines import record_lines
from topshare.money import WIDE, normalize, to_decimal
from topshare.result import Example, Labels, Rejection
from topshare.sources import FILE_COL, ROW_COL, Source

#: Said where an example has no line: its file is not on this machine (a URL read by Spark).
NO_LINES = "line numbers need a local path"

# The first example scan stops after this many times the examples wanted: it streams on one
# thread (it numbers the rows), so the earlier it stops the better.
_FIRST_PASS_FACTOR = 2


def run(src: Source, fn: Any) -> Any:
    """Engine errors that escape the reader's own checks become one clear line."""
    try:
        return fn()
    except TopshareError:
        raise
    except Exception as exc:
        first = first_line(exc)
        where = ", ".join(src.name(f) for f in src.files[:3])
        if "invalid unicode" in str(exc).lower():
            first += " (try --encoding latin-1 or utf-16)"
        elif first.lower() == "integer overflow":  # SQLite sums amounts as int64 units
            first = (
                "integer overflow: a sum of the amount column passes the database's 64-bit "
                "integers (SQLite sums amounts as integer units: about 9.2 x 10^12 at 6 "
                "decimal places); analyse a copy in DuckDB or PostgreSQL"
            )
        raise InputError(f"{where}: {first}") from exc


def refuse_wrong_encoding(src: Source, malformed: list[tuple[str, int, str, str]]) -> None:
    """Text that is not valid in the encoding means the whole file was read with the wrong one:
    an error, not a few rejected rows (every row with an accent would silently be left out)."""
    for file, line, kind, _ in malformed:
        if "ENCODING" in kind.upper():
            raise InputError(
                f"{src.name(file)}:{line}: not valid {src.encoding} text; "
                "give the file's encoding with --encoding latin-1 or utf-16"
            )


def engine_totals(table: Any, scale: int) -> tuple[int, int]:
    """Money in and rows read, summed by the engine over every group (valid and rejected):
    an independent check of the sums done in Python."""
    row = table.aggregate(v=table.value.sum(), n=table.rows.sum()).to_pyarrow().to_pylist()[0]
    value = row["v"] if row["v"] is not None else Decimal(0)
    return int(value.scaleb(scale, WIDE)), int(row["n"] or 0)


def build_rejections(
    src: Source,
    roles: Roles,
    tot: Totals,
    malformed: list[tuple[str, int, str, str]],
    labels: Labels,
    opts: dict[str, Any],
) -> list[Rejection]:
    stats = list(tot.rejected)
    bad_lines: dict[str, list[tuple[str, int, str, str]]] = {}
    for m in malformed:
        bad_lines.setdefault("malformed_line", []).append(m)
    for reason, items in bad_lines.items():
        stat = RejectStat(reason, len(items), None, unknown=len(items))
        for f, *_ in items:
            stat.by_file[f] = stat.by_file.get(f, 0) + 1
        stats.append(stat)
    order = list(REASONS)
    stats.sort(key=lambda s: order.index(s.reason))
    found: dict[str, list[Example]] = {
        r: [Example(src.name(f), line, None, text[:200]) for f, line, _, text in items[:5]]
        for r, items in bad_lines.items()
    }
    found.update(_row_examples(src, roles, stats, malformed, opts))
    fmt = {"entity": labels.entity, "value": "amount", "scale": tot.scale}
    return [
        Rejection(
            reason=s.reason,
            description=(
                src.malformed_text
                if s.reason == "malformed_line"
                else REASONS[s.reason].format(**fmt)
            ),
            rows=s.rows,
            amount=(
                normalize(to_decimal(s.units, tot.scale), scale=tot.scale)
                if s.units is not None
                else None
            ),
            unreadable=s.unknown,
            examples=found.get(s.reason, []),
        )
        for s in stats
    ]


def _row_examples(
    src: Source,
    roles: Roles,
    stats: list[RejectStat],
    malformed: list[tuple[str, int, str, str]],
    opts: dict[str, Any],
) -> dict[str, list[Example]]:
    """Up to 5 examples per reason, file by file in order, with their line numbers."""
    # Malformed CSV lines come with their examples from the reader; a source that flags its own
    # malformed lines (access logs) gets them from the engine like any other reason.
    wanted = {s.reason: s for s in stats if s.reason != "malformed_line" or not malformed}
    found: dict[str, list[Example]] = {r: [] for r in wanted}
    for file in src.files:
        need = {
            r: min(EXAMPLES_PER_REASON - len(found[r]), s.by_file[file])
            for r, s in wanted.items()
            if s.by_file.get(file)
        }
        need = {r: n for r, n in need.items() if n > 0}
        if not need:
            continue
        numbered = prepare(src.numbered(file), roles, file_col=FILE_COL, keep=(ROW_COL,), **opts)
        skipped = sorted(line for f, line, _, _ in malformed if f == file)
        rows = _example_rows(src, numbered, need, {r: wanted[r].by_file[file] for r in need})
        lines = _lines(src, file, [int(row[ROW_COL]) for row in rows], skipped)
        for row in sorted(rows, key=lambda x: int(x[ROW_COL])):
            reason = row["reason"]
            if len(found[reason]) >= EXAMPLES_PER_REASON:
                continue
            found[reason].append(
                Example(
                    file=src.name(file),
                    line=lines[int(row[ROW_COL])],
                    entity=row.get("raw_entity"),
                    value=(
                        str(row.get("raw_line") or "")[:200]
                        if reason == "malformed_line"
                        else row.get("raw_value")
                    ),
                    date=row.get("raw_date"),
                )
            )
    return found


def _example_rows(
    src: Source, numbered: Prepared, need: dict[str, int], in_file: dict[str, int]
) -> list[dict[str, Any]]:
    """The first rejected rows of one file for each reason in ``need`` (how many are wanted).

    One streaming scan takes the first rejected rows of any of these reasons and stops after a
    bounded number; a reason still short of examples (a rare one that comes late in the file)
    then gets a scan of its own, which stops after its last wanted row."""
    total = sum(in_file.values())
    first = min(total, _FIRST_PASS_FACTOR * sum(need.values()))
    rows = run(src, lambda: examples(numbered, ROW_COL, list(need), first))
    got: dict[str, int] = {}
    for row in rows:
        got[row["reason"]] = got.get(row["reason"], 0) + 1
    for reason, n in need.items():
        if got.get(reason, 0) < min(n, in_file[reason]) and first < total:
            extra = run(src, lambda r=reason, k=n: examples(numbered, ROW_COL, [r], k))
            seen = {int(row[ROW_COL]) for row in rows}
            rows += [row for row in extra if int(row[ROW_COL]) not in seen]
    kept: list[dict[str, Any]] = []
    taken: dict[str, int] = {}
    for row in sorted(rows, key=lambda x: int(x[ROW_COL])):
        if taken.get(row["reason"], 0) < need[row["reason"]]:
            taken[row["reason"]] = taken.get(row["reason"], 0) + 1
            kept.append(row)
    return kept


def _lines(src: Source, file: str, records: list[int], skipped: list[int]) -> dict[int, int | None]:
    """Record numbers -> line numbers. CSV: the physical line where each record starts (blank
    lines, quoted line breaks and skipped malformed lines counted), found by one byte scan.
    JSON: the record number (the line, for NDJSON). Parquet: the row number. None for files
    that cannot be scanned here (URLs read by Spark)."""
    if not src.lines_known:
        return dict.fromkeys(records)
    if src.format not in ("csv", "tsv"):
        return {r: r for r in records}
    if src.escape in ("", src.quote) and len(src.quote) <= 1:
        found = record_lines(
            file, records, header=src.header, quote=src.quote, skipped_lines=skipped
        )
        if len(found) == len(set(records)):
            return dict(found)
    # Backslash escapes: quote parity cannot be trusted; count one line per record instead.
    out: dict[int, int | None] = {}
    for record in records:
        line = record + (1 if src.header else 0)
        for s in skipped:
            if s <= line:
                line += 1
        out[record] = line
    return out


def shown_value(reason: str, ex: Example) -> str | None:
    """The raw text that explains a rejection: the amount, the date or the line."""
    if reason in ("bad_value", "too_precise", "malformed_line"):
        return ex.value
    if reason == "bad_date":
        return ex.date
    return None


def strict_message(rejections: list[Rejection]) -> str:
    total = sum(r.rows for r in rejections)
    r = rejections[0]
    where = ""
    if r.examples:
        ex = r.examples[0]
        shown = shown_value(r.reason, ex)
        at = f"{ex.file}:{ex.line}" if ex.line is not None else f"{ex.file} ({NO_LINES})"
        where = f"{at}: " + (f"{shown!r}: " if shown is not None else "")
    return (
        f"{where}{r.description} ({r.reason}); {total:,} row(s) rejected in all "
        "and --strict turns rejections into errors"
    )
