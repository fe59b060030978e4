from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from scalewall._errors import InvalidParameter
from scalewall.api import plan_training
from scalewall.catalog import load_catalog
from scalewall.kernels import device_rates, matmul_time_s
from scalewall.measure import (
    MeasureError,
    calibrate_from_registry,
    fit_gemm_rates,
    load_calibration,
    open_registry,
)
from scalewall.measure.bench import default_gemm_shapes


@pytest.fixture(scope="module")
def h200():
    cat = load_catalog()
    acc = cat.accelerator("h200-sxm")
    return cat, acc, device_rates(acc, cat.defaults)


def _truth(acc, base, eff, bw_eff, launch_s):
    return dataclasses.replace(
        base, matmul_efficiency=eff, kernel_launch_s=launch_s,
        memory_bandwidth_bytes_per_s=bw_eff * acc.memory_bandwidth_bytes_per_s)


@pytest.mark.parametrize(("eff", "bw_eff", "launch_s"),
                         [(0.62, 0.80, 7e-6), (0.755, 0.89, 4e-6), (0.45, 0.70, 12e-6)])
def test_recovers_known_rates_from_exact_timings(h200, eff, bw_eff, launch_s):
    _cat, acc, base = h200
    shapes = np.array(default_gemm_shapes(), dtype=float)  # (n, 3)
    true = _truth(acc, base, eff, bw_eff, launch_s)
    t = matmul_time_s(shapes[:, 0], shapes[:, 1], shapes[:, 2], true)
    fit = fit_gemm_rates(shapes[:, 0], shapes[:, 1], shapes[:, 2], t, base,
                         datasheet_bandwidth_bytes_per_s=acc.memory_bandwidth_bytes_per_s)
    np.testing.assert_allclose(
        [fit.matmul_efficiency, fit.memory_bandwidth_efficiency, fit.kernel_launch_s],
        [eff, bw_eff, launch_s], rtol=2e-3)
    assert fit.rms_relative_error < 1e-3


def test_recovers_rates_from_noisy_timings(h200):
    """3% log-normal timing noise (run-to-run scatter of a GPU benchmark): the efficiencies
    come back within 3%, the overhead within 30%."""
    _cat, acc, base = h200
    rng = np.random.default_rng(7)
    shapes = np.array(default_gemm_shapes() * 3, dtype=float)
    true = _truth(acc, base, 0.66, 0.83, 6e-6)
    t = matmul_time_s(shapes[:, 0], shapes[:, 1], shapes[:, 2], true)
    t = t * np.exp(rng.normal(0.0, 0.03, t.shape))
    fit = fit_gemm_rates(shapes[:, 0], shapes[:, 1], shapes[:, 2], t, base,
                         datasheet_bandwidth_bytes_per_s=acc.memory_bandwidth_bytes_per_s)
    assert fit.matmul_efficiency == pytest.approx(0.66, rel=0.03)
    assert fit.memory_bandwidth_efficiency == pytest.approx(0.83, rel=0.03)
    assert fit.kernel_launch_s == pytest.approx(6e-6, rel=0.3)
    assert fit.rms_relative_error < fit.uncalibrated_rms_relative_error


def test_rejects_too_few_or_bad_samples(h200):
    _cat, _acc, base = h200
    with pytest.raises(InvalidParameter, match="at least 3 samples"):
        fit_gemm_rates([1, 2], [1, 2], [1, 2], [1e-3, 1e-3], base,
                       datasheet_bandwidth_bytes_per_s=1e12)
    with pytest.raises(InvalidParameter, match="positive"):
        fit_gemm_rates([1, 2, 3], [1, 2, 3], [1, 2, 3], [1e-3, 0.0, 1e-3], base,
                       datasheet_bandwidth_bytes_per_s=1e12)


def test_stored_calibration_makes_plans_calibrated(h200, tmp_path):
    cat, acc, base = h200
    true = _truth(acc, base, 0.6, 0.8, 8e-6)
    samples = [{"m": m, "n": n, "k": k, "precision": "bf16",
                "duration_s": float(matmul_time_s(m, n, k, true))}
               for m, n, k in default_gemm_shapes()]
    with open_registry(tmp_path / "r.db") as reg:
        with pytest.raises(MeasureError, match="no GEMM profile"):
            calibrate_from_registry("x", registry=reg, catalog=cat)
        run_id = reg.add_run(kind="gemm", hardware="h200-sxm", gemm_samples=samples)
        fit = calibrate_from_registry("h200-lab", registry=reg, catalog=cat)
        assert fit.hardware == "h200-sxm" and fit.n_samples == len(samples)
        assert reg.get_calibration("h200-lab")["source_runs"] == [run_id]
    rates = load_calibration("h200-lab", registry=tmp_path / "r.db", catalog=cat)
    assert rates.calibrated
    with pytest.raises(InvalidParameter, match="fitted on h200-sxm, not h100"):
        load_calibration("h200-lab", registry=tmp_path / "r.db", hardware="h100", catalog=cat)
    with pytest.raises(InvalidParameter, match="fitted at bf16, not fp8"):
        load_calibration("h200-lab", registry=tmp_path / "r.db", precision="fp8", catalog=cat)
    assert rates.matmul_efficiency == pytest.approx(0.6, rel=2e-3)
    assert rates.memory_bandwidth_bytes_per_s == pytest.approx(
        0.8 * acc.memory_bandwidth_bytes_per_s, rel=2e-3)
    plan = plan_training("gpt-3-1.3b", "h200-sxm", n_devices=8, n_tokens=1e9, rates=rates,
                         catalog=cat)
    assert plan.to_dict()["calibrated"] is True
    catalog_plan = plan_training("gpt-3-1.3b", "h200-sxm", n_devices=8, n_tokens=1e9,
                                 catalog=cat)
    assert catalog_plan.to_dict()["calibrated"] is False
    # the fitted rates are below the catalog's, so the calibrated step is slower
    assert float(plan.step.step_s) > float(catalog_plan.step.step_s)
