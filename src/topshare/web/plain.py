"""JSON-ready parts of an :class:`~topshare.result.Analysis`, equal to ``Analysis.to_dict()``.

The dashboard's views each need a few keys of the ``--format json`` shape, and the parts of an
analysis are shared between analyses (a kept group's top rows, a period asked again for another
view): :class:`Plain` converts only the keys asked for, with the rules of ``result._plain``
(dataclasses to dicts in field order, money as exact decimal strings, dates in ISO 8601, NaN
and infinities as None), and remembers the conversion of each shared part (a list, a period, a
segment) by identity, so a part converted once is not converted again.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from decimal import Decimal
from typing import Any

from topshare.money import normalize
from topshare.result import (
    SCHEMA_VERSION,
    Analysis,
    EntityValue,
    Mover,
    Period,
    Segment,
    TopRow,
    _plain,
    json_names,
)

#: Parts whose conversion is kept (least recently used dropped first).
KEEP = 50_000
_KEPT_TYPES = (list, Period, Segment)
#: Rows kept by value: a ranked row or a mover is equal in every N and view that shows it, and
#: its fields are money and shares of totals > 0 (never -0.0 or NaN, where equal values would
#: print differently).
_ROW_TYPES = (TopRow, Mover, EntityValue)


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    """The JSON keys of a dataclass, in ``result._plain``'s order."""
    hit = _NAMES.get(cls)
    if hit is None:
        hit = _NAMES[cls] = json_names(cls)
    return hit


def _normalized(text: str, scale: int) -> bool:
    """True when ``text`` (a nonzero finite Decimal's ``str``) is what :func:`normalize` gives
    at ``scale``: no exponent, and no point at scale 0; else 2 to max(scale, 2) places, with no
    trailing zero beyond the second place (what every money value of a result already is)."""
    if "E" in text:
        return False
    dot = text.find(".")
    if scale == 0:
        return dot < 0
    places = len(text) - dot - 1 if dot >= 0 else 0
    return 2 <= places <= max(scale, 2) and (places == 2 or text[-1] != "0")


class Plain:
    """``Analysis.to_dict()`` by key, with shared parts converted once (thread-safe)."""

    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._kept: OrderedDict[int, tuple[Any, int, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._strings: dict[tuple[Decimal, int], str] = {}
        self._rows: dict[tuple[Any, int], Any] = {}

    def key(self, result: Analysis, name: str) -> Any:
        """``result.to_dict()[name]`` (``money`` with its ``in`` key last, as there)."""
        if name == "schema_version":
            return SCHEMA_VERSION
        if name == "topshare_version":
            return result.version
        out = self.value(getattr(result, name), result.scale)
        if name == "money":
            out = dict(out)
            out["in"] = out.pop("in_")
        return out

    def fields(
        self, obj: Any, scale: int, keys: tuple[str, ...] | None, drop: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """``value(obj)`` of a dataclass restricted to ``keys`` (None: every field) less
        ``drop``, in the same key order."""
        names = _names(type(obj)) if keys is None else keys
        return {n: self.value(getattr(obj, n), scale) for n in names if n not in drop}

    def value(self, obj: Any, scale: int) -> Any:
        """``result._plain(obj, scale)``; parts of :data:`_KEPT_TYPES` remembered."""
        kind = type(obj)
        if kind is str or kind is int or kind is bool or obj is None:
            return obj
        if kind is float:
            return None if math.isnan(obj) or math.isinf(obj) else obj
        if kind is Decimal:
            return self._money(obj, scale)
        if kind in _ROW_TYPES:
            key = (obj, scale)
            row = self._rows.get(key)
            if row is None:
                row = self._row(obj, scale)
                if len(self._rows) >= self._keep:
                    self._rows.clear()
                self._rows[key] = row
            return row
        if kind in _KEPT_TYPES and (kind is not list or obj):
            ident = id(obj)
            with self._lock:
                hit = self._kept.get(ident)
                if hit is not None and hit[0] is obj and hit[1] == scale:
                    self._kept.move_to_end(ident)
                    return hit[2]
            out = self._convert(obj, scale)
            with self._lock:
                self._kept[ident] = (obj, scale, out)  # holds obj: its id is not reused
                while len(self._kept) > self._keep:
                    self._kept.popitem(last=False)
            return out
        return self._convert(obj, scale)

    def _row(self, obj: Any, scale: int) -> dict[str, Any]:
        """``_convert`` of a row (:data:`_ROW_TYPES`), its usual field types checked inline:
        thousands of rows make a long series."""
        out: dict[str, Any] = {}
        for name in _names(type(obj)):
            v = getattr(obj, name)
            kind = type(v)
            if kind is Decimal:
                v = self._money(v, scale)
            elif kind is float:
                v = None if math.isnan(v) or math.isinf(v) else v
            elif not (kind is str or kind is int or kind is bool or v is None):
                v = self.value(v, scale)
            out[name] = v
        return out

    def _money(self, value: Decimal, scale: int) -> str:
        """``str(normalize(value))``, a function of the value alone except for the sign of
        zero (and NaN, never equal): kept per (value, scale) for the other values."""
        if not value.is_finite() or not value:
            return str(normalize(value, scale=scale))
        text = str(value)
        if _normalized(text, scale):
            return text  # normalize() would give it back as it is
        key = (value, scale)
        hit = self._strings.get(key)
        if hit is None:
            hit = str(normalize(value, scale=scale))
            if len(self._strings) >= self._keep:
                self._strings.clear()
            self._strings[key] = hit
        return hit

    def _convert(self, obj: Any, scale: int) -> Any:
        return _plain(obj, scale, self.value)  # its parts through the kept conversions
