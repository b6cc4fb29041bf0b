"""topshare: how much of a business rides on a few.

Revenue from the top N customers and its share of the total, with the concentration indices
(CR_k, HHI, Gini, Theil, entropy, Pareto point, Lorenz curve), computed exactly from files on an
embedded DuckDB engine through Ibis.

>>> import topshare
>>> r = topshare.analyze("sales.csv", customer="customer_id", amount="amount")  # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from topshare.alerts import CheckResult, Rule
from topshare.alerts import run_check as check
from topshare.analyze import analyze
from topshare.errors import (
    ColumnError,
    InputError,
    RejectedRowsError,
    TopshareError,
    UsageError,
)
from topshare.result import Analysis, Labels, Period, Segment, Traffic
from topshare.traffic import traffic

__all__ = [
    "Analysis",
    "CheckResult",
    "ColumnError",
    "InputError",
    "Labels",
    "Period",
    "RejectedRowsError",
    "Rule",
    "Segment",
    "TopshareError",
    "Traffic",
    "UsageError",
    "__version__",
    "analyze",
    "check",
    "traffic",
]
