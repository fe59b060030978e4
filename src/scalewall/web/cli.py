"""``scalewall web`` and ``scalewall report``: parse, call, serve or write. They compute nothing.

Registered by :func:`scalewall.cli._register_optional_apps` through :func:`register`; the
FastAPI, uvicorn and plotly imports happen only when a command runs, so ``scalewall --help``
stays fast and works without the ``web`` extra.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from scalewall._cli_common import err_console as _err
from scalewall._cli_common import fail as _fail
from scalewall._errors import PlannerError

__all__ = ["loopback_hosts", "register"]

_out = Console()

CatalogOpt = Annotated[list[Path] | None, typer.Option(
    "--catalog", help="Extra catalog TOML file (repeatable).")]
_DEFAULT_COMPARE = "h100-sxm,h200-sxm,b200,mi300x,tpu-v5p,trainium2,gaudi3"


def loopback_hosts(host: str) -> list[str] | None:
    """``Host`` headers to accept when serving on ``host``: loopback names for a loopback
    address (a DNS-rebinding guard), None (any) otherwise."""
    try:
        loop = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loop = host == "localhost"
    return ["127.0.0.1", "localhost", "[::1]", "::1"] if loop else None


def web(
    host: Annotated[str, typer.Option(help="Address to bind; the default serves this machine "
                                      "only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8000,
    catalog: CatalogOpt = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the JSON API (OpenAPI docs at /docs) and the page at http://HOST:PORT/."""
    try:
        import uvicorn

        from scalewall.web.app import create_app
    except ImportError as exc:
        _fail(ImportError(f"{exc.name} is missing: pip install 'scalewall[web]'"))
    try:
        app = create_app(catalog_files=catalog or [], allowed_hosts=loopback_hosts(host))
    except PlannerError as exc:
        _fail(exc)
    shown = f"[{host}]" if ":" in host else host
    _err.print(f"scalewall web on http://{shown}:{port}/ (API docs at /docs); Ctrl+C stops it",
               highlight=False)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level,
                                           server_header=False))
    try:
        server.run()
    except SystemExit:  # uvicorn exits (code 3) when start-up fails, after logging why
        pass
    if not server.started:  # uvicorn logged why (host not found, port taken) and returned
        _fail(OSError(f"could not serve on {shown}:{port}: the host does not resolve to a "
                      f"local address or the port is taken (uvicorn's message is above)"))


def _hybrid_for_report(ctx: Any, model: str, config: Any, hf_name: str | None,
                       hardware: str) -> dict[str, Any] | None:
    """The model against its state-space hybrid on one ``hardware`` device, at the first of
    bf16, fp8 and int4 whose weights fit there; None if none does (or the chip lacks them)."""
    from scalewall.web.routes import serve_hybrid
    from scalewall.web.schemas import ServeHybridRequest

    for precision in ("bf16", "fp8", "int4"):
        try:
            return serve_hybrid(ctx, ServeHybridRequest(
                model=None if config is not None else model, hf_config=config, hf_name=hf_name,
                hardware=hardware, precision=precision))
        except PlannerError:
            continue
    return None


def report(
    out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
    png: Annotated[Path | None, typer.Option(help="Also write each chart as PNG into this "
                                             "folder (for slides).")] = None,
    model: Annotated[str, typer.Option(help="Catalog model.")] = "llama-3.1-70b",
    hf_config: Annotated[Path | None, typer.Option("--hf-config", help="A Hugging Face "
                         "config.json to use instead of --model.")] = None,
    hardware: Annotated[str, typer.Option(help="Catalog accelerator.")] = "h100-sxm",
    devices: Annotated[int | None, typer.Option(min=1, max=1_000_000, help="Devices; "
                       "default: the smallest power of two that trains in about 90 days.")]
    = 1024,
    tokens: Annotated[str, typer.Option(help="Training tokens, e.g. 15T; 'auto' for the "
                      "model's published count.")] = "15T",
    region: Annotated[str | None, typer.Option(help="Grid region.")] = None,
    compare: Annotated[str, typer.Option(help="Comma-separated accelerators to compare; "
                       "'none' to leave the comparison out.")] = _DEFAULT_COMPARE,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Include a serving "
                     "section.")] = True,
    serve_hardware: Annotated[str, typer.Option(help="Serving accelerator.")] = "h200-sxm",
    serve_devices: Annotated[int, typer.Option(min=1, help="Serving devices.")] = 8,
    batch: Annotated[int, typer.Option(min=1, help="Concurrent sequences per replica.")] = 64,
    prompt: Annotated[int, typer.Option(min=0, help="Prompt tokens per request.")] = 2048,
    output: Annotated[int, typer.Option(min=1, help="Output tokens per request.")] = 256,
    wall: Annotated[str | None, typer.Option(help="Wall scenario to include (when "
                    "scalewall.wall is installed); 'none' to leave it out.")] = "baseline",
    catalog: CatalogOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was written, and the "
                       "plan, as one JSON object.")] = False,
) -> None:
    """Write a self-contained HTML report of a training plan (inline JS and CSS, no network):
    the page's charts, a comparison across accelerators and a serving section."""
    from pydantic import ValidationError

    from scalewall.cli import parse_amount

    try:
        from scalewall.report.html import ReportData, write_pngs, write_report
        from scalewall.web.routes import Context, serve_compare, serve_plan, train_compare
        from scalewall.web.routes import train_plan as plan_train
        from scalewall.web.schemas import CompareRequest, ServeCompareRequest
    except ImportError as exc:
        _fail(ImportError(f"{exc.name} is missing: pip install 'scalewall[web]'"))
    from scalewall.arch.hf import from_hf_config
    from scalewall.catalog import get_catalog
    from scalewall.web.limits import DEFAULT_LIMITS

    try:
        cat = get_catalog(catalog or [])
        ctx = Context(cat, DEFAULT_LIMITS)
        config, hf_name = None, None
        if hf_config is not None:
            import json

            hf_name = from_hf_config(hf_config).name  # checks the file, naming it in errors
            config = json.loads((hf_config / "config.json" if hf_config.is_dir() else hf_config)
                                .read_text(encoding="utf-8"))
        names = [] if compare.strip().lower() == "none" else [
            n.strip() for n in compare.split(",") if n.strip()]
        req = CompareRequest(
            model=model, hf_config=config, hf_name=hf_name, hardware=hardware, devices=devices,
            tokens=None if tokens == "auto" else parse_amount(tokens, name="tokens"),
            region=region, compare=names or [hardware],
        )
        plan = plan_train(ctx, req, hardware).to_dict(top=5)
        data = ReportData(train=plan, compare=train_compare(ctx, req) if names else None)
        if serve:
            sreq = ServeCompareRequest(
                model=model, hf_config=config, hf_name=hf_name, hardware=serve_hardware,
                devices=serve_devices, batch=batch, prompt=prompt, output=output,
                compare=names or [serve_hardware])
            from scalewall.infer.operators import plan_operators

            splan = serve_plan(ctx, sreq, serve_hardware)
            data.serve = {**splan.to_dict(), "operators": plan_operators(splan, ctx.catalog)}
            data.serve_compare = serve_compare(ctx, sreq) if names else None
            data.serve_hybrid = _hybrid_for_report(ctx, model, config, hf_name, serve_hardware)
        if wall and wall.lower() != "none":
            import importlib.util

            if importlib.util.find_spec("scalewall.wall") is not None:
                from scalewall.wall import project

                data.wall = project(wall, n_draws=DEFAULT_LIMITS.max_draws).to_dict()
    except PlannerError as exc:
        _fail(exc)
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(ValueError(f"{'.'.join(str(x) for x in first['loc'])}: {first['msg']}"))
    write_report(data, out)
    pngs = [str(p) for p in write_pngs(data, png)] if png is not None else []
    if as_json:
        from scalewall._cli_common import print_json

        print_json({"out": str(out), "bytes": out.stat().st_size, "png": pngs, "plan": plan})
        return
    _out.print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, self-contained)")
    for path in pngs:
        _out.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``web`` and ``report`` commands to the ``scalewall`` app."""
    app.command(name="web")(web)
    app.command(name="report")(report)
