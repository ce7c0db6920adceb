"""The buyer's cart: the quote offers chosen for one order (quote, site, tier), kept in the `fabgrid_cart`
cookie until the order is placed. The cookie holds ids only; placing the order checks every quote again.

Depends on FastAPI/Starlette and services.orders' line type only.
"""

from __future__ import annotations

import json
import re

from fastapi import Request
from fastapi.responses import Response

from fabgrid.services.orders import LineRequest

COOKIE = "fabgrid_cart"
#: Lines the cart holds (the cookie stays well under the browsers' 4 KB).
MAX_ITEMS = 20
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def read(request: Request) -> list[LineRequest]:
    """The cart's lines; a damaged cookie is an empty cart."""
    raw = request.cookies.get(COOKIE, "")
    try:
        items = json.loads(raw) if raw else []
    except ValueError:
        return []
    out: list[LineRequest] = []
    for it in items if isinstance(items, list) else []:
        if not isinstance(it, list) or len(it) != 3:
            continue
        q, site, tier = it
        if isinstance(q, str) and _ID.match(q) and all(v is None or (isinstance(v, str) and _ID.match(v))
                                                       for v in (site, tier)):
            out.append(LineRequest(q, site, tier))
    return out[:MAX_ITEMS]


def write(request: Request, response: Response, items: list[LineRequest]) -> None:
    """Store the cart's lines on `response` (an empty cart deletes the cookie)."""
    if not items:
        response.delete_cookie(COOKIE, path="/")
        return
    doc = json.dumps([[i.quote_id, i.site, i.tier] for i in items[-MAX_ITEMS:]], separators=(",", ":"))
    response.set_cookie(COOKIE, doc, path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", max_age=7 * 86400)
