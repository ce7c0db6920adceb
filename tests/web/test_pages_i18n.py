"""The message catalog, the language choice, Shanghai times, and the pure helpers of the pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib import resources

import pytest
import yaml

from fabgrid.errors import InputError
from fabgrid.web import i18n
from fabgrid.web.factory import next_status, parse_measurements
from fabgrid.web.session import local_path


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    en, zh = i18n.catalog("en"), i18n.catalog("zh")
    # errors.zh.yaml and findings.zh.yaml: the problems' and the DFM findings' texts by code, Chinese only (English
    # pages keep the service's and the engine's own sentences)
    zh_only = {k for name in ("errors.zh.yaml", "findings.zh.yaml") for k in yaml.safe_load(
        (resources.files("fabgrid.web.i18n") / name).read_text(encoding="utf-8"))}
    assert zh_only and all(k.startswith(("error.", "finding.", "limit.")) for k in zh_only)
    assert set(en) == set(zh) - zh_only
    ph = re.compile(r"\{(\w+)\}")
    for key in en:
        assert set(ph.findall(en[key])) == set(ph.findall(zh[key])), key
    assert en["yes"] == "yes" and zh["yes"] == "是"  # YAML 1.1 would read a bare `yes:` key as True


def test_every_simulator_assumption_has_a_name_and_its_source_in_both_languages() -> None:
    from fabgrid.sim.config import load_params
    from fabgrid.sim.report import assumption_rows

    params = load_params()
    en, zh = i18n.catalog("en"), i18n.catalog("zh")
    assert [k for k, _, _ in assumption_rows(params) if f"vr.param.{k}" not in en] == []
    for section, source in params.sources.items():  # the English text is the data's own, word for word
        assert en.get(f"vr.source.{section}") == source, section
        assert re.search(r"[\u4e00-\u9fff]", zh[f"vr.source.{section}"]), section


def test_every_place_of_the_network_has_its_chinese_name() -> None:
    from fabgrid.data import load_document
    from fabgrid.network.geo import load_logistics

    logistics = load_logistics()
    provinces = {str(p["id"]): str(p["name_zh"]) for p in load_document("provinces.yaml")["provinces"]}
    assert [c.name for c in logistics.cities.values() if not re.fullmatch(r"[\u4e00-\u9fff]{2,4}", c.name_zh)] == []
    zh = provinces | logistics.province_names_zh
    assert sorted({c.province for c in logistics.cities.values()} - set(zh)) == []
    from fabgrid.data import load_network

    sites = load_network().sites.values()  # where a factory is, a page names in Chinese too
    assert sorted({s.city for s in sites} - {c.name for c in logistics.cities.values()}) == []
    assert sorted({s.province for s in sites} - set(zh)) == []


def test_every_key_used_by_the_templates_is_in_the_catalog() -> None:
    root = resources.files("fabgrid.web") / "templates"
    used = set()
    for f in root.iterdir():
        if f.name.endswith(".html"):
            used |= set(re.findall(r"\bt\('([a-z_]+\.[a-z_.]+)'", f.read_text(encoding="utf-8")))
    missing = sorted(k for k in used if k not in i18n.catalog("en"))
    assert not missing
    assert len(used) > 100


@pytest.mark.parametrize(("cookie", "header", "expected"), [
    ("zh", "en-US,en", "zh"),
    ("fr", "zh-CN,zh;q=0.9", "zh"),
    (None, "en-GB,en;q=0.9,zh;q=0.8", "en"),
    (None, "de-DE,zh-TW;q=0.7,en;q=0.5", "zh"),
    (None, "zh;q=0.2,en;q=0.9", "en"),
    (None, None, "en"),
    (None, "garbage;q=x", "en"),
])
def test_pick_language(cookie: str | None, header: str | None, expected: str) -> None:
    assert i18n.pick_language(cookie, header) == expected


def test_translate_formats_and_falls_back() -> None:
    assert i18n.translate("zh", "offer.days", n=3) == "3 天"
    assert i18n.translate("en", "offer.days", n=3) == "3 days"
    assert i18n.translate("zh", "no.such.key") == "no.such.key"


def test_local_time_is_shanghai() -> None:
    assert i18n.local_time("2026-01-31T20:30:00+00:00") == "2026-02-01 04:30"
    assert i18n.local_time(datetime(2026, 6, 1, 0, 0, tzinfo=UTC), "%H:%M") == "08:00"
    assert i18n.local_time("2026-06-01T00:00:00") == "2026-06-01 08:00"  # naive = UTC (SQLite)
    assert i18n.local_time(None) == ""


@pytest.mark.parametrize(("path", "expected"), [
    ("/orders/ord_1?x=1", "/orders/ord_1?x=1"), ("//evil.example.com", "/"), ("https://evil.example.com", "/"),
    ("/\\evil", "/"), ("", "/"), ("orders", "/"),
])
def test_local_path_refuses_off_site_redirects(path: str, expected: str) -> None:
    assert local_path(path) == expected


def test_measurements_and_next_status() -> None:
    assert parse_measurements("length_mm = 40.02\n\nhole.d: -0.5") == ({"length_mm": 40.02, "hole.d": -0.5}, [])
    free, feats = parse_measurements("bore_d = 5.01 4.99, 5.06 | 5.00 ± 0.05\nslot = 2.1 | 2.0 +0.2 -0.1")
    assert free == {} and [(f.name, f.lsl_mm, f.usl_mm, f.values, f.out_of_tolerance) for f in feats] == [
        ("bore_d", 4.95, 5.05, (5.01, 4.99, 5.06), 1), ("slot", 1.9, 2.2, (2.1,), 0)]
    with pytest.raises(InputError, match="line 1"):
        parse_measurements("bore_d = 5.0 | 5.00 ± 0")  # a tolerance of 0 leaves no room
    with pytest.raises(InputError, match="line 1"):
        parse_measurements("forty")
    assert next_status("allocated") == "in_production"
    assert next_status("in_production") == "built"
    assert next_status("built") is None  # inspected comes from the inspection form
    assert next_status("inspected") == "shipped"
    assert next_status("delivered") is None
