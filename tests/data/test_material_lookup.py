"""Users name materials as they know them: ids, short names, names; ambiguity is an error that helps."""

from __future__ import annotations

import pytest

from fabgrid.data import load_catalog
from fabgrid.domain.catalog import ProcessFamily
from fabgrid.errors import InputError


def test_material_by_id_short_name_and_name() -> None:
    cat = load_catalog()
    assert cat.material("fdm_pla").id == "fdm_pla"
    assert cat.material("PLA").id == "fdm_pla"
    assert cat.material("pla").id == "fdm_pla"
    assert cat.material("pa12", ProcessFamily.MJF).id == "mjf_pa12"


def test_ambiguous_and_unknown_materials_name_the_choices() -> None:
    cat = load_catalog()
    with pytest.raises(InputError, match="sls_pa12") as ambiguous:
        cat.material("pa12")
    assert ambiguous.value.code == "material.ambiguous"
    with pytest.raises(InputError, match="unknown material") as unknown:
        cat.material("unobtainium")
    assert unknown.value.hint and "fdm_pla" in unknown.value.hint
