"""Serving: prefill and decode time, continuous batching, memory, cost and energy per token.

See :mod:`scalewall.infer.step` (per-step physics), :mod:`scalewall.infer.plan` (a deployment),
:mod:`scalewall.infer.search` (cheapest configuration under latency targets) and
:mod:`scalewall.infer.ssm` (state-space and hybrid models against transformers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scalewall._lazy import lazy_getattr

if TYPE_CHECKING:
    from scalewall.infer.plan import InfeasibleServing as InfeasibleServing
    from scalewall.infer.plan import ServingMetrics as ServingMetrics
    from scalewall.infer.plan import ServingPlan as ServingPlan
    from scalewall.infer.plan import evaluate_serving as evaluate_serving
    from scalewall.infer.plan import plan_serving as plan_serving
    from scalewall.infer.search import SearchResult as SearchResult
    from scalewall.infer.search import search_serving as search_serving
    from scalewall.infer.ssm import StateSpaceComparison as StateSpaceComparison
    from scalewall.infer.ssm import compare_state_space as compare_state_space
    from scalewall.infer.ssm import hybrid_of as hybrid_of
    from scalewall.infer.step import StepTime as StepTime
    from scalewall.infer.step import decode_step as decode_step
    from scalewall.infer.step import prefill as prefill

_EXPORTS = {
    "InfeasibleServing": "scalewall.infer.plan",
    "SearchResult": "scalewall.infer.search",
    "ServingMetrics": "scalewall.infer.plan",
    "ServingPlan": "scalewall.infer.plan",
    "StateSpaceComparison": "scalewall.infer.ssm",
    "StepTime": "scalewall.infer.step",
    "compare_state_space": "scalewall.infer.ssm",
    "decode_step": "scalewall.infer.step",
    "evaluate_serving": "scalewall.infer.plan",
    "hybrid_of": "scalewall.infer.ssm",
    "plan_serving": "scalewall.infer.plan",
    "prefill": "scalewall.infer.step",
    "search_serving": "scalewall.infer.search",
}
__all__ = [
    "InfeasibleServing",
    "SearchResult",
    "ServingMetrics",
    "ServingPlan",
    "StateSpaceComparison",
    "StepTime",
    "compare_state_space",
    "decode_step",
    "evaluate_serving",
    "hybrid_of",
    "plan_serving",
    "prefill",
    "search_serving",
]
__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
