from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

REFERENCE = Path(__file__).parent / "reference"


def reference_cases(name: str) -> list[dict[str, Any]]:
    with (REFERENCE / name).open("rb") as fh:
        return list(tomllib.load(fh)["case"])


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="run slow tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
