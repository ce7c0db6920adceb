"""Invoice arithmetic (issue 17, item 8): amounts in Decimal to the cent from the prices' decimal text, so that
20 x 35.15 is 703.00 (float sums drift: 0.1 + 0.1 + 0.1 != 0.3), and the capital numerals of 价税合计."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fabgrid.services.checkout import money
from fabgrid.services.invoices import cents, rmb_upper


def test_twenty_times_35_15_is_703_00() -> None:
    assert sum([0.1] * 3) != 0.3 and sum([cents(0.1)] * 3) == Decimal("0.30")  # floats drift, cents do not
    assert cents(35.15) * 20 == Decimal("703.00") and str((cents(35.15) * 20).quantize(Decimal("0.01"))) == "703.00"
    assert money(35.15) == Decimal("35.15") and cents(0.125) == Decimal("0.13")  # half up, from the decimal text


@pytest.mark.parametrize(("amount", "words"), [
    ("703.00", "柒佰零叁元整"), ("794.39", "柒佰玖拾肆元叁角玖分"), ("1005.20", "壹仟零伍元贰角"),
    ("10010", "壹万零壹拾元整"), ("120000.07", "壹拾贰万元零柒分"), ("100010000", "壹亿零壹万元整"),
    ("0.05", "伍分"), ("0", "零元整")])
def test_capital_numerals(amount: str, words: str) -> None:
    assert rmb_upper(Decimal(amount)) == words
