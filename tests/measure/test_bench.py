from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from scalewall.cli import app  # noqa: E402
from scalewall.measure import MeasureUnavailable  # noqa: E402
from scalewall.measure.bench import collective_bandwidth, copy_bandwidth, gemm_profile  # noqa: E402


def test_gemm_profile_on_cpu():
    samples, device = gemm_profile(shapes=[(16, 16, 16), (64, 32, 8)],
                                   precisions=("fp32", "bf16"), device="cpu",
                                   min_time_s=0.002, repeats=2)
    assert device["type"] == "cpu"
    assert [(s["m"], s["precision"]) for s in samples] == [
        (16, "fp32"), (64, "fp32"), (16, "bf16"), (64, "bf16")]
    for s in samples:
        assert s["flop_per_s"] == pytest.approx(2 * s["m"] * s["n"] * s["k"] / s["duration_s"])


def test_copy_bandwidth_on_cpu():
    r = copy_bandwidth(n_bytes=2**22, device="cpu", min_time_s=0.002, repeats=2)
    assert r["bandwidth_bytes_per_s"] == pytest.approx(2 * r["n_bytes"] / r["duration_s"])


def test_collective_needs_two_gpus():
    if torch.cuda.is_available() and torch.cuda.device_count() > 1:
        pytest.skip("this machine has several GPUs")
    with pytest.raises(MeasureUnavailable, match="at least 2 CUDA GPUs"):
        collective_bandwidth()


def test_measure_gemm_cli_stores_a_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALEWALL_HOME", str(tmp_path))
    res = CliRunner().invoke(app, ["measure", "gemm", "--shape", "8x8x8", "--shape", "16x8x8",
                                   "--shape", "32x8x8", "--device", "cpu", "--hardware",
                                   "h200", "--min-time", "0.001", "--repeats", "1", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["hardware"] == "h200-sxm" and len(out["samples"]) == 3
    res = CliRunner().invoke(app, ["measure", "gemm", "--shape", "8x8", "--device", "cpu"])
    assert res.exit_code == 1 and "InvalidParameter" in res.output
    res = CliRunner().invoke(app, ["measure", "bandwidth", "--size-mib", "4", "--device",
                                   "cpu", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["run_id"] == 2
