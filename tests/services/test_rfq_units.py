"""Pure pieces of issue 19's services: attachments recognised by their bytes, the ranking figure, payment terms,
the NDA's hash and the contract document in both languages."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
import trimesh

from fabgrid.domain.rfq import Contract, ContractStatus
from fabgrid.errors import InputError
from fabgrid.services import attachments, contracts, rfq
from fabgrid.services.factories import Scorecard


@pytest.mark.parametrize(("name", "data", "media"), [
    ("d.pdf", b"%PDF-1.7\n...", "application/pdf"),
    ("p.PNG", b"\x89PNG\r\n\x1a\n....", "image/png"),
    ("p.jpeg", b"\xff\xd8\xff\xe0....", "image/jpeg"),
    ("m.step", b"ISO-10303-21;\nHEADER;", "model/step"),
    ("m.3mf", b"PK\x03\x04....", "model/3mf"),
    ("m.stl", trimesh.creation.box((1, 2, 3)).export(file_type="stl"), "model/stl"),
    ("m.stl", b"solid box\n facet normal 0 0 1\n", "model/stl"),
    ("scan", b"%PDF-1.4 no extension", "application/pdf"),
])
def test_media_types_come_from_the_bytes(name: str, data: bytes, media: str) -> None:
    assert attachments.media_type(name, data) == media


@pytest.mark.parametrize(("name", "data", "code"), [
    ("drawing.pdf", b"\x89PNG\r\n\x1a\n", "file.type_mismatch"),
    ("photo.png", b"%PDF-1.7", "file.type_mismatch"),
    ("m.stl", b"not an stl at all", "file.type_mismatch"),
    ("notes.docx", b"PK\x03\x04", "file.type"),
    ("x.bin", b"\x00\x01\x02", "file.type"),
])
def test_a_file_that_is_not_what_it_says_is_415(name: str, data: bytes, code: str) -> None:
    with pytest.raises(InputError) as err:
        attachments.media_type(name, data)
    assert err.value.code == code and err.value.status == 415


def test_size_limit() -> None:
    attachments.check_size(attachments.MAX_FILE_BYTES)
    with pytest.raises(InputError) as err:
        attachments.check_size(attachments.MAX_FILE_BYTES + 1)
    assert err.value.status == 413 and err.value.code == "file.size"


def test_standing_is_the_mean_of_the_known_rates() -> None:
    assert rfq.standing(None) == 0.5
    empty = Scorecard(days=90, orders=0, lines=0, delivered=0, on_time_rate=None, quality_issue_rate=None)
    assert rfq.standing(empty) == 0.5
    sc = Scorecard(days=90, orders=4, lines=4, delivered=4, on_time_rate=1.0, quality_issue_rate=0.5,
                   acceptance_rate=0.75, claim_rate=0.25)
    assert rfq.standing(sc) == pytest.approx((1.0 + 0.5 + 0.75 + 0.75) / 4)
    worse = Scorecard(days=90, orders=4, lines=4, delivered=4, on_time_rate=1.0, quality_issue_rate=0.5,
                      acceptance_rate=0.75, claim_rate=1.0)
    assert rfq.standing(worse) < rfq.standing(sc)


def test_payment_terms_add_up_to_100() -> None:
    assert contracts.check_payment(None) == {"advance_pct": 30.0, "on_acceptance_pct": 70.0}
    assert contracts.check_payment({"advance_pct": 0, "on_acceptance_pct": 100})["advance_pct"] == 0
    for bad in ({"advance_pct": 30, "on_acceptance_pct": 60}, {"advance_pct": -10, "on_acceptance_pct": 110}, {}):
        with pytest.raises(InputError, match="do not add up"):
            contracts.check_payment(bad)


def test_the_nda_hash_is_of_both_texts() -> None:
    n = rfq.nda()
    assert "保密" in n.zh and "Non-disclosure" in n.en
    assert n.sha256 == hashlib.sha256((n.zh + "\n\n" + n.en).encode()).hexdigest()


def test_contract_document_in_both_languages() -> None:
    terms = {"parties": {"buyer": {"legal_name": "湘江机器人有限公司", "credit_code": None},
                         "factory": {"legal_name": "长沙麓谷增材科技有限公司", "credit_code": "91430100MA4L0XXXXD"}},
             "lines": [{"filename": "bracket.stl", "process": "fdm", "material": "fdm_pla", "quantity": 500,
                        "unit_price_cny": 9.8, "total_cny": 4900.0, "delivery_date": "2027-01-10"}],
             "total_cny": 4900.0, "delivery_date": "2027-01-10",
             "payment_terms": {"advance_pct": 30.0, "on_acceptance_pct": 70.0}, "claim_window_days": 7.0,
             "milestones": contracts.milestones(datetime(2027, 1, 10).date(), {"advance_pct": 30.0,
                                                                               "on_acceptance_pct": 70.0}, 7.0),
             "documents": [{"kind": "drawing", "name": "b.pdf", "sha256": "ab" * 32}]}
    c = Contract(id="ctr_1", rfq_id="rfq_1", order_id="ord_1", organisation_id=1, site_id="s", version=1,
                 status=ContractStatus.DRAFT, total_cny=4900.0, terms=terms, created_at=datetime.now(UTC))
    zh, en = contracts.contract_html(c, "zh-CN"), contracts.contract_html(c, "en")
    assert "制造合同" in zh and "统一社会信用代码" in zh and "未提供" in zh and "交货后 7 天内" in zh
    assert "Manufacturing contract" in en and "not given" in en and "within 7 days" in en
    assert "长沙麓谷增材科技有限公司" in en and "4900.00" in en and "ab" * 32 in en
    with pytest.raises(InputError):
        contracts.contract_html(c, "fr")
