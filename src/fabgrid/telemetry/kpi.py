"""ISO 22400-2 KPIs per machine, site and network and per period, from state, count and energy events.

Pure functions over numpy arrays: every KPI is one formula of ISO 22400-2 (`FORMULAS` gives the
standard's text, checked term by term in the tests). Aggregates sum the elements (times,
quantities) first and then divide, never average ratios. Depends on numpy and domain only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from fabgrid.domain.telemetry import KpiElements, Kpis, MachineState
from fabgrid.telemetry.events import EventColumns
from fabgrid.telemetry.state import STATE_CODE, Periods, bucket_sum, held_integral, spread_sum, state_durations

F64 = NDArray[np.float64]


def ratio(num: F64, den: F64) -> F64:
    """num / den elementwise, NaN where den == 0 (the KPI is undefined, not zero)."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def availability(apt: F64, pbt: F64) -> F64:
    """Availability = APT / PBT."""
    return ratio(apt, pbt)


def effectiveness(pru_pq: F64, apt: F64) -> F64:
    """Effectiveness = PRU * PQ / APT (PRU x PQ summed over count events when PRU varies)."""
    return ratio(pru_pq, apt)


def quality_ratio(gq: F64, pq: F64) -> F64:
    """Quality ratio = GQ / PQ."""
    return ratio(gq, pq)


def oee(availability_: F64, effectiveness_: F64, quality_ratio_: F64) -> F64:
    """OEE index = Availability * Effectiveness * Quality rate."""
    return availability_ * effectiveness_ * quality_ratio_


def nee(aupt: F64, pbt: F64, effectiveness_: F64, quality_ratio_: F64) -> F64:
    """NEE index = AUPT / PBT * Effectiveness * Quality rate."""
    return ratio(aupt, pbt) * effectiveness_ * quality_ratio_


def technical_efficiency(apt: F64, adet: F64) -> F64:
    """Technical efficiency = APT / (APT + ADET)."""
    return ratio(apt, apt + adet)


def setup_rate(asut: F64, aupt: F64) -> F64:
    """Setup rate = ASUT / AUPT."""
    return ratio(asut, aupt)


def scrap_ratio(sq: F64, pq: F64) -> F64:
    """Scrap ratio = SQ / PQ."""
    return ratio(sq, pq)


def rework_ratio(rq: F64, pq: F64) -> F64:
    """Rework ratio = RQ / PQ."""
    return ratio(rq, pq)


def first_pass_yield(gp: F64, ip: F64) -> F64:
    """FPY = GP / IP (good at first pass over inspected parts)."""
    return ratio(gp, ip)


def throughput_rate(pq: F64, aoet_s: F64) -> F64:
    """Throughput rate = PQ / AOET, here in units per hour."""
    return ratio(pq, aoet_s / 3600.0)


#: KPI name -> (left-hand side in formulas.txt, right-hand side of ISO 22400-2, our function).
FORMULAS: dict[str, tuple[str, str, Callable[..., F64]]] = {
    "availability": ("Availability", "APT / PBT", availability),
    "effectiveness": ("Effectiveness", "PRU * PQ / APT", effectiveness),
    "quality_ratio": ("Quality ratio", "GQ / PQ", quality_ratio),
    "oee": ("OEE index", "Availability * Effectiveness * Quality rate", oee),
    "nee": ("NEE index", "AUPT / PBT * Effectiveness * Quality rate", nee),
    "technical_efficiency": ("Technical efficiency", "APT / (APT + ADET)", technical_efficiency),
    "setup_rate": ("Setup rate", "ASUT / AUPT", setup_rate),
    "scrap_ratio": ("Scrap ratio", "SQ / PQ", scrap_ratio),
    "rework_ratio": ("Rework ratio", "RQ / PQ", rework_ratio),
    "first_pass_yield": ("FPY", "GP / IP", first_pass_yield),
    "throughput_rate": ("Throughput rate", "PQ / AOET", throughput_rate),
}

ELEMENTS = ("pot_s", "pdot_s", "pbt_s", "apt_s", "asut_s", "adet_s", "idle_s", "offline_s", "aupt_s",
            "aubt_s", "aoet_s", "pq", "gq", "sq", "rq", "planned_time_s", "energy_kwh",
            "value_added_cny")
KPI_NAMES = ("availability", "effectiveness", "quality_ratio", "oee", "nee", "technical_efficiency",
             "setup_rate", "scrap_ratio", "rework_ratio", "first_pass_yield", "throughput_rate_per_h",
             "energy_kwh_per_good_unit", "energy_kwh_per_cny")


def elements(cols: EventColumns, periods: Periods) -> dict[str, F64]:
    """ISO 22400-2 elements per machine and period: name -> array (n_machines, n_periods)."""
    n = cols.n_machines
    d = state_durations(cols.state_m, cols.state_ts, cols.state_code, n, periods)

    def st(s: MachineState) -> F64:
        return d[:, :, STATE_CODE[s]]

    c_start, c_end = cols.count_interval()

    def cnt(v: F64) -> F64:
        return spread_sum(cols.count_m, c_start, c_end, v, n, periods)

    apt, asut = st(MachineState.PRODUCING), st(MachineState.SETUP)
    adet, idle = st(MachineState.UNPLANNED_DOWNTIME), st(MachineState.IDLE)
    pdot, offline = st(MachineState.PLANNED_DOWNTIME), st(MachineState.OFFLINE)
    good, scrap = cnt(cols.good), cnt(cols.scrap)
    energy = bucket_sum(cols.energy_m, cols.energy_ts, cols.energy_kwh, n, periods)
    energy = energy + held_integral(cols.power_m, cols.power_ts, cols.power_w, n, periods) / 3.6e6
    pbt = apt + asut + adet + idle
    return {
        "pot_s": pbt + pdot, "pdot_s": pdot, "pbt_s": pbt, "apt_s": apt, "asut_s": asut, "adet_s": adet,
        "idle_s": idle, "offline_s": offline, "aupt_s": apt + asut, "aubt_s": apt + asut + adet,
        "aoet_s": apt + asut + adet, "pq": good + scrap, "gq": good, "sq": scrap, "rq": cnt(cols.rework),
        "planned_time_s": cnt(cols.planned_s), "energy_kwh": energy,
        "value_added_cny": cnt(cols.value_cny) if cols.value_cny is not None else np.zeros_like(energy),
    }


def kpis_from_elements(e: dict[str, F64]) -> dict[str, F64]:
    """Every KPI from the elements, same shape as the element arrays (NaN where undefined)."""
    a = availability(e["apt_s"], e["pbt_s"])
    eff = effectiveness(e["planned_time_s"], e["apt_s"])
    q = quality_ratio(e["gq"], e["pq"])
    return {
        "availability": a,
        "effectiveness": eff,
        "quality_ratio": q,
        "oee": oee(a, eff, q),
        "nee": nee(e["aupt_s"], e["pbt_s"], eff, q),
        "technical_efficiency": technical_efficiency(e["apt_s"], e["adet_s"]),
        "setup_rate": setup_rate(e["asut_s"], e["aupt_s"]),
        "scrap_ratio": scrap_ratio(e["sq"], e["pq"]),
        "rework_ratio": rework_ratio(e["rq"], e["pq"]),
        "first_pass_yield": first_pass_yield(e["gq"] - e["rq"], e["pq"]),
        "throughput_rate_per_h": throughput_rate(e["pq"], e["aoet_s"]),
        "energy_kwh_per_good_unit": ratio(e["energy_kwh"], e["gq"]),
        "energy_kwh_per_cny": ratio(e["energy_kwh"], e["value_added_cny"]),
    }


@dataclass(frozen=True)
class KpiTable:
    """KPIs of every machine, site and the network, per period and over the whole window.

    Arrays have shape (n_keys, n_periods + 1); the last column is the whole window.
    """

    periods: Periods
    machines: tuple[str, ...]
    machine_site: tuple[str | None, ...]
    sites: tuple[str, ...]
    elements: dict[str, dict[str, F64]]
    kpis: dict[str, dict[str, F64]]

    def co2_kg(self, co2_kg_per_kwh: dict[str, float]) -> dict[str, F64]:
        """kg CO2e per scope from each site's grid factor (NaN where a machine's site has none)."""
        factor = np.array([co2_kg_per_kwh.get(s, np.nan) if s is not None else np.nan
                           for s in self.machine_site])
        per = self.elements["machine"]["energy_kwh"] * factor[:, None]
        known = ~np.isnan(per)
        by_site = np.array([co2_kg_per_kwh.get(s, np.nan) for s in self.sites])[:, None]
        site = self.elements["site"]["energy_kwh"] * by_site
        net = np.where(known.any(axis=0, keepdims=True), np.nansum(per, axis=0, keepdims=True), np.nan)
        return {"machine": per, "site": site, "network": net}

    def rows(self, co2_kg_per_kwh: dict[str, float] | None = None, *, per_period: bool = True) -> list[Kpis]:
        """KPI records: machines, then sites, then the network; per period (if several) and in total."""
        keys = {"machine": self.machines, "site": self.sites, "network": ("network",)}
        edges = self.periods.edges
        cols = list(range(self.periods.n)) if per_period and self.periods.n > 1 else []
        cols.append(self.periods.n)
        co2 = None if co2_kg_per_kwh is None else self.co2_kg(co2_kg_per_kwh)
        out: list[Kpis] = []
        for scope, names in keys.items():
            el, kp = self.elements[scope], self.kpis[scope]
            for i, key in enumerate(names):
                site = self.machine_site[i] if scope == "machine" else key if scope == "site" else None
                for j in cols:
                    lo, hi = (edges[0], edges[-1]) if j == self.periods.n else (edges[j], edges[j + 1])
                    energy = float(el["energy_kwh"][i, j])
                    co2_ij = None if co2 is None else _opt(co2[scope][i, j])
                    out.append(Kpis(
                        scope=scope,  # type: ignore[arg-type]
                        key=key, site=site, period_start=_dt(lo), period_end=_dt(hi),
                        energy_kwh=energy, co2_kg=co2_ij,
                        elements=KpiElements(**{k: float(v[i, j]) for k, v in el.items()}),
                        **{k: _opt(v[i, j]) for k, v in kp.items()},
                    ))
        return out


def compute(cols: EventColumns, periods: Periods) -> KpiTable:
    """KPIs of every machine, site and of the network, per period and over the whole window."""
    return table_from_elements(elements(cols, periods), cols.machines, cols.sites, periods)


def table_from_elements(per_machine: dict[str, F64], machines: tuple[str, ...], machine_sites: tuple[str | None, ...],
                        periods: Periods) -> KpiTable:
    """The KPI table of per-machine elements (name -> (n_machines, n_periods), e.g. summed from hourly roll-ups):
    the whole window appended, sites and the network summed, every KPI from the sums."""
    per = {k: np.concatenate([v, v.sum(axis=1, keepdims=True)], axis=1) for k, v in per_machine.items()}
    sites = tuple(sorted({s for s in machine_sites if s is not None}))
    site_idx = np.array([sites.index(s) if s is not None else -1 for s in machine_sites], dtype=np.int64)
    by_site: dict[str, F64] = {}
    for k, v in per.items():
        agg = np.zeros((len(sites), v.shape[1]))
        ok = site_idx >= 0
        np.add.at(agg, site_idx[ok], v[ok])
        by_site[k] = agg
    network = {k: v.sum(axis=0, keepdims=True) for k, v in per.items()}
    el = {"machine": per, "site": by_site, "network": network}
    return KpiTable(periods=periods, machines=machines, machine_site=machine_sites, sites=sites,
                    elements=el, kpis={k: kpis_from_elements(v) for k, v in el.items()})


def _opt(v: float) -> float | None:
    f = float(v)
    return None if f != f else f


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(float(t), UTC)
