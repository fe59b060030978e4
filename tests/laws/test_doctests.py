"""Run the docstring examples of scalewall.laws (checked numbers)."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["parametric", "repetition", "inference_aware", "costs"])
def test_doctests(module: str) -> None:
    mod = importlib.import_module(f"scalewall.laws.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
