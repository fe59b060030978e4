from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from scalewall.wall import WallResult, project

REFERENCE = Path(__file__).parent / "reference" / "published.toml"


def published(table: str) -> list[dict[str, Any]]:
    with REFERENCE.open("rb") as fh:
        return list(tomllib.load(fh)[table])


@pytest.fixture(scope="session")
def baseline_2030() -> WallResult:
    # 200,000 draws: the median's Monte Carlo error is well under 1%
    return project("baseline", years=list(range(2024, 2041)), n_draws=200_000, seed=0,
                   sensitivity_year=2030)
