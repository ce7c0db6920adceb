"""Contracts of awarded RFQs: the parties (legal names and unified social credit codes from the factories'
applications), the documents with their SHA-256, the lines with price, quantity and delivery date, payment terms
and milestones, and the acceptance of both sides. A version both sides accepted is signed and never changes; a
change is a new version that both accept again. Renders as a PDF in zh-CN or en with the CJK font embedded
(WeasyPrint; the font comes from fontconfig: Debian's fonts-noto-cjk).

Depends on the store, services.network/messages and the domain; never on api, web or cli.
"""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from fabgrid.config import Settings
from fabgrid.domain.factory import ApplicationStatus
from fabgrid.domain.rfq import Contract, ContractStatus
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import network
from fabgrid.services._util import new_id, now
from fabgrid.services.accounts import Principal
from fabgrid.services.messages import is_operator, notify, texts
from fabgrid.store.uow import UnitOfWork

SHANGHAI = ZoneInfo("Asia/Shanghai")
LANGS = ("zh-CN", "en")
#: The payment terms of a new contract unless the award names others: 30 % advance, 70 % on acceptance.
DEFAULT_PAYMENT = {"advance_pct": 30.0, "on_acceptance_pct": 70.0}


def check_payment(terms: dict[str, float] | None) -> dict[str, float]:
    """Payment terms as percentages of the price that add up to 100."""
    t = dict(DEFAULT_PAYMENT if terms is None else terms)
    adv, rest = float(t.get("advance_pct", -1)), float(t.get("on_acceptance_pct", -1))
    if not (0 <= adv <= 100 and 0 <= rest <= 100) or abs(adv + rest - 100) > 1e-6:
        raise InputError(f"payment terms {adv:g} % advance + {rest:g} % on acceptance do not add up to 100 %",
                         hint="e.g. {advance_pct: 30, on_acceptance_pct: 70}", code="contract.payment")
    return {"advance_pct": adv, "on_acceptance_pct": rest}


def party_of_site(uow: UnitOfWork, site_id: str) -> dict[str, Any]:
    """The factory side: legal name and credit code from its approved application (a seed site: its name)."""
    app = next((a for a in uow.factories.applications(ApplicationStatus.APPROVED) if a.site_id == site_id), None)
    if app is not None:
        return {"site_id": site_id, "legal_name": app.legal_name, "credit_code": app.credit_code,
                "address": app.address}
    s = network.site(uow, site_id)
    return {"site_id": site_id, "legal_name": s.name, "credit_code": None, "address": f"{s.city}, {s.province}"}


def party_of_buyer(uow: UnitOfWork, organisation_id: int) -> dict[str, Any]:
    """The buyer side: its organisation's name, and its credit code where it applied as a factory too."""
    org = uow.organisations.get(organisation_id)
    app = next((a for a in uow.factories.applications(organisation_id=organisation_id)
                if a.status is ApplicationStatus.APPROVED), None)
    return {"organisation_id": organisation_id, "legal_name": app.legal_name if app else (org.name if org else ""),
            "credit_code": app.credit_code if app else None}


def milestones(delivery: date, payment: dict[str, float], claim_days: float) -> list[dict[str, Any]]:
    """The milestones of a contract: advance, delivery, acceptance (with the shipped labels)."""
    labels = {m["key"]: m for m in texts()["milestones"]}
    due = {"advance": None, "delivery": delivery.isoformat(), "acceptance": None}
    pct = {"advance": payment["advance_pct"], "delivery": None, "acceptance": payment["on_acceptance_pct"]}
    return [{"key": k, "due": due[k], "payment_pct": pct[k], "zh-CN": labels[k]["zh-CN"], "en": labels[k]["en"],
             "within_days_of_delivery": claim_days if k == "acceptance" else None} for k in due]


def new_contract(uow: UnitOfWork, *, rfq_id: str, order_id: str, organisation_id: int, site_id: str,
                 terms: dict[str, Any], version: int = 1, previous_id: str | None = None) -> Contract:
    """A draft contract version, in the caller's unit of work."""
    c = Contract(id=new_id("ctr"), rfq_id=rfq_id, order_id=order_id, organisation_id=organisation_id,
                 site_id=site_id, version=version, previous_id=previous_id, status=ContractStatus.DRAFT,
                 total_cny=round(float(terms["total_cny"]), 2), terms=terms, created_at=now())
    uow.rfq.add_contract(c)
    return c


def _side(c: Contract, who: Principal) -> str | None:
    if who.role == "factory":
        return "factory" if who.site_id == c.site_id else None
    if is_operator(who):
        return None
    return "buyer" if who.organisation_id == c.organisation_id else None


def _visible(uow: UnitOfWork, who: Principal, contract_id: str) -> Contract:
    c = uow.rfq.contract(contract_id)
    if c is None or (_side(c, who) is None and not is_operator(who)):
        raise NotFoundError(f"contract {contract_id!r} not found", code="contract.not_found")
    return c


def get_contract(settings: Settings, who: Principal, contract_id: str) -> Contract:
    """A contract version, for its two sides and the operators."""
    with UnitOfWork(settings.database_url) as uow:
        return _visible(uow, who, contract_id)


def versions(settings: Settings, who: Principal, contract_id: str) -> list[Contract]:
    """Every version of the contract's order, oldest first."""
    with UnitOfWork(settings.database_url) as uow:
        c = _visible(uow, who, contract_id)
        return uow.rfq.contracts_of_order(c.order_id)


def accept(settings: Settings, who: Principal, contract_id: str) -> Contract:
    """The caller's side accepts a draft; with both sides it is signed (and a version it replaces superseded).
    409 for a second acceptance by one side or for a version signed or superseded already."""
    with UnitOfWork(settings.database_url) as uow:
        c = _visible(uow, who, contract_id)
        side = _side(c, who)
        if side is None:
            raise InputError("only the buyer and the factory of a contract accept it", code="contract.not_party",
                             status=403)
        if c.status is not ContractStatus.DRAFT:
            raise InputError(f"contract {c.id} (version {c.version}) is {c.status.value}; it cannot change",
                             hint="propose a new version: POST /api/v1/contracts/{id}/versions",
                             code="contract.immutable", status=409)
        at = now()
        if not uow.rfq.accept_contract(c.id, side, who.user_id, at):
            raise InputError(f"the {side} accepted contract {c.id} already", code="contract.accepted", status=409)
        c = uow.rfq.contract(c.id) or c
        job_ids: list[str] = []
        if c.buyer_at is not None and c.factory_at is not None:
            uow.rfq.sign(c.id, at)
            for old in uow.rfq.contracts_of_order(c.order_id):
                if old.id != c.id and old.status is ContractStatus.SIGNED:
                    uow.rfq.supersede(old.id)
            job_ids = notify(uow, settings, organisation_ids=[c.organisation_id], site_ids=[c.site_id],
                             subject=f"fabgrid：合同 {c.id} 已签署 / contract {c.id} signed",
                             body=f"/api/v1/contracts/{c.id}/pdf")
        uow.commit()
        signed = uow.rfq.contract(c.id) or c
    from fabgrid.services import jobs

    for j in job_ids:
        jobs.submit(settings, j)
    return signed


def propose_version(settings: Settings, who: Principal, contract_id: str, *,
                    payment_terms: dict[str, float] | None = None, delivery_date: date | None = None,
                    note: str = "") -> Contract:
    """A change: a new draft version of the latest version with new payment terms or delivery date, which both
    sides accept again; the signed version stays in force until then."""
    with UnitOfWork(settings.database_url) as uow:
        c = _visible(uow, who, contract_id)
        if _side(c, who) is None:
            raise InputError("only the buyer and the factory of a contract change it", code="contract.not_party",
                             status=403)
        latest = uow.rfq.contracts_of_order(c.order_id)[-1]
        if latest.id != c.id:
            raise InputError(f"contract {c.id} is version {c.version}; version {latest.version} ({latest.id}) is "
                             "the latest", code="contract.not_latest", status=409)
        terms = dict(c.terms)
        if payment_terms is not None:
            terms["payment_terms"] = check_payment(payment_terms)
        if delivery_date is not None:
            terms["delivery_date"] = delivery_date.isoformat()
        if terms == c.terms:
            raise InputError("the new version changes nothing", hint="give payment_terms or delivery_date",
                             code="contract.no_change")
        pay = terms["payment_terms"]
        terms["milestones"] = milestones(date.fromisoformat(terms["delivery_date"]), pay,
                                         float(terms.get("claim_window_days", settings.claim_window_days)))
        terms["change_note"] = note.strip()[:500]
        new = new_contract(uow, rfq_id=c.rfq_id, order_id=c.order_id, organisation_id=c.organisation_id,
                           site_id=c.site_id, terms=terms, version=c.version + 1, previous_id=c.id)
        uow.commit()
        return new


# ---------------------------------------------------------------------------- the document


def _local(ts: Any) -> str:
    return ts.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if ts is not None else ""


def contract_html(c: Contract, lang: str) -> str:
    """The contract as self-contained HTML in `lang` (zh-CN or en); both languages' party names are kept."""
    if lang not in LANGS:
        raise InputError(f"lang {lang!r} is not one of {', '.join(LANGS)}", code="contract.lang")
    t = texts()["contract"][lang]
    e = escape
    terms = c.terms
    buyer, factory = terms["parties"]["buyer"], terms["parties"]["factory"]

    def party(label: str, p: dict[str, Any]) -> str:
        return (f"<tr><th>{e(label)}</th><td>{e(t['legal_name'])}: {e(str(p.get('legal_name') or ''))}<br>"
                f"{e(t['credit_code'])}: {e(str(p.get('credit_code') or t['not_given']))}</td></tr>")

    rows = "".join(
        f"<tr><td>{e(str(ln['filename']))}</td><td>{e(str(ln['process']))}</td><td>{e(str(ln['material']))}</td>"
        f"<td class=n>{ln['quantity']}</td><td class=n>{ln['unit_price_cny']:.2f}</td>"
        f"<td class=n>{ln['total_cny']:.2f}</td><td>{e(str(ln['delivery_date']))}</td></tr>" for ln in terms["lines"])
    docs = "".join(f"<li>{e(str(d['kind']))}: {e(str(d['name']))}<br><code>{e(str(d['sha256']))}</code></li>"
                   for d in terms["documents"])
    miles = "".join(f"<li>{e(str(m[lang]))}" + (f" ({e(str(m['due']))})" if m.get("due") else "")
                    + (f" — {m['payment_pct']:g} %" if m.get("payment_pct") is not None else "") + "</li>"
                    for m in terms["milestones"])
    pay = terms["payment_terms"]

    def accepted(at: Any) -> str:
        return f"{e(t['accepted_by'])} {_local(at)}" if at is not None else e(t["pending"])

    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{e(t['title'])} {e(c.id)}</title>
<style>@page{{size:A4;margin:18mm}}body{{font-family:"Noto Sans CJK SC","Noto Sans CJK",sans-serif;font-size:10pt}}
table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #999;padding:3pt;text-align:left;vertical-align:top}}
.n{{text-align:right}}code{{font-size:7pt}}</style></head><body>
<h1>{e(t['title'])} {e(c.id)}</h1>
<p>{e(t['version'])} {c.version} · {e(t['status'])}: {e(t[c.status.value])} · RFQ {e(c.rfq_id)} · {e(c.order_id)}</p>
<h2>{e(t['parties'])}</h2><table>{party(t['buyer'], buyer)}{party(t['factory'], factory)}</table>
<h2>{e(t['lines'])}</h2><table><tr><th>{e(t['part'])}</th><th>{e(t['process'])}</th><th>{e(t['material'])}</th>
<th>{e(t['quantity'])}</th><th>{e(t['unit_price'])}</th><th>{e(t['total'])}</th><th>{e(t['delivery'])}</th></tr>{rows}</table>
<p><strong>{e(t['total_price'])}: {c.total_cny:.2f}</strong> · {e(t['delivery'])}: {e(str(terms['delivery_date']))}</p>
<h2>{e(t['payment'])}</h2><p>{e(t['advance'])} {pay['advance_pct']:g} % · {e(t['on_acceptance'])}
{pay['on_acceptance_pct']:g} %</p><p>{e(str(t['claims']).format(days=f"{terms['claim_window_days']:g}"))}</p>
<h2>{e(t['milestones'])}</h2><ol>{miles}</ol>
<h2>{e(t['documents'])}</h2><ul>{docs}</ul>
<h2>{e(t['acceptance'])}</h2><table><tr><th>{e(t['buyer'])}</th><td>{accepted(c.buyer_at)}</td></tr>
<tr><th>{e(t['factory'])}</th><td>{accepted(c.factory_at)}</td></tr></table>
</body></html>"""


def contract_pdf(settings: Settings, who: Principal, contract_id: str, lang: str = "zh-CN") -> bytes:
    """The contract version as a PDF in `lang`, the CJK font subset embedded."""
    c = get_contract(settings, who, contract_id)
    html = contract_html(c, lang)
    import weasyprint

    pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf
