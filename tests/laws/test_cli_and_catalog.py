"""The laws CLI, the validation hook and the laws catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from scalewall._errors import CatalogFileError, InvalidParameter
from scalewall.catalog import get_catalog
from scalewall.cli import app
from scalewall.laws import get_loss, load_laws_catalog
from scalewall.laws.fitting import SHIPPED_RUNS
from scalewall.laws.validate import predict_loss_row

runner = CliRunner()


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("law", ["hoffmann2022", "besiroglu2024"])
def test_optimal_json(law: str) -> None:
    out = _json(["laws", "optimal", "--compute", "5.76e23", "--law", law, "--json"])
    assert {"n_params", "n_tokens", "loss"} <= set(out)
    assert_allclose(6 * out["n_params"] * out["n_tokens"], 5.76e23)


def test_optimal_modes() -> None:
    out = _json(["laws", "optimal", "--compute", "1e23", "--unique-tokens", "100B", "--json"])
    assert out["data_constrained"]["epochs"] > 1
    out = _json(["laws", "optimal", "--inference-tokens", "2T", "--like-params", "13B",
                 "--law", "hoffmann2022-unrounded", "--json"])
    assert 6.5e9 < out["n_params"] < 7.5e9 and "usd" in out and "energy_j" in out
    out = _json(["laws", "optimal", "--budget-days", "30", "--devices", "512", "--json"])
    assert_allclose(out["plan"]["days"], 30.0)


def test_other_commands() -> None:
    out = _json(["laws", "loss", "--params", "7B", "--tokens", "1.4T", "--unique-tokens",
                 "140B", "--json"])
    assert_allclose(out["loss"], get_loss(7e9, 1.4e12))
    assert out["epochs"] == pytest.approx(10.0) and out["loss_penalty"] > 0
    out = _json(["laws", "compare", "--json"])
    assert [r["law"] for r in out["laws"]][:3] == ["hoffmann2022", "hoffmann2022-unrounded",
                                                   "besiroglu2024"]
    out = _json(["data", "--model", "llama-3.1-405b", "--tokens", "15.6T", "--teacher-params",
                 "70B", "--json"])
    assert out["gap_tokens"] == [0.0, 0.0, 0.0]
    out = _json(["laws", "fit", str(SHIPPED_RUNS), "--drop-highest", "5", "--bootstrap", "3",
                 "--starts", "4", "--json"])
    assert out["n_runs"] == 240 and set(out["ci95"]) == {"E", "A", "B", "alpha", "beta"}


@pytest.mark.parametrize("args,message", [
    (["laws", "optimal", "--compute", "-5", "--json"], "--compute must be a positive number"),
    (["laws", "optimal", "--json"], "give exactly one of --compute"),
    (["laws", "loss", "--params", "0", "--tokens", "1T"], "--params must be a positive"),
    (["data", "--tokens", "1T"], "give exactly one of --params or --model"),
    (["laws", "optimal", "--budget-usd", "1M", "--hardware", "nope"], "unknown accelerator"),
])
def test_bad_input_exit_1(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.stderr.replace("\n", "")


def test_fit_errors(tmp_path: Path) -> None:
    f = tmp_path / "runs.csv"
    f.write_text("n_params,n_tokens\n1e9,1e10\n")
    result = runner.invoke(app, ["laws", "fit", str(f)])
    assert result.exit_code == 1 and "CatalogFileError" in result.stderr
    f.write_text("n_params,n_tokens,loss\n1e9,1e10,3.0\n2e9,2e10,2.9\n")
    result = runner.invoke(app, ["laws", "fit", str(f)])
    assert result.exit_code == 1 and "need at least 10 runs" in result.stderr.replace("\n", "")


@pytest.mark.parametrize("args", [
    ["laws", "optimal", "--compute", "1e23", "--plot", "{}.png"],
    ["laws", "compare", "--plot", "{}.html"],
    ["laws", "loss", "--params", "1B", "--tokens", "20B", "--plot", "{}.png"],
    ["data", "--params", "4T", "--tokens", "1000T", "--plot", "{}.png"],
    ["laws", "fit", str(SHIPPED_RUNS), "--bootstrap", "0", "--starts", "4", "--plot", "{}.png"],
], ids=["optimal", "compare-html", "loss", "data", "fit"])
def test_plots(tmp_path: Path, args: list[str]) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / args[-1].format("figure")
    result = runner.invoke(app, [*args[:-1], str(path), "--json"])
    assert result.exit_code == 0, result.output
    head = path.read_bytes()[:16]
    assert head.startswith(b"\x89PNG") if path.suffix == ".png" else head.startswith(b"<!doctype")


def test_validation_hook() -> None:
    cat = get_catalog()
    value = predict_loss_row({"model": "chinchilla-70b", "tokens": "1.4e12"}, cat, "2 (x)")
    from scalewall.arch import n_params

    assert_allclose(value, get_loss(n_params(cat.model("chinchilla-70b")), 1.4e12))
    with pytest.raises(InvalidParameter, match="needs column 'tokens'"):
        predict_loss_row({"model": "chinchilla-70b", "tokens": ""}, cat, "3 (y)")
    with pytest.raises(InvalidParameter, match="cannot size the model"):
        predict_loss_row({"tokens": "1e12"}, cat, "4 (z)")


def test_every_entry_has_a_source() -> None:
    cat = load_laws_catalog()
    entries = [*cat.laws.values(), *cat.repetition.values(), *cat.stocks.values()]
    for entry in entries:
        p = entry.provenance
        assert p.source_url.startswith("https://") and p.source_title and p.retrieved
    assert all(p.source_url for p in cat.assumption_sources.values())


def test_bad_catalog_file(tmp_path: Path) -> None:
    f = tmp_path / "mine.toml"
    f.write_text('[laws.mine]\nform = "chinchilla"\ne = 1.7\na = 400\nb = 400\nalpha = -0.3\n'
                 'beta = 0.3\nsource_url = "u"\nsource_title = "t"\nretrieved = "2025-01-01"\n')
    with pytest.raises(CatalogFileError, match=r"\[laws.mine\] alpha: must be > 0, got -0.3"):
        load_laws_catalog([f])
    f.write_text('[laws.mine]\nform = "chinchilla"\ne = 1.7\na = 400\nb = 400\nalpha = 0.3\n'
                 'beta = 0.3\nsource_url = "u"\nsource_title = "t"\nretrieved = "2025-01-01"\n')
    assert load_laws_catalog([f]).chinchilla("mine").alpha == 0.3
