"""Accuracy on the shipped validation set, against the targets the project states."""

from __future__ import annotations

import pytest

from scalewall.validate import SHIPPED_VALIDATION, read_validation_csv, validate_rows


@pytest.fixture(scope="module")
def result():
    return validate_rows(read_validation_csv(SHIPPED_VALIDATION))


def test_shipped_set_size_and_sources():
    rows = read_validation_csv(SHIPPED_VALIDATION)
    assert len(rows) >= 40
    publications = {r["id"].split("-")[0] for r in rows}
    assert len(publications) >= 8
    assert all(r["source"].strip() for r in rows)


def test_every_train_row_is_predicted_or_says_why(result):
    for row in result.rows:
        assert row["error"] is not None or row.get("reason"), row["id"]


def test_throughput_metrics_within_10_percent(result):
    """Model/hardware TFLOP/s per device, MFU, step time, tokens/s: 10% median (issue 2)."""
    metrics = ("model_tflops_per_device", "hardware_tflops_per_device", "mfu", "step_s",
               "tokens_per_s")
    errs = sorted(abs(r["error"]) for r in result.rows
                  if r["metric"] in metrics and r["error"] is not None)
    assert len(errs) >= 40
    assert errs[len(errs) // 2] <= 0.10


def test_peak_memory_within_10_percent(result):
    assert result.summary["peak_memory_gib"]["median_abs_error"] <= 0.10


def test_korthikanti_step_time_within_5_percent(result):
    """Korthikanti et al. 2022, Table 5 (and Sec. 6.3): iteration times of 22B-1T models on
    A100 with full or selective recomputation; the issue's target is a 5% median."""
    errs = sorted(abs(r["error"]) for r in result.rows
                  if r["id"].startswith("kor22-") and r["metric"] == "step_s")
    assert errs[len(errs) // 2] <= 0.05


def test_whole_run_metrics_within_15_percent(result):
    """Device-hours, days, MWh, tCO2e pooled: 15% median (issue 2)."""
    g = result.groups["whole-run"]
    assert g["n"] >= 30
    assert g["median_abs_error"] <= 0.15 and g["met"]


def test_groups_pool_the_rows_of_their_metrics(result):
    g = result.groups["throughput"]
    errs = sorted(abs(r["error"]) for r in result.rows if r["error"] is not None
                  and r["metric"] in ("model_tflops_per_device", "hardware_tflops_per_device",
                                      "mfu", "step_s", "tokens_per_s"))
    assert g["n"] == len(errs)
    assert "decode" not in result.groups  # no serving rows in the training file
    assert set(result.to_dict()) == {"rows", "summary"}  # DESIGN.md's JSON contract


def test_by_source_pools_each_publication_per_group(result):
    """Korthikanti et al.'s 15 step-time and TFLOP/s rows are one throughput cell; the cells of
    a group hold every predicted row of it, and a label stops at the first comma or bracket."""
    from scalewall.validate import by_source, source_label

    rows = read_validation_csv(SHIPPED_VALIDATION)
    cells = by_source(rows, result)
    kor = [c for c in cells if c["source"] == "Korthikanti et al. 2022"]
    assert [c["group"] for c in kor] == ["throughput"] and kor[0]["n"] == 15
    assert kor[0]["median_abs_error"] < 0.05
    n_throughput = sum(c["n"] for c in cells if c["group"] == "throughput")
    assert n_throughput == result.groups["throughput"]["n"]
    assert source_label("ML.ENERGY Leaderboard v3.0 (vLLM 0.11.1), task x") == (
        "ML.ENERGY Leaderboard v3.0")
    assert source_label("") == "(no source)"
