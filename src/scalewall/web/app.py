"""The FastAPI application: JSON API under ``/api``, the page at ``/``, OpenAPI at ``/docs``.

Assets come from installed packages only: plotly.js from the ``plotly`` Python package, Swagger
UI from ``swagger-ui-bundle`` when installed. No CORS headers are sent (the page is served by
the same origin), request bodies are capped, and only loopback ``Host`` headers are accepted
when the server is bound to loopback (against DNS rebinding).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from scalewall._errors import PlannerError
from scalewall.catalog import Catalog, get_catalog
from scalewall.web._json import jsonable
from scalewall.web.errors import CapExceeded, cap_detail, planner_detail
from scalewall.web.extras import optional_routers
from scalewall.web.limits import DEFAULT_LIMITS, Limits
from scalewall.web.routes import Context, build_router

__all__ = ["STATIC_DIR", "create_app", "plotly_js_path"]

STATIC_DIR = Path(__file__).parent / "static"
_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
_ASGI = Callable[[_Scope, _Receive, _Send], Awaitable[None]]

# The page loads scripts and styles from its own origin only; plotly sets inline styles and
# draws into data: URLs, hence 'unsafe-inline' for styles and data:/blob: images.
_PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
             "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
             "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def plotly_js_path() -> Path:
    """The ``plotly.min.js`` bundled with the installed ``plotly`` package."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the plotly package is not installed: pip install "
                                "'scalewall[web]'")
    path = Path(spec.origin).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"plotly.min.js not found at {path}")
    return path


def _swagger_dir() -> Path | None:
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    return Path(swagger_ui_bundle.swagger_ui_path)


class _BodyCap:
    """Refuse request bodies over ``max_bytes`` with 413 before the app reads them."""

    def __init__(self, app: _ASGI, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay() -> _Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        msg = (f"request body over the cap max_body_bytes={self.max_bytes:,} bytes; send a "
               f"smaller body")
        response = JSONResponse(status_code=413, content={"error": "BodyTooLarge", "detail": [
            {"loc": ["body"], "msg": msg, "type": "cap_exceeded", "field": "body",
             "rule": "cap", "cap": "max_body_bytes", "cap_value": self.max_bytes}]})
        await response(scope, receive, send)


def _validation_detail(exc: RequestValidationError) -> dict[str, Any]:
    detail = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ())]
        value = err.get("input")
        text = repr(value)
        detail.append({
            "loc": loc, "msg": err.get("msg", ""), "type": err.get("type", ""),
            "field": ".".join(loc[1:]) or None, "rule": err.get("type", ""),
            "value": jsonable(value) if len(text) <= 200 else text[:200] + "...",
        })
    return {"error": "RequestValidationError", "detail": detail}


def create_app(
    *,
    catalog: Catalog | None = None,
    catalog_files: Sequence[str | Path] = (),
    limits: Limits = DEFAULT_LIMITS,
    allowed_hosts: Sequence[str] | None = None,
) -> FastAPI:
    """The scalewall web app.

    Parameters
    ----------
    catalog, catalog_files : the catalog to plan with (default the shipped one, plus files).
    limits : size and computation caps.
    allowed_hosts : accepted ``Host`` headers (None: any; the CLI passes loopback names when it
        binds to loopback).
    """

    cat = catalog or get_catalog(catalog_files)
    ctx = Context(cat, limits)
    app = FastAPI(
        title="scalewall",
        summary="What it takes to train and serve a large language model, and where scaling "
        "hits a wall.",
        description="JSON API over the scalewall planners: every endpoint calls the public "
        "Python API and returns its `to_dict()` (SI units). Errors are 422 with "
        "`detail[].field/rule/value`; a body over the cap is 413.",
        version=_version(),
        docs_url=None, redoc_url=None,
    )
    app.state.context = ctx
    app.include_router(build_router(ctx))
    extras = optional_routers(ctx)
    for router in extras.values():
        app.include_router(router)
    features = {"laws": "laws" in extras, "wall": "wall" in extras}

    @app.exception_handler(PlannerError)
    async def _planner(_: Request, exc: PlannerError) -> JSONResponse:
        return JSONResponse(status_code=422, content=jsonable(planner_detail(exc)))

    @app.exception_handler(CapExceeded)
    async def _cap(_: Request, exc: CapExceeded) -> JSONResponse:
        return JSONResponse(status_code=422, content=jsonable(cap_detail(exc)))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content=_validation_detail(exc))

    @app.get("/api/health", tags=["meta"])
    def health() -> dict[str, Any]:
        """Liveness, version, and which optional views (laws, wall) this install has."""
        return {"status": "ok", "version": _version(), "features": features,
                "limits": {k: getattr(limits, k) for k in limits.__dataclass_fields__}}

    @app.get("/", include_in_schema=False)
    def page() -> Response:
        html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
        return HTMLResponse(html, headers={"Content-Security-Policy": _PAGE_CSP,
                                           "X-Content-Type-Options": "nosniff",
                                           "Referrer-Policy": "no-referrer",
                                           "Cache-Control": "no-cache"})

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(plotly_js_path(), media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    swagger = _swagger_dir()
    if swagger is not None:
        app.mount("/static/swagger", StaticFiles(directory=swagger), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if swagger is None:
            return HTMLResponse(
                "<!doctype html><title>scalewall API</title><p>Swagger UI is not installed "
                "(pip install swagger-ui-bundle); the schema is at "
                "<a href='/openapi.json'>/openapi.json</a>.</p>")
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="scalewall API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(_BodyCap, max_bytes=limits.max_body_bytes)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scalewall")
    except PackageNotFoundError:
        return "0+unknown"
