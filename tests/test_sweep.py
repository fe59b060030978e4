from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalewall._errors import CatalogFileError
from scalewall.cli import app
from scalewall.sweep import build_spec, load_sweep_spec, run_sweep, sweep_points

SPEC = {"models": ["llama-2-7b", "llama-2-13b"], "hardware": ["h100-sxm", "a100-sxm4-80gb"],
        "devices": [64, 128], "tokens": ["1T"]}


def test_sweep_points_and_rows():
    spec = build_spec(SPEC)
    assert spec.n_points == 8 and len(sweep_points(spec)) == 8
    rows = run_sweep(spec, chunk_size=3)
    assert [r["model"] for r in rows[:4]] == ["llama-2-7b"] * 4
    assert all(r["feasible"] for r in rows)
    # more devices, same tokens: shorter runs
    by_key = {(r["model"], r["hardware"], r["devices"]): r for r in rows}
    assert by_key[("llama-2-7b", "h100-sxm", 128)]["days"] < by_key[
        ("llama-2-7b", "h100-sxm", 64)]["days"]


def test_spec_errors_are_listed_at_once(tmp_path: Path):
    bad = tmp_path / "spec.toml"
    bad.write_text('models = ["llama-2-7x"]\nhardware = ["h100-sxm"]\ndevices = [0]\n'
                   'tokenz = ["1T"]\n')
    with pytest.raises(CatalogFileError) as err:
        load_sweep_spec(bad)
    message = str(err.value)
    for part in ("unknown key 'tokenz'", "did you mean 'tokens'", "'llama-2-7x'",
                 "devices must be positive integers, got 0"):
        assert part in message


def test_interrupted_sweep_resumes(tmp_path: Path):
    spec = build_spec(SPEC)
    out = tmp_path / "results.csv"
    journal = tmp_path / "results.csv.journal.jsonl"
    first = run_sweep(spec, chunk_size=8)
    # a previous run finished three points and was cut off mid-line
    journal.write_text("".join(json.dumps(r) + "\n" for r in first[:3]) + '{"model": "lla')
    calls: list[int] = []
    rows = run_sweep(spec, out=out, chunk_size=2, progress=lambda i, n: calls.append(i))
    assert calls[0] == 3  # resumed after the three journaled points
    assert rows == first
    assert not journal.exists()
    with out.open() as fh:
        written = list(csv.DictReader(fh))
    assert len(written) == 8 and written[0]["model"] == "llama-2-7b"


def test_dask_local_cluster_gives_identical_rows():
    pytest.importorskip("dask.distributed")
    spec = build_spec(SPEC)
    assert run_sweep(spec, dask="local", chunk_size=3) == run_sweep(spec, chunk_size=3)


def test_cli_sweep_cap_and_json(tmp_path: Path):
    runner = CliRunner()
    args = ["sweep", "--models", "llama-2-7b,llama-2-13b", "--hardware", "h100-sxm",
            "--devices", "64,128", "--tokens", "1T"]
    capped = runner.invoke(app, [*args, "--max-points", "3"])
    assert capped.exit_code == 1 and "rerun with --yes" in capped.output
    result = runner.invoke(app, [*args, "--json", "--out", str(tmp_path / "r.parquet")])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["points"]) == 4
