"""The pages' message catalog: Simplified Chinese and English strings by key (en.yaml, zh.yaml beside this
file), the language of a request (cookie `lang`, else Accept-Language), and times in Asia/Shanghai.

Depends on PyYAML and the standard library only.
"""

from __future__ import annotations

import functools
from datetime import datetime
from importlib import resources
from zoneinfo import ZoneInfo

import yaml

LANGUAGES = ("zh", "en")
DEFAULT = "en"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """The messages of `lang` (a flat mapping key -> text)."""
    text = (resources.files("fabgrid.web.i18n") / f"{lang}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    return {str(k): str(v) for k, v in data.items()}


def translate(lang: str, key: str, **values: object) -> str:
    """The message `key` in `lang` (English, then the key itself, when missing), formatted with `values`."""
    msg = catalog(lang).get(key) or catalog(DEFAULT).get(key) or key
    return msg.format(**values) if values else msg


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The `lang` cookie when it names a known language, else the best of Accept-Language, else English."""
    if cookie in LANGUAGES:
        return str(cookie)
    best, best_q = DEFAULT, -1.0
    for i, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        # earlier entries win ties, as browsers list them by preference
        if primary in LANGUAGES and q - i * 1e-6 > best_q:
            best, best_q = primary, q - i * 1e-6
    return best


def local_time(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO timestamp (UTC or with offset) shown in Asia/Shanghai; naive values are taken as UTC."""
    if value is None or value == "":
        return ""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    if dt.tzinfo is None:
        from datetime import UTC

        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(SHANGHAI).strftime(fmt)
