"""Figures for the laws commands (display code: matplotlib, imported only here, on demand).

``save_figure`` writes PNG, or a self-contained HTML page with the PNG embedded as base64.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np

from scalewall._errors import InvalidParameter

__all__ = ["plot_data_budget", "plot_fit", "plot_frontier", "plot_loss_curve", "save_figure"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InvalidParameter(
            "--plot needs matplotlib; install it with `pip install scalewall[plot]`"
        ) from None
    return plt


def save_figure(fig: Any, path: str | Path, *, title: str = "scalewall") -> Path:
    """Write ``fig`` to ``path`` (.png, or .html with the PNG embedded)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".png", ".html", ".htm"):
        raise InvalidParameter(f"--plot must name a .png or .html file, got {str(p)!r}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    try:
        if suffix == ".png":
            p.write_bytes(buf.getvalue())
        else:
            data = base64.b64encode(buf.getvalue()).decode("ascii")
            p.write_text(
                f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
                f"</head><body><h1>{title}</h1><img alt='{title}' "
                f"src='data:image/png;base64,{data}'></body></html>\n", encoding="utf-8")
    except OSError as exc:
        raise InvalidParameter(f"--plot: cannot write {p} ({exc.strerror})") from None
    return p


def plot_fit(result: Any, path: str | Path) -> Path:
    """Observed vs fitted loss, and log residuals against compute (a FitResult)."""
    plt = _pyplot()
    runs = result.runs
    pred = result.predict(runs.n_params, runs.n_tokens)
    flop = 6.0 * runs.n_params * runs.n_tokens
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    sc = ax1.scatter(pred, runs.loss, c=np.log10(runs.n_params), cmap="viridis", s=14)
    lo, hi = float(min(pred.min(), runs.loss.min())), float(max(pred.max(), runs.loss.max()))
    ax1.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax1.set_xlabel("fitted loss [nats/token]")
    ax1.set_ylabel("observed loss [nats/token]")
    p = result.params
    ax1.set_title(f"E={p['E']:.3f} A={p['A']:.1f} B={p['B']:.1f} "
                  f"α={p['alpha']:.3f} β={p['beta']:.3f}", fontsize=9)
    fig.colorbar(sc, ax=ax1, label="log10 parameters")
    ax2.scatter(flop, result.log_residuals, c=np.log10(runs.n_params), cmap="viridis", s=14)
    ax2.axhline(0.0, color="k", lw=1)
    ax2.set_xscale("log")
    ax2.set_xlabel("training FLOP (6ND)")
    ax2.set_ylabel("log(observed) − log(fitted)")
    ax2.set_title(f"residuals, {result.n_runs} runs", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, title="scalewall laws fit")


def plot_frontier(curves: dict[str, tuple[Any, Any, Any, Any]], path: str | Path, *,
                  marker: tuple[float, float, float] | None = None) -> Path:
    """Compute-optimal parameters and tokens against FLOP, one line per law.

    ``curves[law] = (train_flop, n_params, n_tokens, loss)``; ``marker`` = (C, N, D).
    """
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, (c, n, d, loss) in curves.items():
        line = ax1.loglog(c, n, label=f"{name}: N")[0]
        ax1.loglog(c, d, "--", color=line.get_color(), label=f"{name}: D")
        ax2.semilogx(c, loss, color=line.get_color(), label=name)
    if marker is not None:
        ax1.plot([marker[0]] * 2, marker[1:], "ko", ms=5)
    ax1.set_xlabel("training FLOP")
    ax1.set_ylabel("parameters (solid), tokens (dashed)")
    ax1.legend(fontsize=7)
    ax2.set_xlabel("training FLOP")
    ax2.set_ylabel("loss at the optimum [nats/token]")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, title="scalewall laws: compute-optimal frontier")


def plot_loss_curve(n_tokens: Any, curves: dict[str, Any], path: str | Path, *,
                    title: str, marker: tuple[float, float] | None = None) -> Path:
    """Loss against training tokens, one line per label."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for label, loss in curves.items():
        ax.semilogx(n_tokens, loss, label=label)
    if marker is not None:
        ax.plot(*marker, "ko", ms=5)
    ax.set_xlabel("training tokens")
    ax.set_ylabel("predicted loss [nats/token]")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, title="scalewall laws loss")


def plot_data_budget(report: Any, path: str | Path) -> Path:
    """Tokens needed against the stock (low, median, high) and the synthetic gap."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    labels = ["low", "median", "high"]
    x = np.arange(3)
    ax1.bar(x - 0.2, report.unique_tokens, 0.4, label="unique tokens available")
    ax1.bar(x + 0.2, report.gap_tokens, 0.4, label=f"gap at ≤{report.max_epochs:g} epochs")
    ax1.axhline(report.n_tokens, color="k", ls="--", lw=1, label="tokens needed")
    ax1.set_yscale("log")
    ax1.set_xticks(x, labels)
    ax1.set_xlabel(f"stock estimate ({report.stock}, {report.stock_interval})")
    ax1.set_ylabel("tokens")
    ax1.legend(fontsize=8)
    lo = min(0.0, float(np.log10(min(report.epochs))) - 0.2)
    epochs = np.logspace(lo, np.log10(max(100.0, max(report.epochs) * 2)), 200)
    from scalewall.laws.constants import get_laws_catalog
    from scalewall.laws.repetition import epoch_multiplier_muennighoff2023

    r_d_star = get_laws_catalog().repeat().r_d_star
    def multiplier(e: Any) -> Any:  # below one epoch every token is fresh: D'/U = D/U
        return np.where(np.asarray(e) < 1, e, epoch_multiplier_muennighoff2023(
            e, r_d_star=r_d_star))

    ax2.semilogx(epochs, multiplier(epochs),
                 label="D'/U (Muennighoff et al. 2023)")
    ax2.semilogx(epochs, epochs, ":", color="grey", label="fresh data (D/U)")
    for e, label in zip(report.epochs, labels, strict=True):
        ax2.plot(e, multiplier(e), "o", label=label)
    ax2.set_ylim(0, 20)
    ax2.set_xlabel("epochs over the unique data")
    ax2.set_ylabel("effective data / unique data")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, title="scalewall data budget")
