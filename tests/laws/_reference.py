from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).parent / "reference"


def laws_reference(name: str) -> list[dict[str, Any]]:
    with (REFERENCE / name).open("rb") as fh:
        return list(tomllib.load(fh)["case"])
