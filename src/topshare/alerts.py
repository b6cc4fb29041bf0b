"""Alerts on concentration itself: rules (metric, threshold, scope) checked against an analysis.

A rule is breached when its value passes the threshold: above it for the shares, HHI and Gini,
at or above it for ``major`` (the major-customer test is inclusive: 10 % is major), below it for
the effective number. Share rules are decided exactly on the decimal sums, not on rounded
floats. Exit codes for cron and CI: 0 every rule passes, 1 a rule is breached, 2 an error.
"""

from __future__ import annotations

import json
import tomllib
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from topshare import __version__
from topshare.errors import InputError, TopshareError, UsageError
from topshare.money import WIDE
from topshare.result import SCHEMA_VERSION, Analysis, Slice, _plain

#: metric -> (direction, description). "max": breached above; "min": breached below.
METRICS: dict[str, tuple[str, str]] = {
    "top_n_share": ("max", "share of the top N"),
    "top1_share": ("max", "share of the largest entity"),
    "major": ("max", "share of any one entity (breached at the threshold or above)"),
    "hhi": ("max", "HHI in points (0-10,000)"),
    "gini": ("max", "Gini coefficient"),
    "effective_number": ("min", "effective number of entities (1/HHI)"),
}
SCOPES = ("overall", "latest", "segments", "periods")
_RULE_KEYS = {"name", "metric", "threshold", "scope"}


class NotifyError(TopshareError):
    """The webhook could not be reached or refused the result."""


@dataclass(frozen=True)
class Rule:
    metric: str
    threshold: float
    scope: str = "overall"
    name: str = ""

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise UsageError(
                f"unknown rule metric {self.metric!r}: expected one of {', '.join(METRICS)}"
            )
        if self.scope not in SCOPES:
            raise UsageError(
                f"unknown rule scope {self.scope!r}: expected one of {', '.join(SCOPES)}"
            )
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)):
            raise UsageError(
                f"rule {self.name or self.metric!r}: the threshold must be a number, "
                f"got {self.threshold!r}"
            )
        if self.metric in ("top_n_share", "top1_share", "major") and not 0 <= self.threshold <= 1:
            raise UsageError(
                f"rule {self.title!r}: a share threshold is a fraction in [0, 1] "
                f"(0.2 for 20 %), got {self.threshold}"
            )

    @property
    def title(self) -> str:
        ok = {"max": "<=", "min": ">="}[self.direction] if self.metric != "major" else "<"
        return self.name or f"{self.metric} {ok} {self.threshold:g}"

    @property
    def direction(self) -> str:
        return METRICS[self.metric][0]


@dataclass(frozen=True)
class Outcome:
    """One rule at one place (the whole data, the latest period, one segment value...)."""

    rule: str
    metric: str
    scope: str
    where: str
    value: float | None
    threshold: float
    status: str  # "pass", "breach", or "n/a" (the value is undefined: a total that is not > 0)
    entities: list[str] = field(default_factory=list)  # the entities at fault (major, top1)


@dataclass(frozen=True)
class CheckResult:
    status: str  # "pass" or "breach"
    breached: int
    outcomes: list[Outcome]
    source: list[str]
    top_n: int
    hhi_bands: str
    generated_at: datetime
    version: str = __version__

    @property
    def exit_code(self) -> int:
        return 1 if self.status == "breach" else 0

    def to_dict(self) -> dict[str, Any]:
        out = _plain(self, 2)
        assert isinstance(out, dict)
        return {"schema_version": SCHEMA_VERSION, "topshare_version": out.pop("version"), **out}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def load_rules(path: str | Path) -> list[Rule]:
    """Rules from a TOML file: ``[[rule]]`` tables with name, metric, threshold and scope."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{p}: no such rules file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not valid TOML: {exc}") from None
    extra = set(data) - {"rule"}
    if extra:
        raise InputError(
            f"{p}: unknown key(s) {', '.join(sorted(extra))}; rules go in [[rule]] tables"
        )
    tables = data.get("rule", [])
    if not isinstance(tables, list) or not tables:
        raise InputError(f"{p}: no rules; add [[rule]] tables with metric and threshold")
    rules = []
    for i, table in enumerate(tables, start=1):
        unknown = set(table) - _RULE_KEYS
        if unknown:
            raise InputError(
                f"{p}: rule {i}: unknown key(s) {', '.join(sorted(unknown))} "
                f"(expected {', '.join(sorted(_RULE_KEYS))})"
            )
        missing = {"metric", "threshold"} - set(table)
        if missing:
            raise InputError(f"{p}: rule {i}: missing {', '.join(sorted(missing))}")
        try:
            rules.append(Rule(table["metric"], table["threshold"], table.get("scope", "overall"),
                              str(table.get("name", ""))))  # fmt: skip
        except UsageError as exc:
            raise InputError(f"{p}: rule {i}: {exc}") from None
    return rules


def run_check(
    source: Any,
    rules: Sequence[Rule] = (),
    *,
    rules_file: str | Path | None = None,
    **options: Any,
) -> CheckResult:
    """Analyse ``source`` (the options of :func:`topshare.analyze`; with ``traffic=True``, access
    logs with the options of :func:`topshare.traffic.traffic`) and check the rules.

    >>> r = run_check("sales.csv", [Rule("top1_share", 0.2), Rule("hhi", 1800)])  # doctest: +SKIP
    >>> r.status, r.exit_code  # doctest: +SKIP
    """
    from topshare.analyze import analyze

    every = [*rules, *(load_rules(rules_file) if rules_file is not None else [])]
    if not every:
        raise UsageError(
            "no rules to check: give thresholds (e.g. --max-top1-share 0.2) or --rules"
        )
    needs = {r.scope for r in every}
    if needs & {"latest", "periods"} and not options.get("period"):
        raise UsageError("a rule with scope 'latest' or 'periods' needs a period (--period month)")
    if "segments" in needs and not options.get("segments"):
        raise UsageError("a rule with scope 'segments' needs --segment COLUMN")
    if options.pop("traffic", False):  # access logs: topshare.traffic.traffic's options
        from topshare.traffic import traffic

        return evaluate(traffic(source, **options), every)
    return evaluate(analyze(source, **options), every)


def evaluate(analysis: Analysis, rules: list[Rule]) -> CheckResult:
    """Every rule against the analysis (which must hold the periods or segments a scope needs)."""
    outcomes: list[Outcome] = []
    for rule in rules:
        for where, part in _places(analysis, rule):
            outcomes.append(_judge(rule, where, part))
    breached = sum(1 for o in outcomes if o.status == "breach")
    return CheckResult(
        status="breach" if breached else "pass",
        breached=breached,
        outcomes=outcomes,
        source=list(analysis.source.paths),
        top_n=analysis.top_n,
        hhi_bands=analysis.hhi_bands,
        generated_at=datetime.now(UTC).replace(microsecond=0),
    )


def _places(analysis: Analysis, rule: Rule) -> list[tuple[str, Analysis | Slice]]:
    if rule.scope == "overall":
        return [("overall", analysis)]
    if rule.scope in ("latest", "periods"):
        if not analysis.periods:
            raise UsageError(f"rule {rule.title!r} has scope {rule.scope!r}: give --period")
        chosen = analysis.periods[-1:] if rule.scope == "latest" else analysis.periods
        return [(p.label, p) for p in chosen]
    if not analysis.segments:
        raise UsageError(f"rule {rule.title!r} has scope 'segments': give --segment COLUMN")
    return [
        (", ".join(f"{k}={'(none)' if v is None else v}" for k, v in s.segment.items()), s)
        for s in analysis.segments
    ]


def _judge(rule: Rule, where: str, part: Analysis | Slice) -> Outcome:
    t = Decimal(str(rule.threshold))
    value: float | None
    entities: list[str] = []
    if rule.metric in ("top_n_share", "top1_share", "major"):
        total = part.total
        if rule.metric == "top_n_share":
            part_sum = part.top_n_sum
        else:
            part_sum = part.top[0].value if part.top else Decimal(0)
        value = part.top_n_share if rule.metric == "top_n_share" else part.top1_share
        if total <= 0 or value is None:
            return Outcome(rule.title, rule.metric, rule.scope, where, None, rule.threshold, "n/a")
        bound = WIDE.multiply(t, total)  # exact (the default context would round past 28 digits)
        if rule.metric == "major":
            breach = part_sum >= bound  # exact: share >= threshold
            named = {r.entity: r.value for r in part.top} | {m.entity: m.value for m in part.major}
            entities = [k for k, v in sorted(named.items(), key=lambda kv: (-kv[1], kv[0]))
                        if v >= bound]  # fmt: skip
        else:
            breach = part_sum > bound
            if rule.metric == "top1_share" and breach and part.top:
                entities = [part.top[0].entity]
    else:
        value = {"hhi": part.hhi_points, "gini": part.gini,
                 "effective_number": part.effective_number}[rule.metric]  # fmt: skip
        if value is None:
            return Outcome(rule.title, rule.metric, rule.scope, where, None, rule.threshold, "n/a")
        # Indices are float64: compared after rounding (HHI points to 6 decimals, as for the
        # bands; the others to 9) so that float noise (2000.0000000000005) decides nothing.
        shown = round(value, 6 if rule.metric == "hhi" else 9)
        breach = shown > rule.threshold if rule.direction == "max" else shown < rule.threshold
    return Outcome(rule.title, rule.metric, rule.scope, where, value, rule.threshold,
                   "breach" if breach else "pass", entities)  # fmt: skip


def check_url(url: str) -> str:
    """A webhook URL must be http(s) with a host: checked before any work, so that a cron job
    with a mistyped URL fails at once rather than at its first breach."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--notify needs an http:// or https:// URL with a host, got {url!r}")
    return url


def notify(url: str, result: CheckResult, timeout: float = 10.0) -> None:
    """POST the JSON result to a webhook. Any failure is a clear error (exit code 2)."""
    import urllib.error  # here: http.client and ssl take a sixth of a second to import
    import urllib.request

    check_url(url)
    body = result.to_json(indent=None).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"topshare/{__version__}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        raise NotifyError(
            f"--notify {url}: the webhook answered HTTP {exc.code} {exc.reason}"
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NotifyError(f"--notify {url}: could not deliver the result ({reason})") from None
