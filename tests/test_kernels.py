from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from scalewall.catalog import load_catalog
from scalewall.kernels import device_rates, matmul_time_s
from tests.conftest import reference_cases


@pytest.fixture(scope="module")
def h200():
    """Short-benchmark rates (no power-limit throttling), as the GEMM list was measured."""
    cat = load_catalog()
    burst = dataclasses.replace(cat.defaults, sustained_compute_fraction=1.0)
    return device_rates(cat.accelerator("h200-sxm"), burst)


def test_sustained_gemm_rate_at_the_power_limit():
    """Sustained 8192^3 GEMMs on one H200 ran at 659 TFLOP/s, drawing 692 of 700 W."""
    cat = load_catalog()
    rates = device_rates(cat.accelerator("h200-sxm"), cat.defaults)
    rate = 2 * 8192**3 / float(matmul_time_s(8192, 8192, 8192, rates)) / 1e12
    assert rate == pytest.approx(659, rel=0.03)


@pytest.mark.parametrize("case", reference_cases("gemm_h200.toml"))
def test_gemm_rate_against_h200_measurements(h200, case):
    m, n, k = case["m"], case["n"], case["k"]
    rate = 2 * m * n * k / float(matmul_time_s(m, n, k, h200)) / 1e12
    assert rate == pytest.approx(case["tflop_per_s"], rel=case["rtol"])


def test_skinny_gemm_is_bandwidth_bound(h200):
    """1 x 8192 x 8192 reads the 128 MiB weight at about 3.76 TB/s on one H200."""
    t = float(matmul_time_s(1, 8192, 8192, h200))
    assert 8192 * 8192 * 2 / t / 1e12 == pytest.approx(3.76, rel=0.1)


def test_array_broadcast(h200):
    ms = np.array([1024.0, 4096.0, 16384.0])
    vec = matmul_time_s(ms, 4096, 4096, h200)
    assert vec.shape == (3,)
    for m, t in zip(ms, vec, strict=True):
        assert float(matmul_time_s(m, 4096, 4096, h200)) == pytest.approx(t)
