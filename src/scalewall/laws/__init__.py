"""Scaling laws: predicted loss, compute-optimal and budget-optimal models, repeated and
synthetic data, inference-aware sizing, and fitting a law to your own runs.

Constants live in ``catalog/laws.toml`` (each with its source); see ``docs/laws.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scalewall._lazy import lazy_getattr

if TYPE_CHECKING:
    from scalewall.laws.constants import ChinchillaLaw as ChinchillaLaw
    from scalewall.laws.constants import DataStock as DataStock
    from scalewall.laws.constants import KaplanLaw as KaplanLaw
    from scalewall.laws.constants import LawCatalog as LawCatalog
    from scalewall.laws.constants import get_laws_catalog as get_laws_catalog
    from scalewall.laws.constants import load_laws_catalog as load_laws_catalog
    from scalewall.laws.costs import BudgetOptimum as BudgetOptimum
    from scalewall.laws.costs import InferenceCost as InferenceCost
    from scalewall.laws.costs import inference_cost as inference_cost
    from scalewall.laws.costs import optimal_for_budget as optimal_for_budget
    from scalewall.laws.costs import proxy_architecture as proxy_architecture
    from scalewall.laws.databudget import DataBudgetReport as DataBudgetReport
    from scalewall.laws.databudget import data_budget as data_budget
    from scalewall.laws.fitting import FitDidNotConverge as FitDidNotConverge
    from scalewall.laws.fitting import FitResult as FitResult
    from scalewall.laws.fitting import Runs as Runs
    from scalewall.laws.fitting import chinchilla_figure4_runs as chinchilla_figure4_runs
    from scalewall.laws.fitting import fit_law as fit_law
    from scalewall.laws.fitting import read_runs_csv as read_runs_csv
    from scalewall.laws.inference_aware import InferenceAwareOptimum as InferenceAwareOptimum
    from scalewall.laws.inference_aware import (
        chinchilla_tokens_for_params as chinchilla_tokens_for_params,
    )
    from scalewall.laws.inference_aware import inference_aware_optimal as inference_aware_optimal
    from scalewall.laws.inference_aware import tokens_for_loss as tokens_for_loss
    from scalewall.laws.parametric import FLOP_PER_PARAM_TOKEN as FLOP_PER_PARAM_TOKEN
    from scalewall.laws.parametric import OptimalAllocation as OptimalAllocation
    from scalewall.laws.parametric import compute_optimal_chinchilla as compute_optimal_chinchilla
    from scalewall.laws.parametric import compute_optimal_kaplan2020 as compute_optimal_kaplan2020
    from scalewall.laws.parametric import get_compute_optimal as get_compute_optimal
    from scalewall.laws.parametric import get_loss as get_loss
    from scalewall.laws.parametric import loss_chinchilla as loss_chinchilla
    from scalewall.laws.parametric import loss_kaplan2020 as loss_kaplan2020
    from scalewall.laws.repetition import DataConstrainedOptimum as DataConstrainedOptimum
    from scalewall.laws.repetition import (
        effective_params_muennighoff2023 as effective_params_muennighoff2023,
    )
    from scalewall.laws.repetition import (
        effective_tokens_muennighoff2023 as effective_tokens_muennighoff2023,
    )
    from scalewall.laws.repetition import (
        epoch_multiplier_muennighoff2023 as epoch_multiplier_muennighoff2023,
    )
    from scalewall.laws.repetition import loss_data_constrained as loss_data_constrained
    from scalewall.laws.repetition import optimal_data_constrained as optimal_data_constrained

_EXPORTS = {
    "BudgetOptimum": "scalewall.laws.costs",
    "ChinchillaLaw": "scalewall.laws.constants",
    "DataBudgetReport": "scalewall.laws.databudget",
    "DataConstrainedOptimum": "scalewall.laws.repetition",
    "DataStock": "scalewall.laws.constants",
    "FLOP_PER_PARAM_TOKEN": "scalewall.laws.parametric",
    "FitDidNotConverge": "scalewall.laws.fitting",
    "FitResult": "scalewall.laws.fitting",
    "InferenceAwareOptimum": "scalewall.laws.inference_aware",
    "InferenceCost": "scalewall.laws.costs",
    "KaplanLaw": "scalewall.laws.constants",
    "LawCatalog": "scalewall.laws.constants",
    "OptimalAllocation": "scalewall.laws.parametric",
    "Runs": "scalewall.laws.fitting",
    "chinchilla_figure4_runs": "scalewall.laws.fitting",
    "chinchilla_tokens_for_params": "scalewall.laws.inference_aware",
    "compute_optimal_chinchilla": "scalewall.laws.parametric",
    "compute_optimal_kaplan2020": "scalewall.laws.parametric",
    "data_budget": "scalewall.laws.databudget",
    "effective_params_muennighoff2023": "scalewall.laws.repetition",
    "effective_tokens_muennighoff2023": "scalewall.laws.repetition",
    "epoch_multiplier_muennighoff2023": "scalewall.laws.repetition",
    "fit_law": "scalewall.laws.fitting",
    "get_compute_optimal": "scalewall.laws.parametric",
    "get_laws_catalog": "scalewall.laws.constants",
    "get_loss": "scalewall.laws.parametric",
    "inference_aware_optimal": "scalewall.laws.inference_aware",
    "inference_cost": "scalewall.laws.costs",
    "load_laws_catalog": "scalewall.laws.constants",
    "loss_chinchilla": "scalewall.laws.parametric",
    "loss_data_constrained": "scalewall.laws.repetition",
    "loss_kaplan2020": "scalewall.laws.parametric",
    "optimal_data_constrained": "scalewall.laws.repetition",
    "optimal_for_budget": "scalewall.laws.costs",
    "proxy_architecture": "scalewall.laws.costs",
    "read_runs_csv": "scalewall.laws.fitting",
    "tokens_for_loss": "scalewall.laws.inference_aware",
}
__all__ = [
    "FLOP_PER_PARAM_TOKEN",
    "BudgetOptimum",
    "ChinchillaLaw",
    "DataBudgetReport",
    "DataConstrainedOptimum",
    "DataStock",
    "FitDidNotConverge",
    "FitResult",
    "InferenceAwareOptimum",
    "InferenceCost",
    "KaplanLaw",
    "LawCatalog",
    "OptimalAllocation",
    "Runs",
    "chinchilla_figure4_runs",
    "chinchilla_tokens_for_params",
    "compute_optimal_chinchilla",
    "compute_optimal_kaplan2020",
    "data_budget",
    "effective_params_muennighoff2023",
    "effective_tokens_muennighoff2023",
    "epoch_multiplier_muennighoff2023",
    "fit_law",
    "get_compute_optimal",
    "get_laws_catalog",
    "get_loss",
    "inference_aware_optimal",
    "inference_cost",
    "load_laws_catalog",
    "loss_chinchilla",
    "loss_data_constrained",
    "loss_kaplan2020",
    "optimal_data_constrained",
    "optimal_for_budget",
    "proxy_architecture",
    "read_runs_csv",
    "tokens_for_loss",
]
__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
