"""Per-area sums of demand weight that do not depend on how the demand is split or ordered.

A finite float64 is an integer mantissa (below 2**53) times a power of two.  Per area and
exponent the mantissas are added exactly (as two 26-bit halves, so float64 accumulation is
exact for up to 2**25 points at a time) and kept as Python ints; the sums of any split of
the demand add up to the same integers, and the one final rounding to float64 is the
correct one (like :func:`math.fsum`).  So coverage computed chunk by chunk on Dask workers
and in one process give the same numbers to the bit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["AreaSums"]

_BLOCK = 1 << 25  #: points per exact float64 accumulation (each half mantissa < 2**27)
_HALF = 26


def _exact_parts(x, groups, n_groups):
    """``({(group, exponent): int}, non-finite sums)``: per group, the sum of
    ``int * 2**exponent`` is the exact sum of its finite values; inf and nan are added
    as floats (their sum does not depend on the order)."""
    fin = np.isfinite(x)
    special = np.bincount(groups[~fin], weights=x[~fin], minlength=n_groups)
    x, groups = x[fin], groups[fin]
    parts: dict[tuple[int, int], int] = {}
    for a in range(0, x.size, _BLOCK):
        m, e = np.frexp(x[a:a + _BLOCK])
        mant = np.ldexp(m, 53).astype(np.int64)  # exact: x = mant * 2**(e - 53)
        e = e.astype(np.int64)
        e0 = int(e.min())
        span = int(e.max()) - e0 + 1
        key = groups[a:a + _BLOCK] * span + (e - e0)
        if n_groups * span <= 4 * key.size + 65536:
            nbins, inv = n_groups * span, key
            keys = np.arange(nbins)
        else:
            keys, inv = np.unique(key, return_inverse=True)
            nbins = keys.size
        hi = np.bincount(inv, weights=mant >> _HALF, minlength=nbins)
        lo = np.bincount(inv, weights=mant & ((1 << _HALF) - 1), minlength=nbins)
        for j in np.flatnonzero((hi != 0) | (lo != 0)).tolist():
            g, k = divmod(int(keys[j]), span)
            pk = (g, k + e0 - 53)
            parts[pk] = parts.get(pk, 0) + (int(hi[j]) << _HALF) + int(lo[j])
    return parts, special


def _to_float(terms) -> float:
    """Correctly rounded float of ``sum(n * 2**e)`` over ``(e, n)`` pairs."""
    terms = [(e, n) for e, n in terms if n]
    if not terms:
        return 0.0
    e0 = min(e for e, _ in terms)
    total = sum(n << (e - e0) for e, n in terms)
    try:
        return float(total << e0) if e0 >= 0 else total / (1 << -e0)  # int / int rounds correctly
    except OverflowError:  # beyond float64, as a float sum would be
        return math.inf if total > 0 else -math.inf


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return out


@dataclass
class AreaSums:
    """Demand, covered demand and points per area position, plus "outside every area"
    (position ``n_areas``); add two to combine the sums of two parts of the demand."""

    n_areas: int
    points: np.ndarray       # int64, n_areas + 1
    demand: dict             # {(position, exponent): int}
    covered: dict
    special: np.ndarray      # (2, n_areas + 1) float: inf/nan demand and covered demand

    @classmethod
    def of(cls, covered, weight, area_index, n_areas: int) -> "AreaSums":
        """Sums of one part of the demand.

        Parameters
        ----------
        covered : array_like of bool
            Coverage flags.
        weight : array_like of float
            Demand weights.
        area_index : array_like of int
            Area position of each point; -1 (or any value outside ``0 .. n_areas - 1``)
            for points outside every area.
        n_areas : int
            Number of areas.

        Returns
        -------
        AreaSums
        """
        w = np.asarray(weight, dtype="float64").ravel()
        cov = np.asarray(covered, dtype=bool).ravel()
        ai = np.asarray(area_index, dtype=np.int64).ravel()
        g = np.where((ai >= 0) & (ai < n_areas), ai, n_areas)
        d, sd = _exact_parts(w, g, n_areas + 1)
        c, sc = _exact_parts(np.where(cov, w, 0.0), g, n_areas + 1)
        return cls(int(n_areas), np.bincount(g, minlength=n_areas + 1).astype(np.int64), d, c, np.vstack((sd, sc)))

    def __add__(self, other: "AreaSums") -> "AreaSums":
        if other.n_areas != self.n_areas:
            raise ValueError("sums of different areas")
        return AreaSums(self.n_areas, self.points + other.points, _merge(self.demand, other.demand),
                        _merge(self.covered, other.covered), self.special + other.special)

    def result(self) -> dict:
        """``{"areas": DataFrame, "outside": dict, "totals": dict}``; the frame has one row per
        area position and, like the two dicts, ``demand``, ``demand_covered`` and ``points``."""
        n = self.n_areas
        terms = []
        for parts in (self.demand, self.covered):
            by_group: dict[int, list] = {}
            for (g, e), v in parts.items():
                by_group.setdefault(g, []).append((e, v))
            terms.append(by_group)

        def row(groups):
            val = [_to_float(t for g in groups for t in by_group.get(g, ())) + float(s[groups].sum())
                   for by_group, s in zip(terms, self.special)]
            return {"demand": val[0], "demand_covered": val[1], "points": int(self.points[groups].sum())}

        areas = pd.DataFrame([row([i]) for i in range(n)], columns=["demand", "demand_covered", "points"])
        return {"areas": areas, "outside": row([n]), "totals": row(list(range(n + 1)))}
