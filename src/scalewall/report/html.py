"""Self-contained HTML report of a plan, and PNG charts for slides.

:func:`render_report` writes one HTML file with everything inline (plotly.js from the installed
``plotly`` package, the page's own ``charts.js``, the plan as JSON): it opens offline, draws the
same charts as the page (``scalewall web``), and can be attached to a design review.
:func:`write_pngs` draws the same charts with matplotlib for slides. Both take the planners'
``to_dict()`` output and compute nothing: they convert units and lay out.
"""

from __future__ import annotations

import datetime as _dt
import html
import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ReportData", "render_report", "write_pngs", "write_report"]

_STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
_GIB, _DAY, _MWH, _TONNE = 2.0**30, 86400.0, 3.6e9, 1e6
_TRAIN_STEP = ("gemm_s", "attention_s", "elementwise_s", "tp_comm_s", "cp_comm_s", "ep_comm_s",
               "pp_comm_s", "bubble_s", "dp_comm_s", "optimizer_s")
_SERVE_STEP = ("gemm_s", "attention_s", "elementwise_s", "comm_s")
_COLORS = ("#3366cc", "#dc8a00", "#109618", "#990099", "#dd4477", "#0099c6", "#66aa00",
           "#b82e2e", "#316395", "#994499")


@dataclass
class ReportData:
    """What a report shows: the ``to_dict()`` of each plan (None leaves a section out)."""

    train: dict[str, Any]
    compare: dict[str, Any] | None = None
    serve: dict[str, Any] | None = None
    serve_compare: dict[str, Any] | None = None
    wall: dict[str, Any] | None = None
    serve_hybrid: dict[str, Any] | None = None  # the model against its state-space hybrid

    def to_dict(self) -> dict[str, Any]:
        return {"train": self.train, "compare": self.compare, "serve": self.serve,
                "serve_compare": self.serve_compare, "wall": self.wall,
                "serve_hybrid": self.serve_hybrid}


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _plotly_js() -> str:
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the plotly package is not installed: pip install "
                                "'scalewall[web]'")
    return (Path(spec.origin).parent / "package_data" / "plotly.min.js").read_text("utf-8")


def _inline_script(source: str) -> str:
    # "</script" inside inline JavaScript would end the element early.
    return "<script>" + source.replace("</script", "<\\/script") + "</script>"


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.3g}{unit}" if abs(x) < 1e5 else f"{x:,.0f}{unit}"


def _key_figures(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """Plain-text figures for the table shown even without JavaScript."""
    fp, st, mem, lay = plan["footprint"], plan["step"], plan["memory"], plan["layout"]
    rental = fp.get("rental_cost_usd")
    own = fp.get("ownership_cost_usd")
    cost = rental if rental is not None else (None if own is None else
                                              own + (fp.get("electricity_cost_usd") or 0.0))
    return [
        ("model", f"{plan['model']} ({_fmt(plan['n_params'])} parameters)"),
        ("accelerator", f"{plan['n_devices']:,} x {plan['hardware']}"),
        ("layout", f"tp {lay['tp']}, pp {lay['pp']}, dp {lay['dp']}, cp {lay['cp']}, "
                   f"ep {lay['ep']}, micro-batch {lay['micro_batch']}, recompute "
                   f"{lay['recompute']}, ZeRO {lay['zero']}"),
        ("tokens", _fmt(plan["n_tokens"])),
        ("throughput", f"{_fmt(st['tokens_per_s'])} tokens/s, MFU {_fmt(100 * st['mfu'])}%"),
        ("memory per device", f"{_fmt(mem['total_bytes'] / _GIB)} of "
                              f"{_fmt(mem['capacity_bytes'] / _GIB)} GiB"),
        ("duration", f"{_fmt(fp['duration_s'] / _DAY)} days, "
                     f"{_fmt(fp['device_hours'])} device-hours"),
        ("energy", f"{_fmt(fp['energy_j'] / _MWH)} MWh"),
        ("emissions", f"{_fmt(fp['co2_g'] / _TONNE)} tCO2e ({plan['region']})"),
        ("cost", "$" + _fmt(cost) + (" (cloud rental)" if rental is not None else
                                     " (ownership + electricity)")),
        ("data", f"{_fmt(plan['data']['tokens_needed'])} needed, "
                 f"{_fmt(plan['data']['tokens_available'])} available "
                 f"({_fmt(plan['data']['epochs'])} epochs)"),
    ]


_CSS = """
body{margin:0 auto;max-width:1200px;padding:16px 24px;font:14px/1.45 system-ui,sans-serif;
color:#1d2330;background:#f5f6f9}h1{font-size:22px;margin:0}h2{font-size:18px;margin:24px 0 8px}
.meta{color:#5b6475;font-size:12px;margin:2px 0 12px}table.kv{border-collapse:collapse;
background:#fff}table.kv td{border:1px solid #dde1ea;padding:3px 8px}table.kv td:first-child{
color:#5b6475}.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));
gap:10px;margin:12px 0}.card{background:#fff;border:1px solid #dde1ea;border-radius:8px;
padding:8px 10px}.card .label,.card .sub{color:#5b6475;font-size:12px}.card .value{
font-size:18px;font-weight:650}.charts{display:grid;grid-template-columns:repeat(auto-fit,
minmax(460px,1fr));gap:12px}.chart{background:#fff;border:1px solid #dde1ea;border-radius:8px;
min-height:340px}.chart.wide{min-height:540px;margin-top:12px}.note{color:#5b6475;font-size:12px}
@media print{.chart{break-inside:avoid}}
"""

_RENDER = """
(function(){"use strict";
const D=JSON.parse(document.getElementById("scalewall-data").textContent);
const C=window.ScalewallCharts,$=(s)=>document.getElementById(s);
function cards(el,items){for(const c of items){const d=document.createElement("div");
d.className="card";for(const[k,t]of[["label",c.label],["value",c.value],["sub",c.sub]]){
const s=document.createElement("div");s.className=k;s.textContent=t;d.appendChild(s);}
el.appendChild(d);}}
const t=D.train;cards($("train-cards"),C.trainCards(t));C.memoryChart($("chart-memory"),t.memory);
C.stepChart($("chart-step"),t.step,C.TRAIN_STEP);C.costChart($("chart-cost"),t.footprint);
C.dataChart($("chart-data"),t.data);
if(D.compare)C.compareChart($("chart-compare"),D.compare.plans);
if(D.serve){cards($("serve-cards"),C.serveCards(D.serve));
C.serveMemoryChart($("chart-serve-memory"),D.serve.memory);
C.stepChart($("chart-serve-step"),D.serve.decode_step,C.SERVE_STEP,"Decode step by part");
if(D.serve.operators)C.rooflineChart($("chart-serve-roofline"),D.serve.operators);}
if(D.serve_compare)C.serveCompareChart($("chart-serve-compare"),D.serve_compare.plans);
if(D.serve_hybrid)C.hybridChart($("chart-serve-hybrid"),D.serve_hybrid,D.serve_hybrid.hardware);
if(D.wall&&window.ScalewallWall)window.ScalewallWall.draw($("wall-body"),D.wall);
document.body.dataset.state="ready";})();
"""


def _covers(box: tuple[float, float, float, float], dots: list[tuple[float, float]],
            boxes: list[tuple[float, float, float, float]], pad: float) -> bool:
    """Whether a label box (x0, x1, y centre, height) on screen covers a dot (within ``pad``)
    or overlaps a placed box."""
    x0, x1, y, h = box
    return (any(x0 - pad < sx < x1 and abs(sy - y) < h / 2 + pad for sx, sy in dots)
            or any(x0 < bx1 and bx0 < x1 and abs(by - y) < h for bx0, bx1, by, _ in boxes))


def _label_points(ax: Any, pts: list[tuple[float, float, str]]) -> None:
    """Name each point to its right, moving a label up (lowest point first) until its box
    covers neither another point nor a label already placed; a moved label is tied to its
    point by a thin line."""
    scale = ax.figure.dpi / 72.0  # pixels per point
    screen = [(float(x), float(y)) for x, y in ax.transData.transform([p[:2] for p in pts])]
    boxes: list[tuple[float, float, float, float]] = []
    for k in sorted(range(len(pts)), key=lambda i: screen[i][1]):
        others = screen[:k] + screen[k + 1:]
        x0, y = screen[k][0] + 7 * scale, screen[k][1]
        w, h = 3.9 * len(pts[k][2]) * scale, 9 * scale
        for _ in range(40):
            if not _covers((x0, x0 + w, y, h), others, boxes, 4 * scale):
                break
            y += 3 * scale
        boxes.append((x0, x0 + w, y, h))
        dy = (y - screen[k][1]) / scale
        ax.annotate(pts[k][2], pts[k][:2], fontsize=7, ha="left", va="center",
                    xytext=(7, dy), textcoords="offset points",
                    arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "#888"}
                    if abs(dy) > 1 else None)


def _roofline(ops: dict[str, Any], save: Any) -> None:
    """``serve_roofline.png``: each GEMM of a decode step and a prefill at its FLOP/B and the
    FLOP/s its modelled time reaches, under the device's achievable roofs."""
    import matplotlib.pyplot as plt

    dec, pre = ops["decode"], ops["prefill"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    def points(t: dict[str, Any]) -> list[tuple[float, float, str]]:
        out = [(g["intensity"], g["flop"] / g["time_s"], g["name"]) for g in t["gemms"]]
        a = t.get("attention") or {}
        if a.get("intensity"):
            out.append((a["intensity"], a["flop"] / a["time_s"], "attention"))
        return out

    pts = points(dec) + points(pre)
    lo, hi = min(p[0] for p in pts) / 3, max(p[0] for p in pts) * 3
    xs = [lo, dec["ridge_flop_per_byte"], hi]
    ax.plot(xs, [min(dec["compute_roof_flop_per_s"], x * dec["memory_roof_bytes_per_s"])
                 for x in xs], "-", color="#444", label="roof (achievable)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    series = [points(dec), points(pre)]
    for i, (t, name) in enumerate(((dec, "decode step"), (pre, "prefill"))):
        ax.plot([p[0] for p in series[i]], [p[1] for p in series[i]], "o", color=_COLORS[i],
                label=f"{name} ({t['step_s'] * 1e3:.3g} ms)")
    ax.autoscale_view()
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top * 6.0)  # headroom for the labels of points at the compute roof
    for q in series:
        _label_points(ax, q)
    ax.set_xlabel("arithmetic intensity (FLOP per byte)")
    ax.set_ylabel("FLOP/s reached")
    ax.set_title(f"Roofline of the matrix multiplies and attention, one device (ridge "
                 f"{dec['ridge_flop_per_byte']:.0f} FLOP/B)", fontsize=10)
    ax.legend(fontsize=8)
    save(fig, "serve_roofline.png")


def render_report(data: ReportData, *, title: str | None = None) -> str:
    """The report as one HTML document with every script, style and number inline."""
    plan = data.train
    title = title or f"Training {plan['model']} on {plan['n_devices']:,} x {plan['hardware']}"
    payload = json.dumps(_clean(data.to_dict()), allow_nan=False).replace("</", "<\\/")
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                   for k, v in _key_figures(plan))
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='meta'>scalewall report, {stamp}. {html.escape(str(plan.get('note', '')))}"
        "</p>",
        f"<table class='kv'>{rows}</table>",
        "<h2>Training plan</h2><div id='train-cards' class='cards'></div><div class='charts'>",
        "<div id='chart-memory' class='chart'></div><div id='chart-step' class='chart'></div>",
        "<div id='chart-cost' class='chart'></div><div id='chart-data' class='chart'></div>",
        "</div>",
    ]
    if data.compare:
        failed = [p for p in data.compare["plans"] if not p.get("ok")]
        parts.append("<h2>Comparison across accelerators</h2>"
                     "<div id='chart-compare' class='chart wide'></div>")
        parts += [f"<p class='note'>{html.escape(p['hardware'])}: "
                  f"{html.escape(p['message'])}</p>" for p in failed]
    if data.serve:
        parts.append(
            "<h2>Serving</h2><div id='serve-cards' class='cards'></div><div class='charts'>"
            "<div id='chart-serve-memory' class='chart'></div>"
            "<div id='chart-serve-step' class='chart'></div></div>")
        if data.serve.get("operators"):
            parts.append("<div id='chart-serve-roofline' class='chart wide'></div>")
        if data.serve_compare:
            parts.append("<div id='chart-serve-compare' class='chart wide'></div>")
        if data.serve_hybrid:
            parts.append("<div id='chart-serve-hybrid' class='chart wide'></div>")
    if data.wall:
        parts.append("<h2>The wall</h2><div id='wall-body'></div>")
    parts += [
        f"<script type='application/json' id='scalewall-data'>{payload}</script>",
        _inline_script(_plotly_js()),
        _inline_script((_STATIC / "charts.js").read_text("utf-8")),
    ]
    wall_js = _STATIC / "wall.js"
    if data.wall and wall_js.is_file():
        parts.append(_inline_script(wall_js.read_text("utf-8")))
    parts += [_inline_script(_RENDER), "</body></html>"]
    return "\n".join(parts)


def write_report(data: ReportData, path: str | Path, *, title: str | None = None) -> Path:
    """Write :func:`render_report` to ``path``; returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(data, title=title), encoding="utf-8")
    return out


# --- PNG (matplotlib) ---------------------------------------------------------------------
def _label(key: str) -> str:
    for suffix in ("_bytes_per_device", "_bytes", "_s"):
        key = key.removesuffix(suffix)
    return key.replace("_", " ")


def _cost(fp: dict[str, Any]) -> float | None:
    if fp.get("rental_cost_usd") is not None:
        return float(fp["rental_cost_usd"])
    own = fp.get("ownership_cost_usd")  # amortised hardware, electricity included
    return None if own is None else float(own)


def write_pngs(data: ReportData, folder: str | Path, *, dpi: int = 150) -> list[Path]:
    """The report's charts as PNG files in ``folder`` (created); returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        path = out / name
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        written.append(path)

    def stacked(parts: dict[str, float], capacity: float, title: str, name: str) -> None:
        fig, ax = plt.subplots(figsize=(6, 4.5))
        bottom = 0.0
        for i, (k, v) in enumerate(parts.items()):
            ax.bar(["per device"], [v], bottom=bottom, label=f"{k} {v:.1f}", width=0.5,
                   color=_COLORS[i % 10])
            bottom += v
        ax.axhline(capacity, color="#c00", ls="--", label=f"capacity {capacity:.0f} GiB")
        ax.set_ylabel("GiB")
        ax.set_title(title)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], labels[::-1], fontsize=8, loc="upper left",
                  bbox_to_anchor=(1.02, 1.0))
        ax.set_ylim(0, max(capacity, bottom) * 1.15)
        save(fig, name)

    def steps(step: dict[str, Any], keys: tuple[str, ...], title: str, name: str,
              scale: float = 1.0, unit: str = "s") -> None:
        keys = tuple(k for k in keys if (step.get(k) or 0) > 0)
        fig, ax = plt.subplots(figsize=(6, 4))
        values = [float(step[k]) * scale for k in keys]
        ax.barh([_label(k) for k in keys], values, color=_COLORS[: len(keys)])
        ax.invert_yaxis()
        total = float(step["step_s"]) * scale
        for y, v in enumerate(values):
            ax.text(v, y, f" {100 * v / total:.1f}%", va="center", fontsize=8)
        ax.set_xlabel(f"{unit} per step")
        ax.set_title(title)
        save(fig, name)

    def compare_grid(rows: list[dict[str, Any]], panels: list[tuple[str, list[Any]]],
                     title: str, name: str) -> None:
        names = [r["hardware"] for r in rows]
        fig, axes = plt.subplots(2, 3, figsize=(13, 7))
        for i, (ax, (label, values)) in enumerate(zip(axes.ravel(), panels, strict=False)):
            ys = [float("nan") if v is None else float(v) for v in values]
            ax.bar(names, ys, color=_COLORS[i % 10])
            ax.set_title(label, fontsize=10)
            ax.tick_params(axis="x", rotation=45, labelsize=8)
        fig.suptitle(title)
        save(fig, name)

    t = data.train
    mem = t["memory"]
    stacked({_label(k): (mem.get(k) or 0.0) / _GIB for k in (
        "weights_bytes", "gradients_bytes", "optimizer_bytes", "activations_bytes",
        "logits_bytes", "overhead_bytes")}, mem["capacity_bytes"] / _GIB,
        "Memory per device (GiB)", "train_memory.png")
    steps(t["step"], _TRAIN_STEP, f"Step time {t['step']['step_s']:.3g} s, by part",
          "train_step.png")
    fp = t["footprint"]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    # Two alternatives: renting the devices, or owning them (amortised) and paying for power.
    if fp.get("rental_cost_usd") is not None:
        ax.bar(["cloud rental"], [fp["rental_cost_usd"] / 1e6], color=_COLORS[0],
               label="rental")
    own, power = fp.get("ownership_cost_usd"), fp.get("electricity_cost_usd") or 0.0
    if own is not None:  # ownership includes the electricity: hardware is the rest
        ax.bar(["own + electricity"], [(own - power) / 1e6], color=_COLORS[2],
               label="hardware (amortised)")
        ax.bar(["own + electricity"], [power / 1e6], bottom=[(own - power) / 1e6],
               color=_COLORS[1], label="electricity")
    ax.set_ylabel("million USD")
    ax.legend(fontsize=8)
    ax.set_title("Cost of the run: rent or own")
    save(fig, "train_cost.png")
    d = t["data"]
    fig, ax = plt.subplots(figsize=(5, 4))
    values = [d["tokens_needed"] / 1e12, d["tokens_available"] / 1e12]
    ax.bar(["needed", "available"], values,
           color=["#c00" if d["tokens_needed"] > d["tokens_available"] else "#3366cc",
                  "#109618"])
    for x, v in enumerate(values):
        ax.text(x, v, f"{v:,.3g}T", ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("trillion tokens")
    ax.set_title(f"Data: {d['epochs']:.3g} epochs of the available tokens")
    save(fig, "train_data.png")
    if data.compare:
        ok = [r for r in data.compare["plans"] if r.get("ok")]
        if ok:
            compare_grid(ok, [
                ("tokens/s per device", [r["step"]["tokens_per_s"] / r["n_devices"]
                                         for r in ok]),
                ("days", [r["footprint"]["duration_s"] / _DAY for r in ok]),
                ("MWh", [r["footprint"]["energy_j"] / _MWH for r in ok]),
                ("tCO2e", [r["footprint"]["co2_g"] / _TONNE for r in ok]),
                ("USD", [_cost(r["footprint"]) for r in ok]),
                ("MFU", [r["step"]["mfu"] for r in ok]),
            ], "The same run on each accelerator", "train_compare.png")
    if data.serve:
        s, m = data.serve, data.serve["memory"]
        stacked({"weights": m["weights_bytes_per_device"] / _GIB,
                 "KV cache": m["kv_bytes_per_device"] / _GIB,
                 "workspace": m["workspace_bytes_per_device"] / _GIB},
                m["capacity_bytes"] / _GIB, "Serving memory per device (GiB)",
                "serve_memory.png")
        steps(s["decode_step"], _SERVE_STEP, "Decode step by part", "serve_step.png",
              scale=1e3, unit="ms")
        if s.get("operators"):
            _roofline(s["operators"], save)
    if data.serve_compare:
        ok = [r for r in data.serve_compare["plans"] if r.get("ok")]
        per_m = [None if r["cost_usd_per_output_token"] is None else
                 r["cost_usd_per_output_token"] * 1e6 for r in ok]
        if ok:
            compare_grid(ok, [
                ("tokens/s per device", [r["tokens_per_s_per_device"] for r in ok]),
                ("TTFT ms", [r["ttft_s"] * 1e3 for r in ok]),
                ("TPOT ms", [r["tpot_s"] * 1e3 for r in ok]),
                ("$ / M output tokens", per_m),
                ("J / token", [r["energy_j_per_token"] for r in ok]),
                ("devices", [r["n_devices"] for r in ok]),
            ], "The same deployment on each accelerator", "serve_compare.png")
    if data.serve_hybrid:
        h = data.serve_hybrid
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for i, (who, label) in enumerate((
                ("transformer", f"transformer ({h['transformer_params'] / 1e9:.2f}B)"),
                ("hybrid", f"hybrid, {h['hybrid_attention_layers']} of {h['hybrid_layers']} "
                           f"layers attention ({h['hybrid_params'] / 1e9:.2f}B)"))):
            tps = h[f"{who}_tokens_per_s_per_device"]
            ax.plot([c for c, v in zip(h["context"], tps, strict=True) if v > 0],
                    [v for v in tps if v > 0], "o-", color=_COLORS[i], label=label)
        ax.set_xscale("log", base=2)
        ax.set_xticks(h["context"], [f"{c / 1024:g}k" if c >= 1024 else f"{c:g}"
                                     for c in h["context"]])
        ax.set_yscale("log")
        ax.set_xlabel("context (tokens)")
        ax.set_ylabel("decode tokens/s per device")
        where = ("never cheaper here" if h["cheaper_from"] is None
                 else f"cheaper per token from {h['cheaper_from']:,.0f} tokens")
        on = (f"one {h['hardware']}" if h.get("n_devices", 1) == 1
              else f"{h['n_devices']} x {h['hardware']}")
        ax.set_title(f"State-space hybrid of equal size on {on} ({h['precision']}): {where}",
                     fontsize=10)
        ax.legend(fontsize=8)
        save(fig, "serve_hybrid.png")
    return written
