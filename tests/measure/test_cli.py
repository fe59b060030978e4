from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scalewall.catalog import load_catalog
from scalewall.cli import app
from scalewall.kernels import device_rates, matmul_time_s
from scalewall.measure import open_registry
from scalewall.measure.bench import default_gemm_shapes

runner = CliRunner()


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALEWALL_HOME", str(tmp_path))
    return tmp_path


def _seed(home):
    """A synthetic H200 GEMM profile and a decode run of the validation set's Llama-3-8B
    shape, measured at its published 5.34 ms TPOT."""
    cat = load_catalog()
    rates = device_rates(cat.accelerator("h200-sxm"), cat.defaults)
    samples = [{"m": m, "n": n, "k": k, "precision": "bf16",
                "duration_s": 1.1 * float(matmul_time_s(m, n, k, rates))}
               for m, n, k in default_gemm_shapes()]
    arch = {"n_layers": 32, "hidden_size": 4096, "n_heads": 32, "n_kv_heads": 8,
            "ffn_size": 14336, "vocab_size": 128256, "mlp": "swiglu", "norm": "rmsnorm",
            "max_seq_len": 8192}
    with open_registry(home / "registry.db") as reg:
        gemm = reg.add_run(kind="gemm", hardware="h200-sxm", gemm_samples=samples)
        decode = reg.add_run(kind="infer", name="decode b1", hardware="h200-sxm",
                             config={"arch": arch, "batch": 1, "context": 1024,
                                     "precision": "bf16"},
                             summary={"step_s": 0.0053415, "tokens_per_s": 1 / 0.0053415})
    return gemm, decode


def test_runs_list_show_export_delete(home):
    gemm, decode = _seed(home)
    res = runner.invoke(app, ["runs", "list", "--json"])
    assert res.exit_code == 0, res.output
    assert [r["id"] for r in json.loads(res.stdout)["runs"]] == [decode, gemm]
    res = runner.invoke(app, ["runs", "show", str(gemm), "--json"])
    assert len(json.loads(res.stdout)["gemm_samples"]) == len(default_gemm_shapes())
    assert runner.invoke(app, ["runs", "list"]).exit_code == 0
    assert runner.invoke(app, ["runs", "show", "last"]).exit_code == 0
    out = home / "export.json"
    res = runner.invoke(app, ["runs", "export", "--out", str(out)])
    assert res.exit_code == 0 and len(json.loads(out.read_text())["runs"]) == 2
    res = runner.invoke(app, ["runs", "delete", str(decode), "--yes", "--json"])
    assert json.loads(res.stdout) == {"deleted": decode}
    res = runner.invoke(app, ["runs", "show", str(decode)])
    assert res.exit_code == 1 and "RegistryError: no run" in res.output


def test_calibrate_then_report_calibrated_decode(home):
    _gemm, decode = _seed(home)
    res = runner.invoke(app, ["calibrate", "--name", "lab", "--json"])
    assert res.exit_code == 0, res.output
    fit = json.loads(res.stdout)
    assert fit["hardware"] == "h200-sxm" and fit["rms_relative_error"] < 0.01
    # timings were 1.1x the catalog model: efficiencies 1/1.1 of the planner's
    from scalewall.catalog import get_catalog
    from scalewall.kernels import device_rates

    cat = get_catalog()
    planner = device_rates(cat.accelerator("h200-sxm"), cat.defaults).matmul_efficiency
    assert fit["matmul_efficiency"] == pytest.approx(planner / 1.1, rel=0.02)
    res = runner.invoke(app, ["measure", "report", str(decode), "--json"])
    plain = json.loads(res.stdout)
    assert plain["calibrated"] is False
    res = runner.invoke(app, ["measure", "report", str(decode), "--calibration", "lab",
                              "--json"])
    cal = json.loads(res.stdout)
    assert cal["calibrated"] is True
    step = next(r for r in cal["metrics"] if r["metric"] == "step_s")
    assert step["error"] == pytest.approx(step["predicted"] / step["measured"] - 1)
    res = runner.invoke(app, ["measure", "report", str(decode), "--calibration", "lab"])
    assert res.exit_code == 0 and "calibrated (lab)" in res.output
    res = runner.invoke(app, ["calibrate"])  # table form, default name
    assert res.exit_code == 0 and "--calibration default" in res.output
    # later serving and training plans on that device use it, and say so
    args = ["--model", "llama-3.1-8b", "--hardware", "h200-sxm", "--devices", "1"]
    plain = json.loads(runner.invoke(app, ["infer", *args, "--batch", "1", "--json"]).stdout)
    served = runner.invoke(app, ["infer", *args, "--batch", "1", "--calibration", "lab",
                                 "--json"])
    assert served.exit_code == 0, served.output
    served_d = json.loads(served.stdout)
    assert served_d["calibrated"] is True and plain["calibrated"] is False
    assert served_d["tpot_s"] != plain["tpot_s"]
    trained = runner.invoke(app, ["train", *args, "--tokens", "1B", "--calibration", "lab",
                                  "--json"])
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["calibrated"] is True


def test_errors_print_name_and_message(home):
    (home / "registry.db").write_text("not a database, my notes\n" * 10)
    res = runner.invoke(app, ["runs", "list"])
    assert res.exit_code == 1
    assert "RegistryRefused:" in res.output and "not an SQLite database" in res.output
    assert (home / "registry.db").read_text().startswith("not a database")
    (home / "registry.db").unlink()
    # commands that only read never create a registry where there is none
    for cmd in (["measure", "report", "1"], ["calibrate", "--name", "x"], ["runs", "list"],
                ["runs", "show", "last"], ["runs", "delete", "1"]):
        res = runner.invoke(app, cmd)
        assert res.exit_code == 1 and "RegistryError: no registry at" in res.output, cmd
        assert not (home / "registry.db").exists(), cmd
    with open_registry(home / "registry.db"):
        pass  # an empty registry
    res = runner.invoke(app, ["measure", "report", "1"])
    assert res.exit_code == 1 and "RegistryError: no run '1'" in res.output
    res = runner.invoke(app, ["calibrate", "--name", "x"])
    assert res.exit_code == 1 and "MeasureError: no GEMM profile" in res.output
