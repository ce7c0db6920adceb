"""The order timeline's texts (services/timeline.yaml): every text in both languages with the same values, the values
of the catalog translated, nested notes, and the English text stored with its key."""

from __future__ import annotations

import re

import pytest

from fabgrid.services import timeline


def test_every_text_has_both_languages_with_the_same_values() -> None:
    doc = timeline._catalog()
    for key, entry in doc["texts"].items():
        assert set(entry) == {"en", "zh"}, key
        en, zh = (set(re.findall(r"\{(\w+)\}", entry[lg])) for lg in ("en", "zh"))
        assert en == zh, key
        assert re.search(r"[\u4e00-\u9fff]", entry["zh"]), key
    for name, table in doc["values"].items():
        for value, entry in table.items():
            assert set(entry) == {"en", "zh"} and entry["en"] == value, (name, value)


def test_a_note_reads_in_either_language_and_nests() -> None:
    window = timeline.note("disruption_window", start="2026-12-05", end="2026-12-09")
    n = timeline.note("disruption_moved", disruption="ndr_1", kind="site", target="cs-tianxin-01", window=window,
                      site="cs-tianxin-01", new_site="jsh-jingkai-01", price="12.40",
                      delivery=timeline.note("delivery_kept", old_date="2026-12-20"))
    assert n.text == ("disruption ndr_1 (site cs-tianxin-01, from 2026-12-05 to 2026-12-09): moved from cs-tianxin-01 "
                      "to jsh-jingkai-01; price 12.40 CNY kept; delivery 2026-12-20 kept")
    zh = timeline.text(n.key, n.args, "zh-CN", site_name=lambda s: {"jsh-jingkai-01": "吉首经开"}.get(s, s))
    assert zh == ("网络中断 ndr_1（工厂停产 cs-tianxin-01，2026-12-05 至 2026-12-09）："
                  "由工厂 cs-tianxin-01 改至 吉首经开；价格 12.40 元不变；交期 2026-12-20 不变")
    assert timeline.text("placed_one", {"total": "5.00", "tier": "express", "consent": "consented"}, "zh") == \
        "按报价 5.00 元下单（加急）；设计共享：已同意"
    assert timeline.text("no_such_key", {}, "zh") == ""
    with pytest.raises(KeyError):
        timeline.note("no_such_key")

