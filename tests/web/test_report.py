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
            "serve_memory.png", "serve_hybrid.png", "serve_roofline.png"} <= set(pngs)
    assert "chart-serve-hybrid" in html and '"cheaper_from": 1024.0' in html
    assert "chart-serve-roofline" in html and '"ridge_flop_per_byte"' in html
    assert all((tmp_path / "png" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_report_error_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "x.html"),
                                      "--model", "nope"])
    assert result.exit_code == 1
    assert "UnknownCatalogEntry" in result.output


def test_report_hybrid_section() -> None:
    """The report's hybrid comparison runs on the fewest devices that hold the weights (Llama
    3.1 70B in bf16: two H200s), and falls back to a lower precision when no replica within the
    scale-up domain holds them (DeepSeek-V3: fp8 on eight)."""
    from scalewall.catalog import get_catalog
    from scalewall.web.cli import _hybrid_for_report
    from scalewall.web.limits import DEFAULT_LIMITS
    from scalewall.web.routes import Context

    ctx = Context(get_catalog(), DEFAULT_LIMITS)
    llama = _hybrid_for_report(ctx, "llama-3.1-70b", None, None, "h200-sxm")
    assert llama is not None and (llama["precision"], llama["n_devices"]) == ("bf16", 2)
    ds = _hybrid_for_report(ctx, "deepseek-v3", None, None, "h200-sxm")
    assert ds is not None and (ds["precision"], ds["n_devices"]) == ("fp8", 8)
