"""Endpoints for the packages written beside the planners: scaling laws and the wall.

Each is added only when its package imports and exposes the functions used here, so the app
runs (and its schema stays valid) without them. To wire another, add a builder to
``_BUILDERS`` returning an :class:`~fastapi.APIRouter`, or None when its package is absent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from scalewall._errors import InvalidParameter, UnknownCatalogEntry
from scalewall.web.errors import CapExceeded
from scalewall.web.routes import ERROR_RESPONSES

if TYPE_CHECKING:
    from scalewall.web.routes import Context

__all__ = ["LawsRequest", "WallRequest", "optional_routers"]

_OBJECT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"schema": {"type": "object"}}}}}


def _module(name: str, *functions: str) -> Any:
    """``name`` imported if it exposes every one of ``functions``, else None."""
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    return module if all(callable(getattr(module, f, None)) for f in functions) else None


class WallRequest(BaseModel):
    """A wall projection: scenario, years and Monte Carlo draws."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)
    scenario: str = Field(default="baseline", min_length=1, max_length=60,
                          pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$",
                          description="A built-in scenario (GET /api/wall/scenarios).")
    first_year: int = Field(default=2024, ge=2024, le=2060)
    last_year: int = Field(default=2040, ge=2024, le=2060)
    draws: int = Field(default=20_000, ge=1_000, le=10_000_000,
                       description="Monte Carlo draws (capped by max_draws).")
    seed: int | None = Field(default=0, ge=0, le=2**32 - 1)


class LawsRequest(BaseModel):
    """A compute budget, or a model and token count, to read the scaling laws at."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)
    train_flop: float | None = Field(default=None, gt=1e10, le=1e35,
                                     description="Compute budget [FLOP] for the optimum.")
    n_params: float | None = Field(default=None, gt=1e5, le=1e16)
    n_tokens: float | None = Field(default=None, gt=1e6, le=1e18)
    law: Literal["hoffmann2022", "hoffmann2022-unrounded", "besiroglu2024",
                 "kaplan2020"] = "hoffmann2022"


def _wall_router(ctx: Context) -> APIRouter | None:
    wall = _module("scalewall.wall", "project", "list_scenarios")
    if wall is None:
        return None
    router = APIRouter(prefix="/api/wall", tags=["wall"], responses=ERROR_RESPONSES)

    @router.get("/scenarios", responses=_OBJECT)
    def scenarios() -> Response:
        """The built-in scenarios of the wall projection."""
        return ctx.answer("wall-scenarios", lambda: {"scenarios": wall.list_scenarios()})

    @router.post("/project", responses=_OBJECT)
    def project(req: WallRequest) -> Response:
        """Per year: the largest feasible training run (p10/median/p90), each constraint's
        limit, and the probability that each binds (``scalewall.wall.project``)."""
        limits = ctx.limits

        def run() -> Any:
            n_years = req.last_year - req.first_year + 1
            if n_years < 1:
                raise InvalidParameter(f"last_year must be >= first_year ({req.first_year}), "
                                       f"got {req.last_year}")
            if n_years > limits.max_years:
                raise CapExceeded("last_year", "max_years", limits.max_years, n_years,
                                  "the number of years")
            if req.draws > limits.max_draws:
                raise CapExceeded("draws", "max_draws", limits.max_draws, req.draws,
                                  "the number of Monte Carlo draws")
            if req.scenario not in wall.list_scenarios():
                raise UnknownCatalogEntry("scenario", req.scenario, wall.list_scenarios())
            result = wall.project(req.scenario, years=range(req.first_year, req.last_year + 1),
                                  n_draws=req.draws, seed=req.seed)
            return result.to_dict()
        return ctx.answer("wall:" + req.model_dump_json(), run)

    return router


def _laws_router(ctx: Context) -> APIRouter | None:
    laws = _module("scalewall.laws", "get_compute_optimal", "data_budget")
    if laws is None:
        return None
    router = APIRouter(prefix="/api/laws", tags=["laws"], responses=ERROR_RESPONSES)

    @router.post("/optimal", responses=_OBJECT)
    def optimal(req: LawsRequest) -> Response:
        """The compute-optimal model and data for ``train_flop`` under ``law``
        (``scalewall.laws.get_compute_optimal``)."""
        def run() -> Any:
            if req.train_flop is None:
                raise InvalidParameter("train_flop must be given for the optimum, got None")
            return laws.get_compute_optimal(req.train_flop, law=req.law).to_dict()
        return ctx.answer("laws-optimal:" + req.model_dump_json(), run)

    @router.post("/data-budget", responses=_OBJECT)
    def data_budget(req: LawsRequest) -> Response:
        """Tokens needed against the stock of text, epochs and the loss penalty of repeating
        (``scalewall.laws.data_budget``)."""
        def run() -> Any:
            if req.n_params is None or req.n_tokens is None:
                raise InvalidParameter("n_params and n_tokens must both be given, got "
                                       f"{req.n_params!r} and {req.n_tokens!r}")
            law = req.law if req.law != "kaplan2020" else "hoffmann2022"
            return laws.data_budget(req.n_params, req.n_tokens, law=law,
                                    catalog=ctx.catalog).to_dict()
        return ctx.answer("laws-data:" + req.model_dump_json(), run)

    return router


_BUILDERS: dict[str, Callable[[Context], APIRouter | None]] = {
    "laws": _laws_router,
    "wall": _wall_router,
}


def optional_routers(ctx: Context) -> dict[str, APIRouter]:
    """The routers whose packages are present, by feature name."""
    out: dict[str, APIRouter] = {}
    for name, build in _BUILDERS.items():
        router = build(ctx)
        if router is not None:
            out[name] = router
    return out
