"""Kernel times measured by Vidur's profiling against the kernel model.

``vidur_gemm.csv`` and ``vidur_all_reduce.csv`` are extracted from microsoft/vidur by
``scripts/extract_vidur_profiles.py`` (Agrawal et al., "Vidur: A Large-Scale Simulation
Framework for LLM Inference", MLSys 2024, arXiv:2405.05465): per-operator CUDA-event medians on
DGX A100 80 GB and DGX H100 nodes. Short timed kernels run at boost clock, so the model is
compared at burst rates (``sustained_compute_fraction`` = 1), as for the H200 GEMM list.
The test suite and ``benchmarks/vs_vidur_kernels.py`` share these functions.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from scalewall.catalog import Catalog, load_catalog
from scalewall.comm import all_reduce_time_s, group_bandwidth_bytes_per_s
from scalewall.kernels import DeviceRates, device_rates, split_k_matmul_time_s

HERE = Path(__file__).parent


def _read(name: str) -> list[dict[str, str]]:
    with (HERE / name).open() as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def burst_rates(hardware: str, catalog: Catalog | None = None) -> DeviceRates:
    cat = catalog or load_catalog()
    burst = dataclasses.replace(cat.defaults, sustained_compute_fraction=1.0)
    return device_rates(cat.accelerator(hardware), burst)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Measured and predicted times [s] of one reference set, row by row."""

    rows: list[dict[str, str]]
    measured_s: np.ndarray
    predicted_s: np.ndarray

    @property
    def error(self) -> np.ndarray:
        """Signed relative error, predicted / measured - 1."""
        out: np.ndarray = self.predicted_s / self.measured_s - 1.0
        return out

    def where(self, **match: str) -> Comparison:
        keep = [all(r[k] == v for k, v in match.items()) for r in self.rows]
        idx = np.flatnonzero(keep)
        return Comparison([self.rows[i] for i in idx], self.measured_s[idx],
                          self.predicted_s[idx])


def _by_hardware(rows: list[dict[str, str]],
                 model: Callable[[list[dict[str, str]], DeviceRates], Any]) -> Comparison:
    """Measured against ``model(hardware rows, burst rates)``, one array call per GPU."""
    cat = load_catalog()
    predicted = np.empty(len(rows))
    for hw in sorted({r["hardware"] for r in rows}):
        idx = np.array([i for i, r in enumerate(rows) if r["hardware"] == hw])
        predicted[idx] = model([rows[i] for i in idx], burst_rates(hw, cat))
    measured = np.array([float(r["median_us"]) for r in rows]) * 1e-6
    return Comparison(rows, measured, predicted)


def _column(rows: list[dict[str, str]], name: str) -> np.ndarray:
    return np.array([float(r[name]) for r in rows])


def gemm_comparison() -> Comparison:
    """Every projection GEMM of ``vidur_gemm.csv`` at its fastest split-K."""
    return _by_hardware(_read("vidur_gemm.csv"), lambda rows, rates: split_k_matmul_time_s(
        _column(rows, "m"), _column(rows, "n"), _column(rows, "k"), rates, operand_bytes=2.0))


def all_reduce_comparison() -> Comparison:
    """Every NCCL all-reduce of ``vidur_all_reduce.csv`` against the alpha-beta ring model."""
    def ring(rows: list[dict[str, str]], rates: DeviceRates) -> np.ndarray:
        n = _column(rows, "devices")
        return all_reduce_time_s(_column(rows, "bytes"), n,
                                 group_bandwidth_bytes_per_s(n, 1.0, rates), rates)

    return _by_hardware(_read("vidur_all_reduce.csv"), ring)
