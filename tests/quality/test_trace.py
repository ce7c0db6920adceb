"""Traceability queries and the printable inspection report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fabgrid.domain.quality import (
    Genealogy,
    ImageResult,
    Inspection,
    LayerCheckResult,
    Tolerance,
    Verdict,
)
from fabgrid.errors import InputError
from fabgrid.quality.spc import spc_report
from fabgrid.quality.trace import containment, render_report, trace

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def part(serial: str, lot: str, machine: str, verdict: Verdict) -> Genealogy:
    insp = Inspection(id=f"I-{serial}", kind="dimensional", at=T0 + timedelta(hours=5), verdict=verdict,
                      summary="bore 10.1 mm", inspector="QA Li", measurements={"bore": 10.1})
    return Genealogy(part_serial=serial, part_name="bracket <v2>", order_id="O-1", customer="Acme & Co",
                     build_id="B-7", site_id="changsha-1", machine_id=machine, material_id="pa12",
                     material_lot=lot, operator="Wang", built_at=T0, inspections=[insp])


@pytest.fixture
def parts() -> list[Genealogy]:
    return [part("P1", "LOT-A", "M1", Verdict.PASS), part("P2", "LOT-A", "M2", Verdict.FAIL),
            part("P3", "LOT-B", "M1", Verdict.PASS), part("P4", "LOT-B", "M3", Verdict.PASS)]


def test_trace_by_lot_and_machine(parts: list[Genealogy]) -> None:
    assert [g.part_serial for g in trace(parts, "material_lot", "LOT-A")] == ["P1", "P2"]
    assert [g.part_serial for g in trace(parts, "machine_id", "M1")] == ["P1", "P3"]
    with pytest.raises(InputError):
        trace(parts, "colour", "red")


def test_containment_lists_parts_sharing_lot_or_machine_with_a_failure(parts: list[Genealogy]) -> None:
    assert containment(parts) == {"material_lot=LOT-A": ["P1", "P2"], "machine_id=M2": ["P2"]}


def test_verdict_and_utc() -> None:
    assert part("P9", "L", "M", Verdict.FAIL).verdict is Verdict.FAIL
    with pytest.raises(ValueError):
        Genealogy(part_serial="x", part_name="x", order_id="o", customer="c", build_id="b", site_id="s",
                  machine_id="m", material_id="pa12", material_lot="l", operator="op",
                  built_at=datetime(2026, 1, 1))


def test_report_is_printable_html(parts: list[Genealogy]) -> None:
    rep = spc_report([10.0, 10.2, 9.9, 10.1, 10.3],
                     Tolerance(feature="bore", nominal_mm=10.1, lsl_mm=9.5, usl_mm=10.7))
    layer = LayerCheckResult(z_mm=5.0, verdict=Verdict.PASS, shift_mm=(0.01, -0.02), expected_area_mm2=1087.0,
                             observed_area_mm2=1085.0, missing_area_mm2=0.0, excess_area_mm2=0.0, iou=0.99)
    img = ImageResult(image="top.png", score=3.2, defect=False, threshold=5.0)
    html = render_report(parts[1], spc=[rep], layers=[layer], images=[img], issued_at=T0)
    assert html.startswith("<!doctype html>") and "@media print" in html
    assert "bracket &lt;v2&gt;" in html and "Acme &amp; Co" in html  # escaped
    assert "LOT-A" in html and "M2" in html and "Wang" in html and "I-P2" in html
    assert "1.00" in html  # Cp = Cpk = 1.00 for this data
    assert 'class="fail">FAIL' in html
    assert html == render_report(parts[1], spc=[rep], layers=[layer], images=[img], issued_at=T0)
