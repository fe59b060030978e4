"""``scalewall report``: one self-contained HTML file (no network) and PNGs for slides."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from scalewall.cli import app


def test_report_is_self_contained(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, [
        "report", "--out", str(out), "--model", "llama-3.1-8b", "--devices", "64",
        "--tokens", "1T", "--compare", "h100-sxm,b200", "--png", str(tmp_path / "png")])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    # No external scripts, styles or fetches: everything is inline.
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=", html)
    assert "fetch(" not in html.split("scalewall-data")[-1]
    assert "ScalewallCharts" in html and "Plotly" in html
    assert 'id="scalewall-data"' in html or "id='scalewall-data'" in html
    pngs = sorted(p.name for p in (tmp_path / "png").glob("*.png"))
    assert {"train_memory.png", "train_step.png", "train_data.png", "train_compare.png",
            "serve_memory.png", "serve_hybrid.png"} <= set(pngs)
    assert "chart-serve-hybrid" in html and '"cheaper_from": 1024.0' in html
    assert all((tmp_path / "png" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_report_error_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "x.html"),
                                      "--model", "nope"])
    assert result.exit_code == 1
    assert "UnknownCatalogEntry" in result.output


def test_report_hybrid_falls_back_to_a_precision_that_fits(tmp_path: Path) -> None:
    """Llama 3.1 70B's bf16 weights (141 GB) do not fit on one H200: the report's hybrid
    comparison is drawn at fp8, and says so."""
    import json

    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, [
        "report", "--out", str(out), "--model", "llama-3.1-70b", "--devices", "1024",
        "--tokens", "1T", "--compare", "none", "--wall", "none"])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    data = json.loads(html.split("id='scalewall-data'>")[1].split("</script>")[0])
    assert data["serve_hybrid"]["precision"] == "fp8"
    assert data["serve_hybrid"]["hardware"] == "h200-sxm"
