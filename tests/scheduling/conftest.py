"""Small scheduling instances written here (ft06 is public: Fisher & Thompson 1963, optimum 55)."""

from __future__ import annotations

import pytest

FT06 = """# ft06, Fisher and Thompson (1963); optimum makespan 55
6 6
2 1 0 3 1 6 3 7 5 3 4 6
1 8 2 5 4 10 5 10 0 10 3 4
2 5 3 4 5 8 0 9 1 1 4 7
1 5 0 5 2 5 3 3 4 8 5 9
2 9 1 3 4 5 5 4 0 3 3 1
1 3 3 3 5 9 0 10 4 4 2 1
"""

# A small Brandimarte-format flexible job shop: 3 jobs, 3 machines (numbered from 1 in the file).
# Optimum 9: machine 2 must run 4 + 3 and cannot start before 2.
SMALL_FJS = """3 3 2
2 2 1 3 2 5 1 2 4
3 1 3 2 2 1 3 3 1 2 1 2 2 3
2 2 1 4 3 2 1 2 3
"""


@pytest.fixture
def ft06_text() -> str:
    return FT06


@pytest.fixture
def fjs_text() -> str:
    return SMALL_FJS
