"""The pages' message catalog: Simplified Chinese and English strings by key (en.yaml, zh.yaml beside this
file, the problems' texts by code in errors.<lang>.yaml, the DFM findings' and a quote's limits' texts by code in
findings.<lang>.yaml), the language of a request (cookie `lang`, else Accept-Language), and times in Asia/Shanghai.

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


class _UniqueKeys(yaml.SafeLoader):
    """A YAML loader that refuses a key written twice in one mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ValueError(f"{node.start_mark.name}: key {key!r} is written twice "
                                 f"(line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read(name: str) -> dict[str, str] | None:
    """The flat mapping of the catalog file `name` beside this module (None when there is no such file)."""
    path = resources.files("fabgrid.web.i18n") / name
    if not path.is_file():
        return None
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeys) or {}  # a SafeLoader
    return {str(k): str(v) for k, v in data.items()}


#: The catalog files merged after <lang>.yaml, each with the prefixes its keys must have.
MERGED = (("errors.{lang}.yaml", ("error.",)), ("findings.{lang}.yaml", ("finding.", "limit.")))


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """The messages of `lang` (a flat mapping key -> text): `<lang>.yaml`, then the problems' texts of
    `errors.<lang>.yaml` (keys `error.<code>`) and the DFM findings' and quote limits' texts of
    `findings.<lang>.yaml` (keys `finding.<code>.message`, `finding.<code>.fix`, `limit.<code>`) where those files
    exist. A key written twice, in one file or in two, is a ValueError here, so that no text hides another."""
    messages = _read(f"{lang}.yaml")
    if messages is None:
        raise FileNotFoundError(f"the catalog has no {lang}.yaml")
    seen = {key: f"{lang}.yaml" for key in messages}
    for pattern, prefixes in MERGED:
        name = pattern.format(lang=lang)
        extra = _read(name) or {}
        if stray := sorted(k for k in extra if not k.startswith(prefixes)):
            allowed = " or ".join(f"{p}<code>" for p in prefixes)
            raise ValueError(f"{name}: keys {', '.join(stray)} are not {allowed}")
        if both := sorted(k for k in extra if k in seen):
            raise ValueError(f"{seen[both[0]]} and {name} both define {', '.join(both)}")
        seen |= dict.fromkeys(extra, name)
        messages = messages | extra
    return messages


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
