"""Schemathesis against the app's OpenAPI schema, through ASGI: no request may get a 5xx.

The fast run makes well over 1,000 requests (counted, and asserted in the last test) in well
under a minute; ``--runslow`` runs ten times as many examples per operation.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from hypothesis import HealthCheck, settings  # noqa: E402

from scalewall.web import create_app  # noqa: E402

_APP = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)
# Examples per operation: with the explicit-example and coverage phases, 16 operations x 50
# give about 2,000 requests (the count is asserted below).
_EXAMPLES = int(os.environ.get("SCALEWALL_FUZZ_EXAMPLES", "50"))
_COUNT = {"requests": 0, "5xx": 0}


def _run(case: Any) -> None:
    response = case.call()
    _COUNT["requests"] += 1
    if response.status_code >= 500:
        _COUNT["5xx"] += 1
    case.validate_response(response, checks=[
        schemathesis.checks.not_a_server_error,
        schemathesis.checks.status_code_conformance,
        schemathesis.checks.content_type_conformance,
        schemathesis.checks.response_schema_conformance,
    ])


@schema.parametrize()
@settings(max_examples=_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_error(case: Any) -> None:
    _run(case)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=10 * _EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_error_long(case: Any) -> None:
    _run(case)


def test_request_count() -> None:
    """Runs after the fuzz tests above (file order): at least 1,000 requests, none a 5xx."""
    if _COUNT["requests"] == 0:
        pytest.skip("the fuzz tests did not run in this session (selected out)")
    print(f"schemathesis: {_COUNT['requests']} requests, {_COUNT['5xx']} 5xx")
    assert _COUNT["5xx"] == 0
    assert _COUNT["requests"] >= 1000, _COUNT
