"""topshare: how much of a business rides on a few.

Revenue from the top N customers and its share of the total, with the concentration indices
(CR_k, HHI, Gini, Theil, entropy, Pareto point, Lorenz curve), computed exactly from files on an
embedded DuckDB engine through Ibis.

>>> import topshare
>>> r = topshare.analyze("sales.csv", customer="customer_id", amount="amount")  # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from topshare.analyze import analyze
from topshare.errors import (
    ColumnError,
    InputError,
    RejectedRowsError,
    TopshareError,
    UsageError,
)
from topshare.result import Analysis, Labels

__all__ = [
    "Analysis",
    "ColumnError",
    "InputError",
    "Labels",
    "RejectedRowsError",
    "TopshareError",
    "UsageError",
    "__version__",
    "analyze",
]
