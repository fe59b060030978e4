"""The JSON endpoints: parse a request model, call the public API, return its ``to_dict()``.

Nothing here computes a physical quantity; it resolves names, checks the caps of
:class:`~scalewall.web.limits.Limits`, calls :mod:`scalewall.api` / :mod:`scalewall.infer` /
:mod:`scalewall.validate`, and serialises. Results are pure functions of the request, so
successful answers are kept in a small LRU cache keyed by the canonical request.
"""

from __future__ import annotations

import csv
import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import APIRouter, Path
from fastapi.responses import Response

from scalewall._errors import CatalogFileError, PlannerError
from scalewall.api import describe, find_entry, plan_training, read_hf_config
from scalewall.arch.model import Architecture
from scalewall.catalog import Catalog
from scalewall.hardware import Accelerator
from scalewall.infer import ServingPlan, plan_serving, search_serving
from scalewall.infer.operators import plan_operators
from scalewall.train.layout import Layout
from scalewall.train.plan import TrainingPlan
from scalewall.validate import REQUIRED_COLUMNS, read_shipped_rows, validate_rows
from scalewall.web._json import dumps
from scalewall.web.errors import CapExceeded
from scalewall.web.limits import Limits
from scalewall.web.schemas import (
    CompareRequest,
    ConfigRequest,
    ServeCompareRequest,
    ServeHybridRequest,
    ServePlanRequest,
    ServeRequest,
    ServeSearchRequest,
    TrainRequest,
    ValidateRequest,
)

__all__ = [
    "ERROR_RESPONSES", "Context", "build_router", "layout_candidates_bound", "serve_compare",
    "serve_hybrid", "serve_plan", "train_compare", "train_plan",
]

#: Error answers every endpoint documents (schema: FastAPI's validation error, extended).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Body that is not JSON"},
    413: {"description": "Request body over the cap max_body_bytes"},
    422: {"description": "Invalid field, unknown catalog entry, or a computation cap exceeded; "
          "detail[].field/rule/value say which"},
}
_OBJECT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"schema": {"type": "object"}}}}}
# Mirrors the grid of scalewall.train.search.enumerate_layouts: sp (2) x vpp (3) x
# micro-batch (5) x recompute (3) x ZeRO (4) options per (tp, pp, cp, ep) combination; its
# tp, pp, cp and ep axes are the divisors of the device count under the limits below.
_OPTION_AXES = {"sp": 2, "vpp": 3, "micro_batch": 5, "recompute": 3, "zero": 4}
_MAX_CP = 32
# Integers in an uploaded config.json above this are refused before any arithmetic: 2^31 is
# far above any real hidden size, vocabulary or context, and keeps products inside float range.
_MAX_CONFIG_INT = 2**31


class _Cache:
    """A thread-safe LRU of serialised answers."""

    def __init__(self, size: int) -> None:
        self.size, self._data, self._lock = size, OrderedDict[str, bytes](), threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, value: bytes) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


class Context:
    """What the endpoints share: the catalog, the caps, the cache and a concurrency gate."""

    def __init__(self, catalog: Catalog, limits: Limits, *, cache_size: int = 512) -> None:
        self.catalog, self.limits = catalog, limits
        self.cache = _Cache(cache_size)
        self.gate = threading.BoundedSemaphore(limits.max_concurrent)
        self._inflight: dict[str, threading.Event] = {}
        self._inflight_lock = threading.Lock()

    def answer(self, key: str, compute: Callable[[], Any]) -> Response:
        """The cached answer for ``key``, else ``compute()`` (gated) serialised and cached.

        Identical requests arriving together compute once: the others wait for the first
        and take its answer (or, if it failed, compute and fail on their own).
        """
        body = self.cache.get(key)
        if body is None:
            with self._inflight_lock:
                running = self._inflight.get(key)
                if running is None:
                    self._inflight[key] = threading.Event()
            if running is not None:
                running.wait(timeout=120)
                body = self.cache.get(key)
                if body is None:
                    with self.gate:
                        body = dumps(compute())
            else:
                try:
                    with self.gate:
                        body = dumps(compute())
                    self.cache.put(key, body)
                finally:
                    with self._inflight_lock:
                        self._inflight.pop(key).set()
        return Response(content=body, media_type="application/json")


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def layout_candidates_bound(arch: Architecture, accel: Accelerator, *, n_devices: int,
                            seq_len: int, fixed: dict[str, Any]) -> int:
    """How many layouts a search of ``n_devices`` enumerates (the grid size of
    :func:`scalewall.train.search.enumerate_layouts`), counted without building it."""
    node = max(accel.scale_up_domain, accel.devices_per_node, 1)
    divs = _divisors(n_devices)
    axes = {
        "tp": sum(1 for d in divs if d <= node and arch.n_heads % d == 0),
        "pp": sum(1 for d in divs if d <= arch.n_pipeline_layers),
        "cp": sum(1 for d in divs if d <= _MAX_CP and seq_len % d == 0),
        "ep": (sum(1 for d in divs if arch.n_experts % d == 0) if arch.is_moe else 1) or 1,
        **_OPTION_AXES,
    }
    total = 1
    for name, count in axes.items():
        total *= 1 if name in fixed else max(count, 1)
    return total


def _check_config(config: dict[str, Any], limits: Limits) -> None:
    if len(config) > limits.max_config_keys:
        raise CapExceeded("hf_config", "max_config_keys", limits.max_config_keys, len(config),
                          "the number of keys in config.json")
    for key, value in config.items():
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > \
                _MAX_CONFIG_INT:
            raise CatalogFileError(
                f"hf_config: {key} must be at most {_MAX_CONFIG_INT:,}, got {value!r}")


def _architecture(ctx: Context, model: str | None, hf_config: dict[str, Any] | None,
                  hf_name: str | None = None) -> Architecture:
    if hf_config is not None:
        _check_config(hf_config, ctx.limits)
        return read_hf_config(hf_config, name=hf_name)
    if model is None:
        raise CatalogFileError("model: give a catalog model name or an hf_config object")
    return ctx.catalog.model(model)


def train_plan(ctx: Context, req: TrainRequest, hardware: str) -> TrainingPlan:
    """The :class:`~scalewall.train.plan.TrainingPlan` of ``req`` on ``hardware``."""
    arch = _architecture(ctx, req.model, req.hf_config, req.hf_name)
    accel = ctx.catalog.accelerator(hardware)
    pinned = {k: v for k, v in dict(tp=req.tp, pp=req.pp, dp=req.dp, cp=req.cp, ep=req.ep,
                                     vpp=req.vpp, sp=req.sp, micro_batch=req.micro_batch,
                                     zero=req.zero, recompute=req.recompute).items()
              if v is not None}
    options = dict(flash_attention=req.flash, dropout=req.dropout, precision=req.precision,
                   recipe=req.recipe)
    layout = None
    if {"tp", "pp", "dp", "micro_batch"} <= set(pinned):
        layout = Layout(**pinned, **options)  # type: ignore[arg-type]
    else:
        seq = req.seq_len or arch.seq_len
        # Without a device count the planner tries powers of two up to 2^17.
        for n in [req.devices] if req.devices else [2**17]:
            bound = layout_candidates_bound(arch, accel, n_devices=n, seq_len=seq,
                                            fixed=pinned)
            if bound > ctx.limits.max_layout_candidates:
                raise CapExceeded("devices", "max_layout_candidates",
                                  ctx.limits.max_layout_candidates, bound,
                                  f"the layout search over {n:,} devices enumerates")
    return plan_training(
        arch, accel, n_devices=req.devices, n_tokens=req.tokens, seq_len=req.seq_len,
        global_batch=req.global_batch, layout=layout, fixed={**pinned, **options},
        region=req.region, pue=req.pue, unique_tokens=req.unique_tokens,
        goodput=req.goodput, objective=req.objective, catalog=ctx.catalog,
    )


def serve_plan(ctx: Context, req: ServeRequest, hardware: str) -> ServingPlan:
    arch = _architecture(ctx, req.model, req.hf_config, req.hf_name)
    return plan_serving(
        arch, ctx.catalog.accelerator(hardware), n_devices=req.devices, batch=req.batch,
        prompt=req.prompt, output=req.output, precision=req.precision,
        kv_precision=req.kv_precision, tp=req.tp, pp=req.pp, objective=req.objective,
        region=req.region, pue=req.pue, grouped_kv_reads=req.grouped_kv_reads,
        ep=req.ep, attention_dp=req.attention_dp, attention_dp_balance=req.attention_dp_balance,
        moe_dispatch=req.moe_dispatch, first_token_in_decode=req.first_token_in_decode,
        request_overhead_s=None if req.request_overhead_ms is None
        else req.request_overhead_ms / 1e3, requests_per_s=req.requests_per_s,
        host_time_per_sequence_s=None if req.host_us_per_sequence is None
        else req.host_us_per_sequence / 1e6, catalog=ctx.catalog, **req.speculative(),
    )


def _error_entry(hardware: str, exc: PlannerError) -> dict[str, Any]:
    return {"hardware": hardware, "ok": False, "error": type(exc).__name__, "message": str(exc)}


def train_compare(ctx: Context, req: CompareRequest) -> dict[str, Any]:
    """``{"plans": [...]}``: the run of ``req`` on each accelerator of ``req.compare``, or why
    it cannot run there."""
    rows: list[dict[str, Any]] = []
    for name in dict.fromkeys(req.compare):
        try:
            plan = train_plan(ctx, req, name).to_dict(top=1)
        except PlannerError as exc:
            rows.append(_error_entry(name, exc))
            continue
        plan.pop("search", None)
        rows.append({"ok": True, **plan})
    return {"plans": rows}


def serve_compare(ctx: Context, req: ServeCompareRequest) -> dict[str, Any]:
    """``{"plans": [...]}``: the deployment of ``req`` on each accelerator of ``req.compare``."""
    rows: list[dict[str, Any]] = []
    for name in dict.fromkeys(req.compare):
        try:
            rows.append({"ok": True, **serve_plan(ctx, req, name).to_dict()})
        except PlannerError as exc:
            rows.append(_error_entry(name, exc))
    return {"plans": rows}


def serve_hybrid(ctx: Context, req: ServeHybridRequest) -> dict[str, Any]:
    """``compare_state_space(...).to_dict()`` for the model of ``req`` and its hybrid of equal
    size."""
    from scalewall.infer.ssm import compare_state_space, hybrid_of

    arch = _architecture(ctx, req.model, req.hf_config, req.hf_name)
    return compare_state_space(
        arch, req.hardware, context=np.asarray(req.contexts, dtype=float),
        hybrid=hybrid_of(arch, attention_every=req.attention_every), precision=req.precision,
        catalog=ctx.catalog).to_dict()


def _csv_rows(text: str, cap: int) -> list[dict[str, str]]:
    """The rows of an uploaded validation CSV; a malformed file is the user's error."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[dict[str, str]] = []
    try:
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CatalogFileError(f"csv: missing columns {missing}")
        for row in reader:
            if len(rows) == cap:
                raise CapExceeded("csv", "max_validation_rows", cap, len(rows) + 1,
                                  "the number of rows")
            rows.append({k: v if isinstance(v, str) else "" for k, v in row.items()
                         if isinstance(k, str)})
    except csv.Error as exc:
        raise CatalogFileError(f"csv: not readable as CSV ({exc})") from None
    return rows


def build_router(ctx: Context) -> APIRouter:
    """The ``/api`` endpoints bound to ``ctx``."""
    router = APIRouter(prefix="/api", responses=ERROR_RESPONSES)
    cat, limits = ctx.catalog, ctx.limits

    @router.get("/catalog", tags=["catalog"], responses=_OBJECT)
    def catalog_list() -> Response:
        """Every catalog entry (accelerators, models, regions, PUE presets), in SI units, with
        its source."""
        return ctx.answer("catalog", lambda: {
            "accelerators": [describe(e) for e in cat.accelerators.values()],
            "models": [describe(e) for e in cat.models.values()],
            "regions": [describe(e) for e in cat.regions.values()],
            "pue": [describe(e) for e in cat.pue_presets.values()],
        })

    @router.get("/catalog/{name}", tags=["catalog"], responses=_OBJECT)
    def catalog_show(name: str = Path(min_length=1, max_length=80,
                                      pattern=r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$")) -> Response:
        """One catalog entry by name or alias; an unknown name lists close matches."""
        return ctx.answer(f"catalog/{name.lower()}",
                          lambda: describe(find_entry(name, extra_files=cat.files)))

    @router.post("/config", tags=["models"], responses=_OBJECT)
    def parse_config(req: ConfigRequest) -> Response:
        """Read an uploaded Hugging Face config.json (as a JSON object, never executed or
        stored) into an architecture, with its parameter counts."""
        def run() -> Any:
            _check_config(req.config, limits)
            return describe(read_hf_config(req.config, name=req.name))
        return ctx.answer("config:" + req.model_dump_json(), run)

    @router.post("/train/plan", tags=["train"], responses=_OBJECT)
    def plan_train(req: TrainRequest) -> Response:
        """Plan a training run: layout, memory and step-time breakdowns, days, device-hours,
        MWh, tCO2e, USD, data needed vs available (``TrainingPlan.to_dict``)."""
        return ctx.answer("train:" + req.model_dump_json(),
                          lambda: train_plan(ctx, req, req.hardware).to_dict(top=req.top))

    @router.post("/train/search", tags=["train"], responses=_OBJECT)
    def train_search(req: TrainRequest) -> Response:
        """The layout search behind a plan: counts, top layouts, Pareto fronts, and why the
        best wins (``TrainingPlan.search_summary``); null when the layout was pinned."""
        def run() -> Any:
            plan = train_plan(ctx, req, req.hardware)
            return {"layout": plan.layout.to_dict(), "search": plan.search_summary(top=req.top)}
        return ctx.answer("search:" + req.model_dump_json(), run)

    @router.post("/train/compare", tags=["train"], responses=_OBJECT)
    def compare_train(req: CompareRequest) -> Response:
        """The same run planned on each accelerator of ``compare`` with its own best layout;
        an accelerator that cannot run it is listed with the reason."""
        return ctx.answer("compare:" + req.model_dump_json(), lambda: train_compare(ctx, req))

    @router.post("/serve/plan", tags=["serve"], responses=_OBJECT)
    def plan_serve(req: ServePlanRequest) -> Response:
        """Plan serving: TTFT, time per output token, tokens/s, memory per device, $/M tokens,
        J/token (``ServingPlan.to_dict``)."""
        def run() -> dict[str, Any]:
            plan = serve_plan(ctx, req, req.hardware)
            out = plan.to_dict()
            if req.ops:
                out["operators"] = plan_operators(plan, ctx.catalog)
            return out
        return ctx.answer("serve:" + req.model_dump_json(), run)

    @router.post("/serve/compare", tags=["serve"], responses=_OBJECT)
    def compare_serve(req: ServeCompareRequest) -> Response:
        """The same deployment planned on each accelerator of ``compare``."""
        return ctx.answer("serve-compare:" + req.model_dump_json(),
                          lambda: serve_compare(ctx, req))

    @router.post("/serve/hybrid", tags=["serve"], responses=_OBJECT)
    def hybrid_serve(req: ServeHybridRequest) -> Response:
        """The model against a state-space hybrid of its width and parameter count on one
        device, over contexts: cache per sequence, batch that fits, tokens/s, $/M tokens and
        the context from which the hybrid is cheaper (``compare_state_space``)."""
        return ctx.answer("serve-hybrid:" + req.model_dump_json(),
                          lambda: serve_hybrid(ctx, req))

    @router.post("/serve/search", tags=["serve"], responses=_OBJECT)
    def search_serve(req: ServeSearchRequest) -> Response:
        """The cheapest (or lowest-energy) serving configuration meeting TTFT and TPOT targets
        at the offered load (``search_serving``)."""
        def run() -> Any:
            arch = _architecture(ctx, req.model, req.hf_config, req.hf_name)
            return search_serving(
                arch, hardware=req.hardware, requests_per_s=req.requests_per_s,
                prompt=req.prompt, output=req.output, ttft_s=req.ttft_s, tpot_s=req.tpot_s,
                objective=req.objective, attention_dp_balance=req.attention_dp_balance,
                catalog=cat, **req.speculative(),
            ).to_dict()
        return ctx.answer("serve-search:" + req.model_dump_json(), run)

    @router.post("/validate", tags=["validate"], responses=_OBJECT)
    def validate(req: ValidateRequest) -> Response:
        """Predict rows in the validation schema (DESIGN.md) and report the signed errors and
        per-metric summaries; ``shipped: true`` validates the project's own set."""
        def run() -> Any:
            rows: list[dict[str, str]]
            if req.shipped:
                rows = read_shipped_rows()
            elif req.rows is not None:
                rows = [{k: "" if v is None else str(v) for k, v in r.items()} for r in req.rows]
            elif req.csv is not None:
                rows = _csv_rows(req.csv, limits.max_validation_rows)
            else:
                raise CatalogFileError("give shipped: true, rows, or csv")
            return validate_rows(rows, catalog=cat).to_dict()
        return ctx.answer("validate:" + req.model_dump_json(), run)

    return router
