from __future__ import annotations

import pytest

from scalewall.laws import FitResult, chinchilla_figure4_runs, fit_law


@pytest.fixture(scope="session")
def refit() -> FitResult:
    """Our refit of Epoch AI's reconstruction of Hoffmann's Figure 4 (240 runs), 100 resamples."""
    return fit_law(chinchilla_figure4_runs(drop_highest=5), n_bootstrap=100, seed=0)
