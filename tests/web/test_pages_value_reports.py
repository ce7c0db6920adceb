"""The operator's value-report pages (issue 22, item 4): the form within the API's bounds, bad input shown on the form
in the page's language (422, nothing started), a comparison run in the background with its progress, then the report
in zh-CN and en (cards with a figure only, side by side, claims with their public source, SVG charts with labels in
the page's language, the assumptions as a table with the changed one marked), the past reports, and the
explanation of why the live KPIs and the simulator's differ. A tiny run (2 days, 2 seeds, 4 parts, 4 sites)."""

from __future__ import annotations

import re
import time

from pages_kit import Site, csrf_of

TINY = {"days": "2", "seeds": "2", "parts": "4", "sites": "4", "scale": "1", "seed": "0",
        "disruptions": "site:cs-tianxin-01:closed:day0-1", "a.fabgrid.batch_h": "2"}


def test_value_report_page_form_progress_report(site: Site) -> None:
    zh = site.browser("zh")
    op_email = site.account("operator")
    site.login(zh, op_email)
    page = zh.get("/operator/value-reports")
    assert page.status_code == 200 and 'id="vr-form"' in page.text and "价值报告" in page.text
    assert 'id="vr-days" min="1" max="60"' in page.text and 'id="vr-seeds" min="1" max="10"' in page.text
    assert "为什么实时 KPI 与模拟结果不同" in page.text and 'id="vr-differences"' in page.text
    assert "--set" not in page.text and "fabgrid simulate" not in page.text
    listed_before = page.text.count("data-report=")

    for bad, field_name, words in ((TINY | {"days": "61"}, "days", "模拟天数须为 1 到 60 之间的整数"),
                                   (TINY | {"seeds": "many"}, "seeds", "随机种子数须为 1 到 10"),
                                   (TINY | {"disruptions": "site:nowhere-01:closed:day1-2"}, "disruption",
                                    "中断所指的对象不在网络中"),
                                   (TINY | {"a.fabgrid.batch_h": "soon"}, "params", "假设的取值不适用")):
        r = zh.post("/operator/value-reports", data=bad | {"csrf_token": csrf_of(page.text)})
        assert r.status_code == 422, (bad, r.text[:400])
        assert f'data-field="{field_name}"' in r.text and words in r.text, (field_name, r.text[:2000])
        assert "--set" not in r.text and "--disruptions" not in r.text
        assert f'value="{bad[field_name]}"' in r.text if field_name in bad else True  # what was typed is kept
    page = zh.get("/operator/value-reports")
    assert page.text.count("data-report=") == listed_before  # nothing started

    r = zh.post("/operator/value-reports", data=TINY | {"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text[:500]
    url = r.headers["location"]
    assert re.fullmatch(r"/operator/value-reports/vrp_\w+", url)
    first = zh.get(url)
    assert first.status_code == 200
    if 'id="vr-progress"' in first.text:
        assert 'http-equiv="refresh"' in first.text and "次运行" in first.text
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        done = zh.get(url)
        if 'id="vr-progress"' not in done.text:
            break
        time.sleep(1)
    text = done.text
    assert 'id="vr-failed"' not in text, text[:3000]
    assert 'id="vr-cards"' in text and 'id="vr-side"' in text and 'id="vr-claims"' in text
    assert "每设备忙碌小时合格件数" in text and "传统模式" in text
    claims = text[text.index('id="vr-claims"'):]
    claims = claims[:claims.index("</table>")]
    assert "《人民日报》" in claims and "工业和信息化部" in claims and "国务院新闻办公室" in claims  # cited in Chinese
    assert "People&#39;s Daily" not in claims and "State Council" not in claims and "tracker" not in text
    assert "n/a" not in text and "nan" not in re.sub(r"<[^>]+>", " ", text).split()
    cards = re.findall(r'class="vr-card" data-metric="(\w+)">[^<]*<br><b>(.*?)</b>', text)
    assert all("—" not in shown for _, shown in cards)
    assert 'data-parameter="fabgrid.batch_h" class="changed"' in text
    assert 'data-parameter="demand.orders_per_day">' in text
    table = text[text.index('id="vr-assumptions"'):]
    table = table[:table.index("</table>")]
    assert "平均故障间隔时间（小时）" in table and "平台策略设置" in table  # names and sources in zh-CN
    assert "assumption:" not in table and "rule of thumb" not in table, table[:2000]
    assert '<svg class="vr-chart"' in text and 'data-chart="change"' in text and 'data-chart="oee"' in text
    assert "相对变化：fabgrid 相对传统模式" in text and "每日网络 OEE" in text and "第 0 天" in text
    assert 'id="vr-explain"' in text and 'id="vr-sim-oee"' in text

    en = site.browser("en")
    site.login(en, op_email)
    text = en.get(url).text
    assert "Good parts per busy machine-hour" in text and "Relative change, fabgrid vs traditional" in text
    assert "People&#39;s Daily" in text and "MIIT" in text  # the sources as published, in English
    assert "Mean time between failures (h)" in text and "platform policy settings" in text
    assert "Network OEE per day" in text and "Why the live KPIs and the simulator&#39;s figures differ" in text
    listed = en.get("/operator/value-reports").text
    rid = url.rsplit("/", 1)[1]
    assert f'data-report="{rid}" data-status="succeeded"' in listed and "fabgrid.batch_h=2" in listed
    assert en.get("/operator/value-reports/vrp_nope").status_code == 404
    buyer = site.browser("en")
    site.signup_buyer(buyer)
    assert buyer.get("/operator/value-reports").status_code in (303, 403)
