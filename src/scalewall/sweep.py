"""Sweeps over design spaces: models x accelerators x device counts x token budgets x regions.

Each point is one training plan whose layout is searched (one vectorized evaluation of all its
candidate layouts). Points are grouped into chunks; a chunk runs in-process or as one task on a
Dask cluster (``dask.distributed``), never one task per point. Finished chunks are appended to
a journal next to the output file, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import csv
import difflib
import itertools
import json
import os
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalewall._cli_common import parse_amount
from scalewall._errors import CatalogFileError, InvalidParameter, PlannerError
from scalewall.catalog import Catalog, get_catalog
from scalewall.units import DAY_S, MWH_J, TONNE_G

__all__ = [
    "SweepSpec",
    "evaluate_points",
    "load_sweep_spec",
    "run_sweep",
    "sweep_points",
    "write_results",
]

SPEC_KEYS = ("models", "hardware", "devices", "tokens", "regions", "seq_len", "global_batch",
             "objective", "pue")
_POINT_KEYS = ("model", "hardware", "devices", "tokens", "region")
RESULT_COLUMNS = (
    *_POINT_KEYS, "feasible", "reason", "tp", "pp", "dp", "cp", "ep", "sp", "vpp",
    "micro_batch", "recompute", "zero", "global_batch", "step_s", "mfu", "tokens_per_s",
    "memory_gib", "days", "device_hours", "energy_mwh", "co2_t", "cost_usd",
)


@dataclass(frozen=True)
class SweepSpec:
    """The axes of a sweep; every combination is one point."""

    models: tuple[str, ...]
    hardware: tuple[str, ...]
    devices: tuple[int, ...]
    tokens: tuple[float, ...] = (0.0,)  # 0: the model's published count
    regions: tuple[str, ...] = ("",)  # "": the default region
    seq_len: int | None = None
    global_batch: int | None = None
    objective: str = "time"
    pue: float | None = None
    catalog_files: tuple[str, ...] = field(default=())

    @property
    def n_points(self) -> int:
        return (len(self.models) * len(self.hardware) * len(self.devices) * len(self.tokens)
                * len(self.regions))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _check_names(kind: str, names: Iterable[str], known: Sequence[str],
                 aliases: Sequence[str], problems: list[str]) -> None:
    pool = [*known, *aliases]
    for name in names:
        if not isinstance(name, str) or name.lower() not in pool:
            close = difflib.get_close_matches(str(name).lower(), pool, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            problems.append(f"{kind} {name!r} is not in the catalog{hint}")


def build_spec(raw: dict[str, Any], *, origin: str = "sweep spec",
               catalog: Catalog | None = None, catalog_files: Sequence[str] = ()) -> SweepSpec:
    """Validate a sweep description; every problem is reported at once, before any work."""
    cat = catalog or get_catalog(catalog_files)
    problems: list[str] = []
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    for key in unknown:
        close = difflib.get_close_matches(key, SPEC_KEYS, n=1)
        problems.append(f"unknown key {key!r}" + (f"; did you mean {close[0]!r}?" if close
                                                  else f"; allowed: {', '.join(SPEC_KEYS)}"))
    for key in ("models", "hardware", "devices"):
        if not raw.get(key):
            problems.append(f"{key} is required (a list)")
    models = [str(m) for m in _as_list(raw.get("models", []))]
    hardware = [str(h) for h in _as_list(raw.get("hardware", []))]
    regions = [str(r) for r in _as_list(raw.get("regions", []))]
    _check_names("model", models, list(cat.models),
                 [a for m in cat.models.values() for a in m.aliases], problems)
    _check_names("accelerator", hardware, list(cat.accelerators),
                 [a for x in cat.accelerators.values() for a in x.aliases], problems)
    _check_names("region", regions, list(cat.regions), [], problems)
    devices: list[int] = []
    for d in _as_list(raw.get("devices", [])):
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            problems.append(f"devices must be positive integers, got {d!r}")
        else:
            devices.append(d)
    tokens: list[float] = []
    for t in _as_list(raw.get("tokens", [])):
        try:
            value = parse_amount(t, name="tokens") if isinstance(t, str) else float(t)
        except (InvalidParameter, TypeError, ValueError):
            problems.append(f"tokens must be positive numbers (e.g. 2e12 or '2T'), got {t!r}")
            continue
        if not value > 0:
            problems.append(f"tokens must be positive numbers, got {t!r}")
        tokens.append(value)
    for key in ("seq_len", "global_batch"):
        v = raw.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            problems.append(f"{key} must be a positive integer, got {v!r}")
    objective = raw.get("objective", "time")
    if objective not in ("time", "cost", "energy"):
        problems.append(f"objective must be one of time, cost, energy, got {objective!r}")
    pue = raw.get("pue")
    if pue is not None and (isinstance(pue, bool) or not isinstance(pue, int | float)
                            or not 1.0 <= pue <= 3.0):
        problems.append(f"pue must be a number in [1, 3], got {pue!r}")
    if problems:
        raise CatalogFileError(f"{origin}: " + "; ".join(problems))
    return SweepSpec(
        models=tuple(cat.model(m).id for m in models),
        hardware=tuple(cat.accelerator(h).id for h in hardware),
        devices=tuple(devices), tokens=tuple(tokens) or (0.0,),
        regions=tuple(cat.region(r).id for r in regions) or ("",),
        seq_len=raw.get("seq_len"), global_batch=raw.get("global_batch"),
        objective=str(objective), pue=None if pue is None else float(pue),
        catalog_files=tuple(str(f) for f in catalog_files),
    )


def load_sweep_spec(path: str | Path, *, catalog_files: Sequence[str] = ()) -> SweepSpec:
    """Read a sweep spec TOML (keys: models, hardware, devices, tokens, regions, seq_len,
    global_batch, objective, pue); a ``[sweep]`` table or top-level keys."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise CatalogFileError(f"{p}: cannot read sweep spec ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogFileError(f"{p}: not valid TOML ({exc})") from None
    table = raw.get("sweep", raw)
    if not isinstance(table, dict):
        raise CatalogFileError(f"{p}: [sweep] must be a table")
    return build_spec(table, origin=str(p), catalog_files=catalog_files)


def sweep_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every combination of the spec's axes, in a stable order."""
    return [
        dict(model=m, hardware=h, devices=d, tokens=t, region=r)
        for m, h, d, t, r in itertools.product(spec.models, spec.hardware, spec.devices,
                                               spec.tokens, spec.regions)
    ]


def point_key(point: dict[str, Any]) -> str:
    return "|".join(str(point[k]) for k in _POINT_KEYS)


def evaluate_points(points: Sequence[dict[str, Any]], spec: SweepSpec) -> list[dict[str, Any]]:
    """Plan every point of a chunk (each with its layout searched); a point that cannot be
    planned gets ``feasible = False`` and the reason. Pure: the same points give the same rows
    in any process."""
    from scalewall.train.plan import plan_training

    cat = get_catalog(spec.catalog_files)
    rows: list[dict[str, Any]] = []
    for point in points:
        row: dict[str, Any] = {k: point[k] for k in _POINT_KEYS}
        try:
            plan = plan_training(
                point["model"], point["hardware"], n_devices=int(point["devices"]),
                n_tokens=float(point["tokens"]) or None, seq_len=spec.seq_len,
                global_batch=spec.global_batch, region=point["region"] or None, pue=spec.pue,
                objective=spec.objective, catalog=cat,
            )
        except PlannerError as exc:
            row.update(feasible=False, reason=str(exc))
            rows.append(row)
            continue
        lay, st, fp = plan.layout, plan.step, plan.footprint
        cost = fp.cost_usd
        row.update(
            feasible=True, reason="", tp=lay.tp, pp=lay.pp, dp=lay.dp, cp=lay.cp, ep=lay.ep,
            sp=lay.sp, vpp=lay.vpp, micro_batch=lay.micro_batch, recompute=lay.recompute,
            zero=lay.zero, global_batch=lay.global_batch, step_s=float(st.step_s),
            mfu=float(st.mfu), tokens_per_s=float(st.tokens_per_s),
            memory_gib=float(plan.memory.total_bytes) / 2**30,
            days=float(fp.duration_s) / DAY_S, device_hours=float(fp.device_hours),
            energy_mwh=float(fp.energy_j) / MWH_J, co2_t=float(fp.co2_g) / TONNE_G,
            cost_usd=None if cost is None else float(cost),
        )
        rows.append(row)
    return rows


def _journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".journal.jsonl")


def _read_journal(path: Path) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by an interruption
                continue
            done[point_key(row)] = row
    return done


def _append_journal(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))
        fh.flush()
        os.fsync(fh.fileno())


def run_sweep(
    spec: SweepSpec, *, out: str | Path | None = None, dask: str | None = None,
    chunk_size: int = 16, progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Plan every point of ``spec``; return the rows in point order.

    Parameters
    ----------
    out : a ``.csv`` or ``.parquet`` file; finished chunks are journaled beside it and a rerun
        skips them. The file itself is written once, atomically, at the end.
    dask : ``None`` for in-process, ``"local"`` for a new ``LocalCluster``, or a scheduler
        address (``tcp://host:8786``).
    """
    if chunk_size < 1:
        raise InvalidParameter(f"chunk_size must be >= 1, got {chunk_size}")
    points = sweep_points(spec)
    journal = _journal_path(Path(out)) if out else None
    done = _read_journal(journal) if journal else {}
    todo = [p for p in points if point_key(p) not in done]
    chunks = [todo[i:i + chunk_size] for i in range(0, len(todo), chunk_size)]
    finished = len(points) - len(todo)
    if progress:
        progress(finished, len(points))

    def record(rows: list[dict[str, Any]]) -> None:
        nonlocal finished
        for r in rows:
            done[point_key(r)] = r
        if journal:
            _append_journal(journal, rows)
        finished += len(rows)
        if progress:
            progress(finished, len(points))

    if dask is None:
        for chunk in chunks:
            record(evaluate_points(chunk, spec))
    else:
        _run_on_dask(chunks, spec, dask, record)
    rows = [done[point_key(p)] for p in points]
    if out:
        write_results(rows, Path(out))
        if journal and journal.exists():
            journal.unlink()
    return rows


def _run_on_dask(chunks: list[list[dict[str, Any]]], spec: SweepSpec, address: str,
                 record: Callable[[list[dict[str, Any]]], None]) -> None:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InvalidParameter(
            "--dask needs the dask extra: pip install 'scalewall[dask]'"
        ) from None
    cluster = None
    if address == "local":
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=2, threads_per_worker=1, processes=False
        )
    try:
        target = cluster if cluster is not None else address
        with Client(target) as client:  # type: ignore[no-untyped-call]
            futures = client.map(evaluate_points, chunks, spec=spec, pure=True)
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                record(future.result())
    finally:
        if cluster is not None:
            cluster.close()


def write_results(rows: list[dict[str, Any]], out: Path) -> None:
    """Write rows to ``out`` (``.csv`` or ``.parquet``) through a temporary file, so a failed
    write leaves no partial file."""
    tmp = out.with_name(out.name + ".tmp")
    if out.suffix == ".parquet":
        try:
            import pandas as pd
        except ImportError:
            raise InvalidParameter("Parquet output needs pandas and pyarrow: pip install "
                                   "'scalewall[dask]'") from None
        pd.DataFrame(rows, columns=list(RESULT_COLUMNS)).to_parquet(tmp, index=False)
    elif out.suffix == ".csv":
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(RESULT_COLUMNS))
            writer.writeheader()
            for r in rows:
                writer.writerow({k: r.get(k, "") for k in RESULT_COLUMNS})
    else:
        raise InvalidParameter(f"--out must end in .csv or .parquet, got {out.name!r}")
    os.replace(tmp, out)
