"""Serving: prefill and decode time, continuous batching, memory, cost and energy per token.

See :mod:`scalewall.infer.step` (per-step physics), :mod:`scalewall.infer.plan` (a deployment),
:mod:`scalewall.infer.search` (cheapest configuration under latency targets) and
:mod:`scalewall.infer.ssm` (state-space and hybrid models against transformers).
"""

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

__all__ = [
    "InfeasibleServing", "SearchResult", "ServingMetrics", "ServingPlan", "StateSpaceComparison",
    "StepTime", "compare_state_space", "decode_step", "evaluate_serving", "hybrid_of",
    "plan_serving", "prefill", "search_serving",
]
