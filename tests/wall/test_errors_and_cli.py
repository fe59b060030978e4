"""Bad input is refused before sampling, with messages that say what to do; the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalewall._errors import CatalogFileError, InvalidParameter, UnknownCatalogEntry
from scalewall.cli import app
from scalewall.wall import Distribution, load_scenario, parse_years, project

runner = CliRunner()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_p10_above_p50(tmp_path: Path) -> None:
    path = _write(tmp_path, "[inputs.mfu]\np10 = 0.5\np50 = 0.4\np90 = 0.6\n")
    with pytest.raises(InvalidParameter, match=r"mfu percentiles must satisfy p10 <= p50"):
        load_scenario(path)


def test_unknown_input_suggests_close_match(tmp_path: Path) -> None:
    path = _write(tmp_path, "[inputs.training_duration]\nvalue = 1e7\n")
    with pytest.raises(InvalidParameter, match=r"did you mean 'training_duration_s'"):
        load_scenario(path)


def test_unknown_key_in_input_table(tmp_path: Path) -> None:
    path = _write(tmp_path, "[inputs.mfu]\np10 = 0.2\np50 = 0.3\np90 = 0.4\np95 = 0.5\n")
    with pytest.raises(CatalogFileError, match=r"unknown key 'p95'; did you mean"):
        load_scenario(path)


def test_negative_quantity(tmp_path: Path) -> None:
    path = _write(tmp_path, "[inputs.largest_campus_2030_w]\np10 = -1e9\np50 = 2e9\n"
                  "p90 = 5e9\n")
    with pytest.raises(InvalidParameter, match=r"largest_campus_2030_w .* must be > 0"):
        load_scenario(path)


def test_linear_tail_below_zero(tmp_path: Path) -> None:
    path = _write(tmp_path, "[inputs.training_duration_s]\np10 = 1e6\np50 = 1e7\np90 = 2e7\n"
                  "scale = \"linear\"\n")
    with pytest.raises(InvalidParameter, match=r"would draw values below 0"):
        load_scenario(path)


def test_inconsistent_correlations(tmp_path: Path) -> None:
    path = _write(tmp_path, """
[[correlations]]
a = "mfu"
b = "largest_run_share"
spearman = 0.95
[[correlations]]
a = "mfu"
b = "budget_growth"
spearman = 0.95
[[correlations]]
a = "largest_run_share"
b = "budget_growth"
spearman = -0.95
""")
    with pytest.raises(InvalidParameter, match=r"not positive definite"):
        load_scenario(path)


def test_unknown_scenario_name() -> None:
    with pytest.raises(UnknownCatalogEntry, match=r"did you mean 'baseline'"):
        load_scenario("baselin")


def test_user_scenario_overrides_baseline(tmp_path: Path) -> None:
    path = _write(tmp_path, '[scenario]\nname = "long runs"\n'
                  "[inputs.training_duration_s]\nvalue = 3.0e7\n")
    scen = load_scenario(path)
    assert scen.name == "long runs"
    assert scen.inputs["training_duration_s"].is_constant
    assert scen.inputs["mfu"] == load_scenario("baseline").inputs["mfu"]


def test_with_inputs_checks() -> None:
    with pytest.raises(InvalidParameter, match="p10 <= p50"):
        load_scenario("baseline").with_inputs(mfu=Distribution(0.5, 0.4, 0.6))


@pytest.mark.parametrize("text", ["2020:2030", "2024:2070", "twenty", "2031:2030"])
def test_years_out_of_range(text: str) -> None:
    with pytest.raises(InvalidParameter, match="year"):
        parse_years(text)


def test_draws_checked() -> None:
    with pytest.raises(InvalidParameter, match="n_draws"):
        project(n_draws=10)


def test_cli_year_json_shape() -> None:
    res = runner.invoke(app, ["wall", "--year", "2030", "--json", "--draws", "20000"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["trend_flop"] == pytest.approx(1.805e29, rel=1e-3)
    assert set(data["feasible_flop"]) == {"p10", "median", "p90"}
    assert set(data["constraints"]) == {"power", "chips", "data", "capital", "latency"}
    for q in data["constraints"].values():
        assert set(q) == {"p10", "median", "p90"} and q["p10"] <= q["median"] <= q["p90"]
    assert set(data["binding"]) == set(data["constraints"])
    assert sum(data["binding"].values()) == pytest.approx(1.0)


def test_cli_table_and_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    res = runner.invoke(app, ["wall", "--years", "2026:2032", "--draws", "5000",
                              "--scenario", "gigawatt-campuses", "--plot", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "gigawatt-campuses" in res.output
    for name in ("fan.png", "binding.png", "tornado.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_cli_errors_exit_1(tmp_path: Path) -> None:
    res = runner.invoke(app, ["wall", "--years", "2010:2030"])
    assert res.exit_code == 1
    assert "InvalidParameter: years must be within 2024-2060" in res.output
    bad = _write(tmp_path, "[inputs.mfu]\np10 = 0.5\np50 = 0.4\np90 = 0.6\n")
    res = runner.invoke(app, ["wall", "--scenario", str(bad)])
    assert res.exit_code == 1 and "InvalidParameter" in res.output
