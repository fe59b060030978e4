from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalewall.cli import app

runner = CliRunner()


def test_train_defaults_json():
    result = runner.invoke(app, ["train", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model"] == "llama-3.1-405b" and data["n_devices"] == 16384
    assert data["n_tokens"] == pytest.approx(15.6e12)
    assert data["memory"]["feasible"] is True
    assert data["footprint"]["energy_j"] > 0
    assert data["calibrated"] is False


def test_train_report_has_the_tables():
    result = runner.invoke(app, ["train", "--model", "llama-2-7b", "--devices", "64",
                                 "--tokens", "2T", "--hardware", "a100-sxm4-80gb"])
    assert result.exit_code == 0, result.output
    for heading in ("Memory per device", "Step time", "Throughput", "Whole run", "Data"):
        assert heading in result.stdout


def test_train_with_layout_and_hf_config(tmp_path: Path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({
        "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
        "num_attention_heads": 16, "num_hidden_layers": 16, "num_key_value_heads": 8,
        "vocab_size": 32000, "max_position_embeddings": 4096}))
    result = runner.invoke(app, ["train", "--hf-config", str(cfg), "--devices", "8",
                                 "--tokens", "10B", "--tp", "2", "--pp", "1", "--dp", "4",
                                 "--micro-batch", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["layout"]["tp"] == 2 and data["layout_searched"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--model", "lama-2-7b"], "did you mean 'llama-2-7b'"),
        (["train", "--model", "llama-2-7b", "--devices", "3", "--tp", "3", "--pp", "1",
          "--dp", "1", "--micro-batch", "1"], "tp=3 must divide the attention heads"),
        (["train", "--tokens", "lots"], "--tokens must be a positive number"),
        (["train", "--region", "atlantis"], "unknown region 'atlantis'"),
        (["catalog", "show", "h100-sxmm"], "did you mean"),
        (["validate", "missing.csv"], "cannot read"),
    ],
)
def test_user_errors_exit_1_without_traceback(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_usage_error_exits_2():
    result = runner.invoke(app, ["train", "--devices", "0"])
    assert result.exit_code == 2


def test_catalog_list_and_show():
    result = runner.invoke(app, ["catalog", "list", "models", "--json"])
    assert result.exit_code == 0
    ids = [m["id"] for m in json.loads(result.stdout)["models"]]
    assert "deepseek-v3" in ids
    shown = json.loads(runner.invoke(app, ["catalog", "show", "h100", "--json"]).stdout)
    assert shown["id"] == "h100-sxm" and shown["provenance"]["source_url"].startswith("http")


def test_validate_json_contract(tmp_path: Path):
    src = Path(__file__).parents[1] / "src/scalewall/catalog/validation/train.csv"
    lines = src.read_text().splitlines()
    keep = [lines[0]] + [ln for ln in lines[1:] if ln.startswith(("h200-gpt", "kor22-22B"))]
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text("\n".join(keep) + "\n")
    result = runner.invoke(app, ["validate", str(csv_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"rows", "summary"}
    for row in data["rows"]:
        assert {"id", "metric", "reported", "predicted", "error"} <= set(row)
        if row["error"] is not None:
            assert row["error"] == pytest.approx(row["predicted"] / row["reported"] - 1)
    assert data["summary"]["peak_memory_gib"]["n"] == 2


def test_validate_text_has_the_source_breakdown(tmp_path: Path):
    src = Path(__file__).parents[1] / "src/scalewall/catalog/validation/train.csv"
    lines = src.read_text().splitlines()
    keep = [lines[0]] + [ln for ln in lines[1:] if ln.startswith("kor22-")]
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text("\n".join(keep) + "\n")
    result = runner.invoke(app, ["validate", str(csv_path)])
    assert result.exit_code == 0, result.output
    assert "By source" in result.stdout and "Korthikanti et al. 2022" in result.stdout


def test_catalog_error_keeps_its_location_and_rule(tmp_path: Path):
    """The CLI prints a catalog error as text: the [section.entry] that locates it is not
    swallowed as console markup, and a one-sided bound reads as one."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[planner.ridge_exponent]\nvalue = 0.5\nsource_url = "x"\n'
                   'source_title = "x"\nretrieved = "2026-11-29"\n')
    result = runner.invoke(app, ["infer", "--catalog", str(bad)])
    assert result.exit_code == 1
    assert "[planner.ridge_exponent] value: must be >= 1.0, got 0.5" in result.output
