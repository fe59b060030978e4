"""``scalewall measure``, ``scalewall runs`` and ``scalewall calibrate``: parse, call
:mod:`scalewall.measure`, print. They compute nothing."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scalewall._cli_common import err_console as _err
from scalewall._cli_common import fail as _fail
from scalewall._cli_common import print_json as _json
from scalewall._errors import PlannerError

__all__ = ["register"]

_out = Console(width=160)

measure_app = typer.Typer(help="Measure this machine's GPU: GEMM, bandwidth, collectives; "
                          "compare a measured run with the planner.", no_args_is_help=True)
runs_app = typer.Typer(help="List, show, export and delete measured runs in the registry.",
                       no_args_is_help=True)

RegistryOpt = Annotated[Path | None, typer.Option(
    "--registry", help="Registry file (default $SCALEWALL_HOME/registry.db, else "
    "~/.scalewall/registry.db).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
DeviceOpt = Annotated[str | None, typer.Option(help="Torch device (default cuda if present).")]
HardwareOpt = Annotated[str | None, typer.Option(
    help="Catalog accelerator this device is (default: matched from the GPU's name).")]


def _hardware(hardware: str | None, device: dict[str, Any]) -> str | None:
    from scalewall.catalog import get_catalog
    from scalewall.measure.device import match_accelerator

    if hardware:
        return get_catalog().accelerator(hardware).id
    return match_accelerator(str(device.get("name", "")))


def _num(x: Any, scale: float = 1.0, fmt: str = ".3g") -> str:
    return "-" if x is None else format(float(x) * scale, fmt)


@measure_app.command("gemm")
def gemm(
    precision: Annotated[list[str] | None, typer.Option(
        help="Precision (repeatable): bf16, fp16, tf32, fp32.")] = None,
    shape: Annotated[list[str] | None, typer.Option(
        help="A shape MxNxK (repeatable); default a grid that pins down the calibration.")]
    = None,
    device: DeviceOpt = None,
    hardware: HardwareOpt = None,
    min_time: Annotated[float, typer.Option(help="Seconds per timed loop.")] = 0.05,
    repeats: Annotated[int, typer.Option(min=1, help="Timed loops per shape.")] = 5,
    store: Annotated[bool, typer.Option("--store/--no-store", help="Record in the registry.")]
    = True,
    registry: RegistryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Time matrix multiplies over shapes and precisions; store them as a GEMM profile."""
    from scalewall._errors import InvalidParameter
    from scalewall.measure.bench import gemm_profile, store_profile
    from scalewall.measure.registry import open_registry

    try:
        shapes = None
        if shape:
            try:
                shapes = [tuple(int(v) for v in s.lower().split("x")) for s in shape]
            except ValueError:
                raise InvalidParameter(f"--shape must be MxNxK, got {shape}") from None
            if any(len(s) != 3 or min(s) < 1 for s in shapes):
                raise InvalidParameter(f"--shape must be MxNxK of positive sizes, got {shape}")
        samples, dev = gemm_profile(
            shapes=shapes,  # type: ignore[arg-type]
            precisions=precision or (["bf16"] if _cuda() else ["fp32"]),
            device=device, min_time_s=min_time, repeats=repeats)
        hw = _hardware(hardware, dev)
        run_id = None
        if store:
            with open_registry(registry) as reg:
                run_id = store_profile(reg, kind="gemm", hardware=hw, device=dev,
                                       samples=samples)
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _json({"run_id": run_id, "hardware": hw, "device": dev, "samples": samples})
        return
    table = Table(title=f"GEMM on {dev.get('name')} ({hw or 'no catalog match'})",
                  title_justify="left")
    for col in ("precision", "M x N x K", "time us", "TFLOP/s"):
        table.add_column(col, justify="right")
    for s in samples:
        table.add_row(s["precision"], f"{s['m']}x{s['n']}x{s['k']}",
                      _num(s["duration_s"], 1e6, ".1f"), _num(s["flop_per_s"], 1e-12, ".1f"))
    _out.print(table)
    if run_id is not None:
        _out.print(f"stored as run {run_id}; fit it with `scalewall calibrate --name NAME`")


def _store_summary(kind: str, result: dict[str, Any], hardware: str | None, store: bool,
                   registry: Path | None) -> tuple[str | None, int | None]:
    """The catalog accelerator of a microbenchmark's device and, with ``store``, the id of the
    profile recorded in the registry."""
    from scalewall.measure.bench import store_profile
    from scalewall.measure.registry import open_registry

    hw = _hardware(hardware, result["device"])
    if not store:
        return hw, None
    with open_registry(registry) as reg:
        run_id = store_profile(reg, kind=kind, hardware=hw, device=result["device"],
                               summary={k: v for k, v in result.items() if k != "device"})
    return hw, run_id


def _run_and_store(kind: str, run: Callable[[], dict[str, Any]], hardware: str | None,
                   store: bool, registry: Path | None, as_json: bool
                   ) -> tuple[dict[str, Any], int | None] | None:
    """Run a microbenchmark, store its profile (:func:`_store_summary`) and, with ``--json``,
    print it; returns the result and run id for the caller's table, or None once printed."""
    try:
        result = run()
        hw, run_id = _store_summary(kind, result, hardware, store, registry)
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _json({"run_id": run_id, "hardware": hw, **result})
        return None
    return result, run_id


def _cuda() -> bool:
    try:
        import importlib

        return bool(importlib.import_module("torch").cuda.is_available())
    except ImportError:
        return False


@measure_app.command("bandwidth")
def bandwidth(
    size_mib: Annotated[float, typer.Option(help="Buffer size [MiB].")] = 1024.0,
    device: DeviceOpt = None,
    hardware: HardwareOpt = None,
    store: Annotated[bool, typer.Option("--store/--no-store")] = True,
    registry: RegistryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Device-memory copy bandwidth (bytes read plus written)."""
    from scalewall.measure.bench import copy_bandwidth

    measured = _run_and_store("bandwidth", lambda: copy_bandwidth(
        n_bytes=size_mib * 2**20, device=device), hardware, store, registry, as_json)
    if measured is None:
        return
    result, run_id = measured
    _out.print(f"copy bandwidth on {result['device'].get('name')}: "
               f"{result['bandwidth_bytes_per_s'] / 1e12:.3f} TB/s (read + write, "
               f"{result['n_bytes'] / 2**20:.0f} MiB)"
               + (f"; stored as run {run_id}" if run_id is not None else ""))


@measure_app.command("collective")
def collective(
    gpus: Annotated[int | None, typer.Option(min=2, help="GPUs (default all).")] = None,
    hardware: HardwareOpt = None,
    store: Annotated[bool, typer.Option("--store/--no-store")] = True,
    registry: RegistryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """All-reduce bus bandwidth over this machine's GPUs (needs at least two)."""
    from scalewall.measure.bench import collective_bandwidth

    measured = _run_and_store("collective", lambda: collective_bandwidth(n_gpus=gpus),
                              hardware, store, registry, as_json)
    if measured is None:
        return
    result, _ = measured
    table = Table(title=f"all-reduce over {result['n_gpus']} GPUs", title_justify="left")
    for col in ("MiB", "time us", "bus GB/s"):
        table.add_column(col, justify="right")
    for s in result["samples"]:
        table.add_row(_num(s["n_bytes"], 2**-20, ".0f"), _num(s["duration_s"], 1e6, ".1f"),
                      _num(s["bus_bandwidth_bytes_per_s"], 1e-9, ".1f"))
    _out.print(table)


@measure_app.command("report")
def report(
    run: Annotated[str, typer.Argument(help="Run id, uid, or 'last'.")],
    calibration: Annotated[str | None, typer.Option(
        help="Predict with this calibration (see `scalewall calibrate`).")] = None,
    registry: RegistryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A measured run beside the planner's prediction for the same shape, with the error."""
    from scalewall.measure.report import compare_run

    try:
        result = compare_run(run, registry=registry, calibration=calibration)
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _json(result)
        return
    r = result["run"]
    state = (f"calibrated ({result['calibration']})" if result["calibrated"] else
             "uncalibrated (datasheet rates; run `scalewall calibrate`)")
    table = Table(title=f"run {r['id']} {r['kind']} {r['name']} on {r['hardware']}: "
                  f"predicted {state}", title_justify="left")
    for col in ("metric", "measured", "predicted", "error"):
        table.add_column(col, justify="right")
    scale = {"step_s": (1e3, "step ms"), "peak_memory_bytes": (2**-30, "peak memory GiB"),
             "tokens_per_s": (1.0, "tokens/s"), "mfu": (1.0, "MFU"),
             "energy_j_per_token": (1.0, "J/token (device)")}
    for row in result["metrics"]:
        k, label = scale[row["metric"]]
        table.add_row(label, _num(row["measured"], k, ".4g"), _num(row["predicted"], k, ".4g"),
                      "-" if row["error"] is None else f"{row['error']:+.1%}")
    _out.print(table)


@runs_app.command("list")
def runs_list(
    kind: Annotated[str | None, typer.Option(help="train, infer, gemm, bandwidth, "
                                             "collective.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    registry: RegistryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stored runs, newest first."""
    from scalewall.measure.registry import open_registry

    try:
        with open_registry(registry, must_exist=True) as reg:
            runs = reg.list_runs(kind=kind, limit=limit)
            path = reg.path
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _json({"registry": str(path), "runs": runs})
        return
    table = Table(title=f"runs in {path}", title_justify="left")
    for col in ("id", "kind", "name", "hardware", "created (UTC)", "step ms", "tokens/s",
                "MFU"):
        table.add_column(col)
    for r in runs:
        s = r["summary"]
        table.add_row(str(r["id"]), r["kind"], r["name"], r["hardware"] or "-",
                      r["created_at"][:19], _num(s.get("step_s"), 1e3, ".2f"),
                      _num(s.get("tokens_per_s"), 1.0, ".4g"), _num(s.get("mfu"), 1.0, ".3f"))
    _out.print(table)


@runs_app.command("show")
def runs_show(
    run: Annotated[str, typer.Argument(help="Run id, uid, or 'last'.")],
    registry: RegistryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One run: configuration, summary, steps."""
    from scalewall.measure.registry import open_registry

    try:
        with open_registry(registry, must_exist=True) as reg:
            data = reg.get_run(run)
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _json(data)
        return
    table = Table(title=f"run {data['id']} ({data['uid']})", title_justify="left",
                  show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for key in ("kind", "name", "created_at", "hardware", "device", "host"):
        table.add_row(key, str(data[key]))
    for key, value in data["summary"].items():
        if not isinstance(value, dict):
            table.add_row(key, str(value))
    table.add_row("steps", str(len(data["steps"])))
    table.add_row("gemm samples", str(len(data["gemm_samples"])))
    _out.print(table)


@runs_app.command("export")
def runs_export(
    run: Annotated[list[str] | None, typer.Argument(help="Runs to export (default all).")]
    = None,
    out: Annotated[Path | None, typer.Option(help="Write JSON here instead of stdout.")]
    = None,
    registry: RegistryOpt = None,
) -> None:
    """Export runs (with steps and samples) and calibrations as one JSON object."""
    from scalewall.measure._common import jsonable
    from scalewall.measure.registry import open_registry

    try:
        with open_registry(registry, must_exist=True) as reg:
            data = reg.export(run or [])
    except PlannerError as exc:
        _fail(exc)
    text = json.dumps(jsonable(data), indent=2, allow_nan=False) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        _err.print(f"wrote {len(data['runs'])} runs to {out}")


@runs_app.command("delete")
def runs_delete(
    run: Annotated[str, typer.Argument(help="Run id or uid.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    registry: RegistryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a run with its steps and samples."""
    from scalewall.measure.registry import open_registry

    try:
        with open_registry(registry, must_exist=True) as reg:
            target = reg.get_run(run)
            if not yes and not typer.confirm(
                    f"delete run {target['id']} ({target['kind']} {target['name']})?"):
                raise typer.Exit(1)
            deleted = reg.delete_run(target["id"])
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _json({"deleted": deleted})
    else:
        _out.print(f"deleted run {deleted}")


def calibrate(
    name: Annotated[str, typer.Option(help="Name to store the calibration under, for "
                                      "`--calibration NAME`.")] = "default",
    hardware: Annotated[str | None, typer.Option(
        help="Catalog accelerator (default: that of the newest GEMM profile).")] = None,
    precision: Annotated[str, typer.Option(help="Which GEMM samples to fit.")] = "bf16",
    run: Annotated[list[str] | None, typer.Option(
        help="GEMM profile run to fit (repeatable; default all of that hardware).")] = None,
    registry: RegistryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit the planner's matmul efficiency, memory-bandwidth efficiency and per-kernel
    overhead to stored GEMM profiles; store the fit as a named calibration."""
    from scalewall.catalog import get_catalog
    from scalewall.measure.calibrate import calibrate_from_registry

    try:
        fit = calibrate_from_registry(name, registry=registry, hardware=hardware,
                                      precision=precision, runs=run or [])
        defaults = get_catalog().defaults
        accel = get_catalog().accelerator(fit.hardware)
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _json({"name": name, **fit.to_dict()})
        return
    table = Table(title=f"calibration {name!r}: {fit.hardware} {fit.precision}, "
                  f"{fit.n_samples} GEMMs", title_justify="left")
    for col in ("parameter", "catalog", "fitted"):
        table.add_column(col, justify="right")
    table.add_row("matmul efficiency",
                  _num(accel.matmul_efficiency or defaults.matmul_efficiency, 1.0, ".3f"),
                  _num(fit.matmul_efficiency, 1.0, ".3f"))
    table.add_row("memory bandwidth efficiency",
                  _num(defaults.memory_bandwidth_efficiency, 1.0, ".3f"),
                  _num(fit.memory_bandwidth_efficiency, 1.0, ".3f"))
    table.add_row("kernel overhead us", _num(defaults.kernel_launch_s, 1e6, ".2f"),
                  _num(fit.kernel_launch_s, 1e6, ".2f"))
    table.add_row("GEMM time rms error", f"{fit.uncalibrated_rms_relative_error:.1%}",
                  f"{fit.rms_relative_error:.1%}")
    _out.print(table)
    _out.print(f"use it with `--calibration {name}`")


def register(app: typer.Typer) -> None:
    """Add ``measure``, ``runs`` and ``calibrate`` to the ``scalewall`` command."""
    app.add_typer(measure_app, name="measure")
    app.add_typer(runs_app, name="runs")
    app.command("calibrate")(calibrate)
