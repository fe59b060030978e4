from __future__ import annotations

import pytest
from typer.testing import CliRunner

pytest.importorskip("uvicorn")

from scalewall.cli import app


def test_web_that_cannot_start_exits_1_and_says_why() -> None:
    res = CliRunner().invoke(app, ["web", "--host", "no-such-host.invalid", "--port", "8765",
                                   "--log-level", "critical"])
    assert res.exit_code == 1, res.output
    assert "OSError: could not serve on no-such-host.invalid:8765" in res.output
