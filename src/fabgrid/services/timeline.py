"""The texts of an order's timeline in both languages (services/timeline.yaml beside this module, issue 17 item 9:
a message catalog, not data of the network, so it is read from the package, not from the database).

A service writes an event as a `Note`: a key of the catalog and its values. The store keeps the English text (the
API's `note`, the webhooks, the e-mails) with the key and the values, so that a page shows the same event in its
reader's language (`text(key, args, lang)`); a value of the catalog's `values` (a tier, a decline reason, a
disruption's kind) is translated too, and a value may itself be a note (a disruption's window). Free text that a
person wrote (a factory's note) has no key and is shown as written.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from fabgrid.domain.order import OrderEvent, OrderStatus
from fabgrid.store.uow import UnitOfWork

#: Values whose text is a site id: a page shows the site's name in its language instead.
SITE_VALUES = frozenset({"site", "new_site"})


@functools.cache
def _catalog() -> dict[str, Any]:
    text = (resources.files("fabgrid.services") / "timeline.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text) or {}
    return {"texts": dict(doc.get("texts") or {}), "values": dict(doc.get("values") or {})}


def keys() -> frozenset[str]:
    """The keys of the catalog."""
    return frozenset(_catalog()["texts"])


@dataclass(frozen=True)
class Note:
    """One timeline text: its key and values (strings, or notes nested as `{"key", "args"}`)."""

    key: str
    args: Mapping[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The English text (what the API and the webhooks carry)."""
        return text(self.key, self.args, "en")


def note(key: str, **args: object) -> Note:
    """The note `key` with `args` (numbers are written as the caller formats them: pass strings; a `Note` nests).
    KeyError for a key the catalog does not have, so a typo fails in the tests, not on a page."""
    if key not in _catalog()["texts"]:
        raise KeyError(f"timeline text {key!r} is not in services/timeline.yaml")
    return Note(key, {k: ({"key": v.key, "args": dict(v.args)} if isinstance(v, Note) else str(v))
                      for k, v in args.items()})


def text(key: str | None, args: Mapping[str, Any] | None, lang: str,
         site_name: Callable[[str], str] | None = None) -> str:
    """The text of `key` with `args` in `lang` (zh / zh-CN, else English); '' for an unknown key. `site_name` turns
    the site ids of the values into names (the page's)."""
    entry = _catalog()["texts"].get(key or "")
    if entry is None:
        return ""
    lg = "zh" if lang.lower().startswith("zh") else "en"
    values = _catalog()["values"]
    shown: dict[str, str] = {}
    for k, v in (args or {}).items():
        if isinstance(v, Mapping):
            shown[k] = text(v.get("key"), v.get("args"), lang, site_name)
            continue
        v = str(v)
        table = values.get(k) or {}
        if v in table:
            shown[k] = str(table[v][lg])
        elif k in SITE_VALUES and site_name is not None:
            shown[k] = site_name(v)
        else:
            shown[k] = v
    return str(entry[lg]).format_map(_Blank(shown))


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def event(uow: UnitOfWork, order_id: str, status: OrderStatus, note_: Note | str, actor_user_id: int | None = None,
          **kw: Any) -> OrderEvent:
    """Append a timeline event (`uow.orders.event`) from a note or a free text."""
    if isinstance(note_, Note):
        return uow.orders.event(order_id, status, note_.text, actor_user_id, note_key=note_.key,
                                note_args=note_.args, **kw)
    return uow.orders.event(order_id, status, note_, actor_user_id, **kw)
