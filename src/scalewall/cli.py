"""The ``scalewall`` command: parse, call the public API, print. It computes nothing."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from scalewall._cli_common import err_console
from scalewall._cli_common import fail as _fail
from scalewall._cli_common import parse_amount as parse_amount
from scalewall._cli_common import print_json as _print_json
from scalewall._errors import InvalidParameter, PlannerError

app = typer.Typer(
    name="scalewall",
    help="What it takes to train and serve a large language model, and where scaling hits a "
    "wall.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
catalog_app = typer.Typer(help="List and show catalog entries (accelerators, models, regions).",
                          no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")


def _register_optional_apps() -> None:
    """Sub-commands that live beside their domain package: each module has
    ``register(app)`` adding its commands."""
    import importlib
    import importlib.util

    for module in ("scalewall.laws.cli", "scalewall.infer.cli", "scalewall.wall.cli",
                   "scalewall.measure.cli", "scalewall.web.cli"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # the parent package is not there
            found = False
        if not found:
            continue
        try:
            importlib.import_module(module).register(app)
        except ImportError:  # an optional extra is missing; its commands stay out
            if os.environ.get("SCALEWALL_DEBUG"):
                raise


console = Console()

CatalogOpt = Annotated[
    list[Path] | None,
    typer.Option("--catalog", help="Extra catalog TOML file (repeatable); also "
                 "SCALEWALL_CATALOG=FILE[:FILE]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]


class Recompute(StrEnum):
    none = "none"
    selective = "selective"
    full = "full"


class Recipe(StrEnum):
    auto = "auto"
    megatron = "megatron"
    pytorch = "pytorch"


class Objective(StrEnum):
    time = "time"
    cost = "cost"
    energy = "energy"


class Precision(StrEnum):
    bf16 = "bf16"
    fp16 = "fp16"
    fp8 = "fp8"


@app.command()
def train(
    model: Annotated[str, typer.Option(help="Catalog model (see `scalewall catalog list "
                                       "models`).")] = "llama-3.1-405b",
    hardware: Annotated[str, typer.Option(help="Catalog accelerator.")] = "h100-sxm",
    devices: Annotated[int | None, typer.Option(min=1, help="Number of devices; default "
                       "the smallest power of two that trains in about 90 days.")] = 16384,
    tokens: Annotated[str, typer.Option(help="Training tokens, e.g. 15.6T; 'auto' uses the "
                      "model's published count, else 20 per parameter.")] = "15.6T",
    hf_config: Annotated[Path | None, typer.Option("--hf-config", help="A Hugging Face "
                         "config.json (or its folder) to use instead of --model.")] = None,
    seq_len: Annotated[int | None, typer.Option(min=1, help="Sequence length.")] = None,
    global_batch: Annotated[int | None, typer.Option(min=1, help="Global batch in "
                            "sequences.")] = None,
    tp: Annotated[int | None, typer.Option(min=1, help="Tensor-parallel degree.")] = None,
    pp: Annotated[int | None, typer.Option(min=1, help="Pipeline-parallel degree.")] = None,
    dp: Annotated[int | None, typer.Option(min=1, help="Data-parallel degree.")] = None,
    cp: Annotated[int | None, typer.Option(min=1, help="Context-parallel degree.")] = None,
    ep: Annotated[int | None, typer.Option(min=1, help="Expert-parallel degree.")] = None,
    vpp: Annotated[int | None, typer.Option(min=1, help="Interleaved stages per device.")]
    = None,
    sp: Annotated[bool | None, typer.Option("--sp/--no-sp", help="Sequence parallelism.")]
    = None,
    micro_batch: Annotated[int | None, typer.Option(min=1, help="Micro-batch (sequences).")]
    = None,
    recompute: Annotated[Recompute | None, typer.Option(help="Activation recomputation.")]
    = None,
    zero: Annotated[int | None, typer.Option(min=0, max=3, help="ZeRO stage / FSDP (3).")]
    = None,
    flash: Annotated[bool, typer.Option("--flash/--no-flash", help="Fused (flash) attention.")]
    = True,
    dropout: Annotated[bool | None, typer.Option("--dropout/--no-dropout", help="Dropout in "
                       "the layers (default: as the model's family trains).")] = None,
    precision: Annotated[Precision, typer.Option(help="Mixed precision.")] = Precision.bf16,
    recipe: Annotated[Recipe, typer.Option(help="Framework bookkeeping: megatron (bf16 "
                      "weights + fp32 master) or pytorch (fp32 weights, autocast).")]
    = Recipe.auto,
    region: Annotated[str | None, typer.Option(help="Grid region for carbon and power "
                      "price (see `scalewall catalog list regions`).")] = None,
    pue: Annotated[str | None, typer.Option(help="PUE: a number or a preset name.")] = None,
    goodput: Annotated[float | None, typer.Option(min=0.01, max=1.0, help="Share of "
                       "wall-clock time on productive steps (default: the catalog's, 0.9).")]
    = None,
    unique_tokens: Annotated[str | None, typer.Option(help="Unique tokens available "
                             "(default: public text stock).")] = None,
    calibration: Annotated[str | None, typer.Option("--calibration", help="Plan with a "
                           "calibration stored by `scalewall calibrate`; the plan reports "
                           "calibrated.")] = None,
    search: Annotated[bool, typer.Option("--search", help="Show the layout search: top "
                      "layouts, Pareto fronts, why the best wins (fields left out are "
                      "searched).")] = False,
    objective: Annotated[Objective, typer.Option(help="What the search minimises per step.")]
    = Objective.time,
    top: Annotated[int, typer.Option(min=1, max=1000, help="Layouts to list with --search.")]
    = 5,
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Plan a training run: memory, step time, days, device-hours, MWh, tCO2e, USD, data."""
    from scalewall.api import plan_training, read_hf_config
    from scalewall.catalog import get_catalog
    from scalewall.train.layout import Layout

    try:
        cat = get_catalog(catalog or [])
        rates = None
        if calibration is not None:
            from scalewall.measure.calibrate import load_calibration

            rates = load_calibration(calibration, hardware=hardware,
                                     precision=precision.value, catalog=cat)
        arch: Any = read_hf_config(hf_config) if hf_config else model
        n_tokens = None if tokens == "auto" else parse_amount(tokens, name="tokens")
        pue_value: float | str | None = pue
        if pue is not None:
            try:
                pue_value = float(pue)
            except ValueError:
                pue_value = pue
        fixed: dict[str, Any] = {
            k: v for k, v in dict(tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, vpp=vpp, sp=sp,
                                  micro_batch=micro_batch, zero=zero,
                                  recompute=recompute.value if recompute else None).items()
            if v is not None
        }
        options = dict(flash_attention=flash, dropout=dropout, precision=precision.value,
                       recipe=recipe.value)
        layout = None
        full = {"tp", "pp", "dp", "micro_batch"}
        if full <= set(fixed) and not search:
            layout = Layout(**{**{k: v for k, v in fixed.items()}, **options})
        plan = plan_training(
            arch, hardware, n_devices=devices, n_tokens=n_tokens, seq_len=seq_len,
            global_batch=global_batch, layout=layout, fixed={**fixed, **options},
            region=region, pue=pue_value,
            unique_tokens=parse_amount(unique_tokens, name="unique-tokens")
            if unique_tokens else None,
            objective=objective.value, rates=rates, goodput=goodput, catalog=cat,
        )
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _print_json(plan.to_dict(top=top))
        return
    from scalewall.report.text import plan_report, search_report

    console.print(plan_report(plan))
    if search and plan.search is not None:
        console.print(search_report(plan.search, top=top))


class Kind(StrEnum):
    accelerators = "accelerators"
    models = "models"
    regions = "regions"
    pue = "pue"


@catalog_app.command("list")
def catalog_list(
    kind: Annotated[Kind, typer.Argument(help="What to list.")] = Kind.accelerators,
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List catalog entries of one kind."""
    from scalewall.catalog import get_catalog

    try:
        cat = get_catalog(catalog or [])
    except PlannerError as exc:
        _fail(exc)
    entries = {
        "accelerators": cat.accelerators, "models": cat.models, "regions": cat.regions,
        "pue": cat.pue_presets,
    }[kind.value]
    if as_json:
        from scalewall.api import describe

        _print_json({kind.value: [describe(e) for e in entries.values()]})
        return
    from scalewall.report.text import catalog_table

    console.print(catalog_table(kind.value, list(entries.values())))


@catalog_app.command("show")
def catalog_show(
    name: Annotated[str, typer.Argument(help="An accelerator, model, region or PUE preset.")],
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one catalog entry with its source."""
    from scalewall.api import describe, find_entry

    try:
        entry = find_entry(name, extra_files=catalog or [])
    except PlannerError as exc:
        _fail(exc)
    data = describe(entry)
    if as_json:
        _print_json(data)
        return
    from rich.table import Table

    table = Table(title=f"{data['kind']}: {data['id']}", title_justify="left", show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        table.add_row(key, str(value))
    console.print(table)


@app.command()
def validate(
    file: Annotated[Path | None, typer.Argument(help="CSV in the validation schema; default "
                    "the shipped sets (training and serving).")] = None,
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Predict every row of a CSV of published figures; print errors per row and metric."""
    from scalewall.catalog import get_catalog
    from scalewall.validate import read_shipped_rows, read_validation_csv, validate_rows

    try:
        cat = get_catalog(catalog or [])
        rows = read_validation_csv(file) if file else read_shipped_rows()
        if as_json:
            result = validate_rows(rows, catalog=cat)
        else:
            from rich.progress import Progress

            with Progress(console=err_console, transient=True) as progress:
                task = progress.add_task("predicting rows", total=len(rows))
                result = validate_rows(
                    rows, catalog=cat, progress=lambda i: progress.update(task, completed=i)
                )
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _print_json(result.to_dict())
        return
    from scalewall.report.text import validation_tables
    from scalewall.validate import by_source

    console.print(validation_tables({**result.to_dict(), "groups": result.groups,
                                     "by_source": by_source(rows, result)}))


@app.command()
def sweep(
    spec: Annotated[Path | None, typer.Argument(help="Sweep spec TOML (models, hardware, "
                    "devices, tokens, regions ...).")] = None,
    models: Annotated[str | None, typer.Option(help="Comma-separated models.")] = None,
    hardware: Annotated[str | None, typer.Option(help="Comma-separated accelerators.")] = None,
    devices: Annotated[str | None, typer.Option(help="Comma-separated device counts.")] = None,
    tokens: Annotated[str | None, typer.Option(help="Comma-separated token budgets (2T,...).")]
    = None,
    regions: Annotated[str | None, typer.Option(help="Comma-separated grid regions.")] = None,
    objective: Annotated[Objective, typer.Option(help="What each point's search minimises.")]
    = Objective.time,
    out: Annotated[Path | None, typer.Option(help="Write results to .csv or .parquet "
                   "(resumable: finished points are journaled beside it).")] = None,
    dask: Annotated[str | None, typer.Option(help="Run on Dask: 'local' or a scheduler "
                    "address.")] = None,
    max_points: Annotated[int, typer.Option(help="Points allowed without --yes or --dask.")]
    = 500,
    yes: Annotated[bool, typer.Option("--yes", help="Run a sweep above --max-points.")] = False,
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Plan every combination of models, accelerators, device counts, tokens and regions, each
    with its best layout; print a table and optionally write CSV/Parquet."""
    from scalewall.sweep import build_spec, load_sweep_spec, run_sweep

    def split(text: str | None) -> list[str]:
        return [t.strip() for t in (text or "").split(",") if t.strip()]

    try:
        files = [str(f) for f in catalog or []]
        if spec is not None:
            sweep_spec = load_sweep_spec(spec, catalog_files=files)
        else:
            raw: dict[str, Any] = {"models": split(models), "hardware": split(hardware),
                                   "objective": objective.value}
            try:
                raw["devices"] = [int(d) for d in split(devices)]
            except ValueError:
                raise InvalidParameter(
                    f"--devices must be comma-separated integers, got {devices!r}"
                ) from None
            if tokens:
                raw["tokens"] = split(tokens)
            if regions:
                raw["regions"] = split(regions)
            sweep_spec = build_spec(raw, origin="command line", catalog_files=files)
        if sweep_spec.n_points > max_points and not (yes or dask):
            raise InvalidParameter(
                f"the sweep has {sweep_spec.n_points:,} points, over --max-points="
                f"{max_points:,}; rerun with --yes, or with --dask to spread it"
            )
        if as_json:
            rows = run_sweep(sweep_spec, out=out, dask=dask)
        else:
            from rich.progress import Progress

            with Progress(console=err_console, transient=True) as bar:
                task = bar.add_task("planning points", total=sweep_spec.n_points)
                rows = run_sweep(sweep_spec, out=out, dask=dask,
                                 progress=lambda i, n: bar.update(task, completed=i))
    except PlannerError as exc:
        _fail(exc)
    if as_json:
        _print_json({"points": rows})
        return
    from scalewall.report.text import sweep_table

    console.print(sweep_table(rows))
    if out:
        console.print(f"wrote {len(rows)} rows to {out}")


# after the core commands, so that `scalewall --help` lists train, sweep, validate, catalog first
_register_optional_apps()


def main() -> None:
    """Console-script entry point."""
    import warnings

    warnings.filterwarnings("ignore", category=RuntimeWarning, module="numpy")
    app()


if __name__ == "__main__":
    main()
