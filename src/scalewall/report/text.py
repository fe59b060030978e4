"""Rich tables for the terminal: the only place SI values become GiB, days, MWh and TFLOP/s."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from scalewall.train.plan import TrainingPlan
from scalewall.train.search import SearchResult
from scalewall.units import DAY_S, GIB, MWH_J, TFLOP, TONNE_G

__all__ = ["catalog_table", "plan_report", "search_report", "si", "sweep_table",
           "validation_tables"]


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """``1.23e12`` -> ``1.23 T`` (decimal prefixes), for counts like tokens and parameters."""
    if value is None or not math.isfinite(value):
        return "n/a"
    giga = "G" if unit else "B"  # counts (parameters, tokens) read as billions
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, giga), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.{digits}g} {prefix}{unit}".rstrip()
    return f"{value:.{digits}g} {unit}".rstrip()


def _num(value: float | None, fmt: str = ",.1f") -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return format(value, fmt)


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    return table


def plan_report(plan: TrainingPlan) -> Group:
    """The plan as rich tables: setup, memory, step time, throughput, run footprint, data."""
    d = plan.to_dict()
    lay = plan.layout
    m, st, fp = plan.memory, plan.step, plan.footprint
    head = Text.assemble(
        ("Training plan: ", "bold"), f"{plan.model.label} on {plan.n_devices:,} x "
        f"{plan.accelerator.label}\n",
        f"{si(d['n_params'])} parameters ({si(d['n_active_params'])} active), "
        f"{si(plan.n_tokens)} tokens at sequence {plan.seq_len:,}, "
        f"{d['train_flop']:.2e} FLOP in {d['n_steps']:,.0f} steps\n",
        (f"layout tp={lay.tp} pp={lay.pp} dp={lay.dp} cp={lay.cp} ep={lay.ep} "
         f"sp={'on' if lay.sp else 'off'} vpp={lay.vpp} micro-batch={lay.micro_batch} "
         f"global batch={lay.global_batch} recompute={lay.recompute} ZeRO-{lay.zero} "
         f"{lay.precision} ({plan.recipe} bookkeeping"
         f"{', searched' if plan.layout_searched else ''})"),
    )
    mem = _table("Memory per device (GiB)", "part", "GiB")
    for label, value in (
        ("weights", m.weights_bytes), ("gradients", m.gradients_bytes),
        ("optimizer state", m.optimizer_bytes), ("activations", m.activations_bytes),
        ("logits and loss", m.logits_bytes), ("peak allocated", m.peak_allocated_bytes),
        ("framework and fragmentation", m.overhead_bytes), ("total", m.total_bytes),
        ("device capacity", m.capacity_bytes),
    ):
        mem.add_row(label, _num(float(value) / GIB, ",.2f"))
    fits = bool(m.feasible)
    mem.caption = "fits" if fits else "[red]DOES NOT FIT: over capacity by " + _num(
        (float(m.total_bytes) - m.capacity_bytes) / GIB, ",.1f") + " GiB[/red]"

    step = _table("Step time (s)", "part", "seconds", "share")
    total = float(st.step_s)
    for label, value in (
        ("matrix multiplies", st.gemm_s), ("attention", st.attention_s),
        ("memory-bound kernels", st.elementwise_s), ("tensor-parallel comm", st.tp_comm_s),
        ("context-parallel comm", st.cp_comm_s), ("expert all-to-all", st.ep_comm_s),
        ("pipeline sends", st.pp_comm_s), ("pipeline bubble", st.bubble_s),
        ("data-parallel sync (exposed)", st.dp_comm_s), ("optimizer", st.optimizer_s),
    ):
        v = float(value)
        if v > 0:
            step.add_row(label, _num(v, ",.3f"), f"{v / total:.1%}")
    step.add_row("[bold]step[/bold]", _num(total, ",.3f"), "")

    thr = _table("Throughput", "metric", "value")
    thr.add_row("tokens/s", _num(float(st.tokens_per_s), ",.0f"))
    thr.add_row("model TFLOP/s per device", _num(float(st.model_flop_per_s_per_device) / TFLOP))
    thr.add_row("hardware TFLOP/s per device",
                _num(float(st.hardware_flop_per_s_per_device) / TFLOP))
    thr.add_row("MFU", f"{float(st.mfu):.1%}")
    thr.add_row("HFU", f"{float(st.hfu):.1%}")

    run = _table("Whole run", "metric", "value")
    run.add_row("days", _num(float(fp.duration_s) / DAY_S))
    run.add_row("device-hours", _num(float(fp.device_hours), ",.0f"))
    run.add_row("average power per device (W)", _num(float(fp.device_power_w), ",.0f"))
    run.add_row("facility power (MW)", _num(float(fp.facility_power_w) / 1e6, ",.2f"))
    run.add_row("energy (MWh)", _num(float(fp.energy_j) / MWH_J, ",.0f"))
    run.add_row(f"emissions (tCO2e, {plan.region})", _num(float(fp.co2_g) / TONNE_G, ",.0f"))
    if fp.rental_cost_usd is not None:
        run.add_row("cost, cloud rental (USD)", _num(float(fp.rental_cost_usd), ",.0f"))
    if fp.ownership_cost_usd is not None:
        run.add_row("cost, owned: amortised + power (USD)",
                    _num(float(fp.ownership_cost_usd), ",.0f"))
    run.caption = (f"PUE {fp.pue:.2f}; goodput {plan.goodput:.2f}; host power from the "
                   "catalog's planner constants")

    data = _table("Data", "metric", "value")
    data.add_row("tokens needed", si(plan.data.tokens_needed))
    data.add_row("tokens available", si(plan.data.tokens_available))
    data.add_row("epochs over available", _num(plan.data.epochs, ",.3f"))
    data.caption = plan.data.source
    note = Text(d["note"] + "\n" + d["evidence"]["note"], style="dim")
    return Group(head, mem, step, thr, run, data, note)


def catalog_table(kind: str, entries: list[Any]) -> Table:
    if kind == "accelerators":
        t = _table("Accelerators", "id", "name", "bf16 TFLOP/s", "memory GiB", "TB/s", "TDP W")
        for a in entries:
            bf16 = a.peak_flop_per_s.get("bf16") or a.peak_flop_per_s.get("fp16")
            t.add_row(a.id, a.name, _num(bf16 / TFLOP if bf16 else None, ",.0f"),
                      _num(a.memory_bytes / GIB, ",.1f"),
                      _num(a.memory_bandwidth_bytes_per_s / 1e12, ",.2f"), _num(a.tdp_w, ",.0f"))
        return t
    if kind == "models":
        from scalewall.arch.counts import n_active_params, n_params
        t = _table("Models", "id", "name", "parameters", "active", "layers", "hidden")
        for m in entries:
            t.add_row(m.id, m.name, si(n_params(m)), si(n_active_params(m)), str(m.n_layers),
                      str(m.hidden_size))
        return t
    if kind == "regions":
        t = _table("Regions", "id", "name", "gCO2e/kWh", "USD/kWh")
        for r in entries:
            price = r.electricity_usd_per_j * 3.6e6 if r.electricity_usd_per_j else None
            t.add_row(r.id, r.name, _num(r.grid_g_per_j * 3.6e6, ",.0f"), _num(price, ",.3f"))
        return t
    t = _table("PUE presets", "id", "PUE")
    for p in entries:
        t.add_row(p.id, _num(p.pue, ".2f"))
    return t


def validation_tables(result: dict[str, Any]) -> Group:
    rows = _table("Predicted against published", "id", "metric", "reported", "predicted",
                  "error")
    for r in result["rows"]:
        err = r["error"]
        rows.add_row(
            r["id"], r["metric"], _num(r["reported"], ",.4g"),
            _num(r["predicted"], ",.4g") if r["predicted"] is not None else "-",
            f"{err:+.1%}" if err is not None else f"[dim]{r.get('reason', '')[:60]}[/dim]",
        )
    summary = _table("Summary by metric", "metric", "n", "median |error|", "max |error|")
    for metric, s in result["summary"].items():
        summary.add_row(metric, str(s["n"]),
                        f"{s['median_abs_error']:.1%}" if s["median_abs_error"] is not None
                        else "-",
                        f"{s['max_abs_error']:.1%}" if s["max_abs_error"] is not None else "-")
    groups = _table("Pooled as the accuracy targets", "group", "n", "median |error|", "target",
                    "met")
    for name, g in result.get("groups", {}).items():
        groups.add_row(name, str(g["n"]), f"{g['median_abs_error']:.2%}", f"{g['target']:.0%}",
                       "yes" if g["met"] else "[bold red]no[/bold red]")
    if not result.get("by_source"):
        return Group(rows, summary, groups)
    sources = _table("By source (where the model holds, and where it does not)", "group",
                     "source", "n", "median error", "median |error|")
    sources.columns[1].justify = "left"
    for c in result["by_source"]:
        sources.add_row(c["group"], c["source"], str(c["n"]), f"{c['median_error']:+.1%}",
                        f"{c['median_abs_error']:.1%}")
    return Group(rows, summary, sources, groups)


def search_report(result: SearchResult, *, top: int = 5) -> Group:
    """The layout search: counts, top layouts with breakdowns, Pareto fronts, why the best."""
    head = Text(
        f"Layout search ({result.objective}): {result.n_enumerated:,} enumerated, "
        f"{result.n_valid:,} valid, {len(result):,} fit in memory", style="bold")
    t = _table(f"Top {min(top, len(result))} layouts", "#", "layout", "step s", "MFU",
               "GiB", "kJ/step")
    for r in result.top(top):
        t.add_row(str(r["rank"]), _layout_text(r), _num(r["step_s"], ",.3f"),
                  f"{r['mfu']:.1%}", _num(r["memory_bytes"] / GIB, ",.1f"),
                  _num(r["energy_j_per_step"] / 1e3, ",.0f"))
    fronts = []
    for against, label in (("memory", "memory headroom GiB"), ("energy", "kJ/step")):
        idx = result.pareto(against)
        f = _table(f"Pareto front: step time against {label}", "#", "layout", "step s", label)
        for i in idx[:12]:
            r = result.row(i)
            other = (r["memory_headroom_bytes"] / GIB if against == "memory"
                     else r["energy_j_per_step"] / 1e3)
            f.add_row(str(r["rank"]), _layout_text(r), _num(r["step_s"], ",.3f"),
                      _num(other, ",.1f"))
        fronts.append(f)
    return Group(head, t, *fronts, Text(result.explain(), style="italic"))


def _layout_text(r: dict[str, Any]) -> str:
    sp = " sp" if r["sp"] else ""
    ep = f" ep{r['ep']}" if r["ep"] > 1 else ""
    vpp = f" v{r['vpp']}" if r["vpp"] > 1 else ""
    return (f"tp{r['tp']} pp{r['pp']}{vpp} dp{r['dp']} cp{r['cp']}{ep}{sp} mb{r['micro_batch']} "
            f"{r['recompute']} Z{r['zero']}")


def sweep_table(rows: list[dict[str, Any]]) -> Table:
    t = _table("Sweep (best layout per point)", "model", "hardware", "devices", "tokens",
               "tp/pp/dp/cp", "MFU", "days", "MWh", "USD")
    for r in rows:
        if not r.get("feasible"):
            t.add_row(r["model"], r["hardware"], f"{r['devices']:,}", si(r["tokens"] or 0),
                      f"[red]{str(r.get('reason', ''))[:40]}[/red]", "", "", "", "")
            continue
        t.add_row(r["model"], r["hardware"], f"{r['devices']:,}", si(r["tokens"] or 0),
                  f"{r['tp']}/{r['pp']}/{r['dp']}/{r['cp']}", f"{r['mfu']:.0%}",
                  _num(r["days"], ",.0f"), _num(r["energy_mwh"], ",.0f"),
                  si(r["cost_usd"]) if r["cost_usd"] is not None else "n/a")
    return t
