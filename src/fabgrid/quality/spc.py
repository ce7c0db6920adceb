"""Dimensional inspection and statistical process control: capability, control charts, WE rules.

Capability (Cp/Cpk within, Pp/Ppk overall), X-bar/R and individuals/moving-range charts with the
standard constants from `fabgrid/data/spc_constants.yaml`, Western Electric rules 1-4. Pure numpy;
depends only on `fabgrid.domain.quality` and `fabgrid.errors`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
import yaml
from numpy.typing import ArrayLike, NDArray

from fabgrid.domain.quality import Capability, ControlChart, RuleViolation, SpcReport, Tolerance
from fabgrid.errors import InputError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ChartConstants:
    """Factors of one subgroup size n (see spc_constants.yaml for the source)."""

    n: int
    a2: float
    d2: float
    d3: float
    d3_lower: float
    d4: float


@functools.cache
def chart_constants() -> dict[int, ChartConstants]:
    """The tabulated control chart constants by subgroup size (2..25), read once."""
    text = resources.files("fabgrid.data").joinpath("spc_constants.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    out: dict[int, ChartConstants] = {}
    for n, a2, d2, d3, d3l, d4 in doc["rows"]:
        out[int(n)] = ChartConstants(int(n), float(a2), float(d2), float(d3), float(d3l), float(d4))
    return out


def constants_for(n: int) -> ChartConstants:
    """Constants for subgroup size n, or an InputError naming the supported range."""
    table = chart_constants()
    if n not in table:
        raise InputError(f"subgroup size {n} has no tabulated control chart constants",
                         hint=f"use a subgroup size between {min(table)} and {max(table)}",
                         code="spc.subgroup_size")
    return table[n]


def _as_values(values: ArrayLike, what: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise InputError(f"{what}: measurements must be a non-empty list of finite numbers",
                         hint="remove empty or non-numeric cells", code="spc.values")
    return arr


def capability(values: ArrayLike, tol: Tolerance, sigma_within_mm: float | None = None) -> Capability:
    """Cp/Cpk (within-subgroup sigma) and Pp/Ppk (overall sigma, ddof=1) of one feature.

    ``sigma_within_mm`` defaults to MR-bar/d2 of the values in their order (individuals).
    One-sided tolerances give Cp = Pp = None and Cpk/Ppk from the given side.
    """
    x = _as_values(values, tol.feature).ravel()
    if x.size < 2:
        raise InputError(f"{tol.feature}: capability needs at least 2 measurements, got {x.size}",
                         hint="collect more parts before computing Cp/Cpk", code="spc.too_few")
    mean = float(x.mean())
    s_overall = float(x.std(ddof=1))
    if sigma_within_mm is None:
        sigma_within_mm = float(np.abs(np.diff(x)).mean() / constants_for(2).d2)
    oot = 0
    if tol.lsl_mm is not None:
        oot += int((x < tol.lsl_mm).sum())
    if tol.usl_mm is not None:
        oot += int((x > tol.usl_mm).sum())

    def indices(sigma: float) -> tuple[float | None, float | None]:
        if sigma <= 0:
            return None, None
        sides = []
        if tol.usl_mm is not None:
            sides.append((tol.usl_mm - mean) / (3 * sigma))
        if tol.lsl_mm is not None:
            sides.append((mean - tol.lsl_mm) / (3 * sigma))
        two = (tol.usl_mm - tol.lsl_mm) / (6 * sigma) if tol.usl_mm is not None and tol.lsl_mm is not None \
            else None
        return two, min(sides)

    cp, cpk = indices(sigma_within_mm)
    pp, ppk = indices(s_overall)
    return Capability(feature=tol.feature, n=int(x.size), mean_mm=mean, sigma_within_mm=sigma_within_mm,
                      sigma_overall_mm=s_overall, cp=cp, cpk=cpk, pp=pp, ppk=ppk, out_of_tolerance=oot)


def _windows(mask: NDArray[np.bool_], size: int, need: int) -> list[tuple[int, list[int]]]:
    """(end index, flagged indices) of every window of `size` with at least `need` flagged points."""
    out: list[tuple[int, list[int]]] = []
    if mask.size < size:
        return out
    counts = np.convolve(mask.astype(np.int64), np.ones(size, dtype=np.int64), mode="valid")
    for start in np.flatnonzero(counts >= need):
        end = int(start) + size - 1
        # the pattern is completed by a flagged point: report it where it ends
        if mask[end]:
            out.append((end, [int(i) for i in range(int(start), end + 1) if mask[i]]))
    return out


def western_electric(values: ArrayLike, center: float, sigma: float) -> list[RuleViolation]:
    """Western Electric rules 1-4 on a plotted statistic with centre line and sigma of that statistic.

    1: one point beyond 3 sigma; 2: two of three successive points beyond 2 sigma on one side;
    3: four of five beyond 1 sigma on one side; 4: eight successive points on one side of the centre.
    Each violation names the point completing the pattern and the points that make it up.
    """
    x = np.asarray(values, dtype=np.float64)
    if sigma <= 0:
        return []
    z = (x - center) / sigma
    found: list[RuleViolation] = []
    for i in np.flatnonzero(np.abs(z) > 3):
        side = "above" if z[i] > 0 else "below"
        found.append(RuleViolation(rule=1, index=int(i), points=[int(i)], side=side,
                                   message=f"point {int(i)} is beyond 3 sigma ({side})"))
    rules = ((2, 3, 2, 2.0, "2 of 3 points beyond 2 sigma"), (3, 5, 4, 1.0, "4 of 5 points beyond 1 sigma"),
             (4, 8, 8, 0.0, "8 points in a row"))
    for rule, size, need, k, text in rules:
        for side, mask in (("above", z > k), ("below", z < -k)):
            for end, pts in _windows(mask, size, need):
                found.append(RuleViolation(rule=rule, index=end, points=pts, side=side,
                                           message=f"{text} {side} the centre line, ending at point {end}"))
    found.sort(key=lambda v: (v.index, v.rule))
    return found


def _chart(kind: str, values: FloatArray, center: float, lcl: float, ucl: float, sigma: float) -> ControlChart:
    return ControlChart(kind=kind, center=center, lcl=lcl, ucl=ucl, values=[float(v) for v in values],
                        violations=western_electric(values, center, sigma))


def xbar_r(subgroups: ArrayLike) -> tuple[ControlChart, ControlChart, float]:
    """X-bar and R charts of an (k, n) array of subgroups; returns (xbar, r, sigma_within).

    Limits: X-bar = grand mean +- A2*R-bar; R in [D3*R-bar, D4*R-bar]; sigma_within = R-bar/d2.
    """
    g = _as_values(subgroups, "subgroups")
    if g.ndim != 2 or g.shape[0] < 2:
        raise InputError("subgroups must be a table of at least 2 rows of equal size",
                         hint="give one row per subgroup", code="spc.subgroups")
    c = constants_for(int(g.shape[1]))
    means = g.mean(axis=1)
    ranges = g.max(axis=1) - g.min(axis=1)
    rbar = float(ranges.mean())
    xbb = float(means.mean())
    sigma = rbar / c.d2
    xbar = _chart("xbar", means, xbb, xbb - c.a2 * rbar, xbb + c.a2 * rbar, c.a2 * rbar / 3)
    r_sigma = c.d3 * sigma
    r = _chart("r", ranges, rbar, c.d3_lower * rbar, c.d4 * rbar, r_sigma)
    return xbar, r, sigma


def individuals_mr(values: ArrayLike) -> tuple[ControlChart, ControlChart, float]:
    """Individuals and moving-range charts; returns (i, mr, sigma_within = MR-bar/d2)."""
    x = _as_values(values, "values").ravel()
    if x.size < 3:
        raise InputError(f"individuals chart needs at least 3 measurements, got {x.size}",
                         hint="collect more parts", code="spc.too_few")
    c = constants_for(2)
    mr = np.abs(np.diff(x))
    mrbar = float(mr.mean())
    sigma = mrbar / c.d2
    center = float(x.mean())
    i_chart = _chart("individuals", x, center, center - 3 * sigma, center + 3 * sigma, sigma)
    mr_chart = _chart("moving_range", mr, mrbar, c.d3_lower * mrbar, c.d4 * mrbar, c.d3 * sigma)
    return i_chart, mr_chart, sigma


def spc_report(values: Sequence[float] | ArrayLike, tol: Tolerance, subgroup_size: int = 1) -> SpcReport:
    """Capability, the chart pair and alarms for one feature's measurements in production order.

    ``subgroup_size`` 1 gives individuals/MR charts; >1 groups consecutive values into subgroups
    (a trailing incomplete subgroup is an error) and gives X-bar/R charts.
    """
    x = _as_values(values, tol.feature).ravel()
    if subgroup_size < 1:
        raise InputError(f"subgroup size must be >= 1, got {subgroup_size}", code="spc.subgroup_size")
    if subgroup_size == 1:
        loc, disp, sigma = individuals_mr(x)
    else:
        if x.size % subgroup_size:
            raise InputError(f"{tol.feature}: {x.size} measurements do not fill subgroups of {subgroup_size}",
                             hint="give a multiple of the subgroup size", code="spc.subgroups")
        loc, disp, sigma = xbar_r(x.reshape(-1, subgroup_size))
    cap = capability(x, tol, sigma_within_mm=sigma)
    alarms = [f"{tol.feature} {ch.kind}: WE rule {v.rule}: {v.message}" for ch in (loc, disp)
              for v in ch.violations]
    if cap.out_of_tolerance:
        alarms.append(f"{tol.feature}: {cap.out_of_tolerance} measurement(s) out of tolerance")
    if cap.cpk is not None and cap.cpk < 1.0:
        alarms.append(f"{tol.feature}: Cpk {cap.cpk:.2f} < 1.00 (process not capable)")
    return SpcReport(feature=tol.feature, subgroup_size=subgroup_size, capability=cap, location=loc,
                     dispersion=disp, alarms=alarms)
