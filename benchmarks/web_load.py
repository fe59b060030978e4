"""Start ``scalewall web`` and load it with concurrent train-plan requests on loopback.

Measures what issue 7 promises: the server answers within 2 s of starting (``startup_s``,
from process start to the first 200 of /api/health), and a train plan answers in under 100 ms
at the 95th percentile under 20 concurrent clients (``p95_ms``). The headline workload is the
page's: 20 keep-alive clients cycling through 8 plans (the first request of each plan runs the
layout search, the rest are answered from the app's cache of pure results). ``p95_cold_ms``
is a separate figure where every request is a different plan (a new token budget on one of the
8 setups): the app's cache misses every time; the planner reuses the layout search of a setup
across token budgets (a search does not depend on them), so only the first request per setup
searches. Loopback only; bounded by ``--requests``.

The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

_PLANS = [
    {"model": "llama-3.1-8b", "hardware": "h100-sxm", "devices": 256, "tokens": 15e12},
    {"model": "llama-3.1-70b", "hardware": "h100-sxm", "devices": 1024, "tokens": 15e12},
    {"model": "llama-3.1-70b", "hardware": "h200-sxm", "devices": 1024, "tokens": 15e12},
    {"model": "llama-3.1-405b", "hardware": "h100-sxm", "devices": 16384, "tokens": 15.6e12},
    {"model": "mistral-7b", "hardware": "a100-sxm4-80gb", "devices": 64, "tokens": 2e12},
    {"model": "mixtral-8x7b", "hardware": "h100-sxm", "devices": 512, "tokens": 5e12},
    {"model": "qwen2.5-72b", "hardware": "b200", "devices": 2048, "tokens": 18e12},
    {"model": "gpt-3-175b", "hardware": "a100-sxm4-80gb", "devices": 1024, "tokens": 300e9},
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(port: int) -> tuple[subprocess.Popen[bytes], float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "scalewall.cli", "web", "--port", str(port), "--log-level",
         "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                return proc, time.perf_counter() - t0
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("scalewall web exited: " + (proc.stderr.read().decode()
                                                           if proc.stderr else ""))
        if time.perf_counter() - t0 > 30:
            proc.kill()
            raise RuntimeError("scalewall web did not answer within 30 s")
        time.sleep(0.01)


def _load(port: int, bodies: list[dict[str, Any]], clients: int) -> list[float]:
    """Send ``bodies`` from ``clients`` keep-alive connections; latencies [s]."""
    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(enumerate(bodies))
    errors: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                _, body = queue.pop(0)
            data = json.dumps(body).encode()
            t0 = time.perf_counter()
            conn.request("POST", "/api/train/plan", body=data,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                if resp.status != 200:
                    errors.append(f"{resp.status} for {body}")
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[0]}")
    return latencies


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a short run (CI)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000,
                        help="requests in the headline workload (bounded)")
    args = parser.parse_args()
    n_requests = min(200 if args.smoke else args.requests, 20_000)
    n_cold = 40 if args.smoke else 200
    port = _free_port()
    proc, startup_s = _start(port)
    try:
        warm = _load(port, [_PLANS[i % len(_PLANS)] for i in range(n_requests)], args.clients)
        # Every body different (tokens differ), so each misses the cache and searches.
        cold = _load(port, [{**_PLANS[i % len(_PLANS)], "tokens": 1e12 + i * 1e9}
                            for i in range(n_cold)], args.clients)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    figures = {
        "startup_s": round(startup_s, 3),
        "p95_ms": round(_p(warm, 95), 2),
        "p50_ms": round(_p(warm, 50), 2),
        "p95_cold_ms": round(_p(cold, 95), 1),
        "p50_cold_ms": round(_p(cold, 50), 1),
        "clients": args.clients,
        "requests": len(warm),
        "cold_requests": len(cold),
    }
    print(f"{'figure':<16}{'value':>12}")
    for key, value in figures.items():
        print(f"{key:<16}{value:>12}")
    print("targets: startup_s < 2, p95_ms < 100 (20 concurrent clients)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
