"""Costing rates: the commercial figures and process defaults of `fabgrid/data/costing.yaml`.

Loaded once, validated in one place (bounds and required keys) into frozen records.
Depends on pydantic, PyYAML and `fabgrid.errors`; never on store, services, api or cli.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fabgrid.domain.catalog import MachineModel, ProcessFamily
from fabgrid.errors import InputError

_FILE = "costing.yaml"


def _yaml(text: str) -> Any:
    """The document of a YAML text, with libyaml's parser where PyYAML has it (the same documents as the
    pure-Python one, 1 ms instead of 9 for costing.yaml). PyYAML is imported here: a quote that reads its rates
    from `services.shipped`'s cache never imports it."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class _Rec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuantityBreak(_Rec):
    """From `min_qty` copies on, the margin is multiplied by `margin_factor`."""

    min_qty: int = Field(ge=1)
    margin_factor: float = Field(ge=0, le=1)


class PriceRates(_Rec):
    """Commercial rates applied on top of the direct cost."""

    source: str
    overhead_pct: float = Field(ge=0, le=200)
    margin_pct: float = Field(ge=0, le=200)
    machine_utilisation: float = Field(gt=0, le=1)
    hours_per_year: float = Field(gt=0)
    minimum_order_cny: dict[ProcessFamily, float]
    setup_min: dict[ProcessFamily, float]
    handling_min_per_part: dict[ProcessFamily, float]
    finish_labour_share: float = Field(ge=0, le=1)
    quantity_breaks: tuple[QuantityBreak, ...]

    def margin_factor(self, quantity: int) -> float:
        """The quantity-break factor on the margin for `quantity` copies."""
        factor = 1.0
        for b in sorted(self.quantity_breaks, key=lambda q: q.min_qty):
            if quantity >= b.min_qty:
                factor = b.margin_factor
        return factor


class Tier(_Rec):
    """A lead-time tier: price factor, how much of the queue it waits for, extra days."""

    price_factor: float = Field(gt=0)
    queue_factor: float = Field(ge=0)
    extra_days: int = Field(ge=0)
    #: attended machines (CNC) run through the night for this tier (overtime); default: within the shifts
    overtime: bool = False


class Rates(_Rec):
    """Everything in costing.yaml."""

    validity_days: int = Field(ge=1)
    price: PriceRates
    tiers: dict[str, Tier]
    process: dict[str, dict[str, Any]]
    shipping: dict[str, Any]
    #: value-added tax on the goods (percent) and its source; None where the costing data has no `vat` section
    vat_pct: float | None = Field(default=None, ge=0, le=100)
    vat_source: str = ""

    def section(self, name: str) -> dict[str, Any]:
        """The process section `name` (fdm, sla, powder_bed, metal_pbf, cnc)."""
        try:
            return self.process[name]
        except KeyError:
            raise InputError(f"{_FILE}: section {name!r} is missing", code="costing.rates") from None

    def number(self, section: str, key: str) -> float:
        """A number of a process section, with a clear error when it is missing or not a number."""
        value = self.section(section).get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InputError(f"{_FILE}: {section}.{key} must be a number, got {value!r}",
                             hint="add the figure (with its unit in the key name)", code="costing.rates")
        return float(value)

    def machine_param(self, section: str, machine: MachineModel, key: str) -> float:
        """`machine.params[key]`, else the section's `defaults[key]`; a clear error when neither has it."""
        if key in machine.params:
            return float(machine.params[key])
        defaults = self.section(section).get("defaults", {})
        if key in defaults:
            return float(defaults[key])
        raise InputError(
            f"machine model {machine.id!r}: params.{key} is missing and {_FILE} has no {section}.defaults.{key}",
            hint=f"add params.{key} to the machine model in machine_models.yaml",
            code="costing.machine_param",
        )


def parse_rates(doc: dict[str, Any]) -> Rates:
    """Validate a costing.yaml document."""
    try:
        tiers = {k: v for k, v in doc["tiers"].items() if k != "source"}
        process = {k: doc[k] for k in ("fdm", "sla", "powder_bed", "metal_pbf", "cnc")}
        return Rates(
            validity_days=doc["quote"]["validity_days"],
            price=PriceRates(**doc["price"]),
            tiers=tiers,
            process=process,
            shipping=doc["shipping"],
            vat_pct=(doc.get("vat") or {}).get("rate_pct"),
            vat_source=str((doc.get("vat") or {}).get("source", "")),
        )
    except KeyError as exc:
        raise InputError(f"{_FILE}: key {exc.args[0]!r} is missing", code="costing.rates") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{_FILE}: {where}: {first['msg']}", code="costing.rates") from None


def load_rates_from(path: str | Path) -> Rates:
    """Rates from a costing.yaml file at `path`."""
    return parse_rates(_yaml(Path(path).read_text(encoding="utf-8")))


@functools.cache
def load_rates() -> Rates:
    """The packaged costing rates (cached)."""
    text = (resources.files("fabgrid.data") / _FILE).read_text(encoding="utf-8")
    return parse_rates(_yaml(text))
