"""Concurrent-writer stress test of the run registry, shared by the tests and the benchmark.

``n_procs`` processes each record ``n_writes`` runs (one transaction each, a run and two
steps) into one registry while a further process opens a large write transaction, is killed
with SIGKILL in the middle of it, and never commits. Afterwards every committed run must be
there with both its steps, the killed transaction must have left nothing, and SQLite's
integrity and foreign-key checks must pass.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path
from typing import Any

from scalewall.measure.registry import open_registry

__all__ = ["stress_registry"]

_DOOMED_UID = "stress-killed-mid-transaction"


def _writer(path: str, worker: int, n_writes: int, start: Any) -> None:
    start.wait()
    with open_registry(path, timeout_s=120.0) as reg:
        for i in range(n_writes):
            reg.add_run(kind="other", name=f"stress {worker}", uid=f"stress-{worker}-{i}",
                        config={"worker": worker, "i": i},
                        steps=[{"step": 0, "duration_s": 1.0}, {"step": 1, "duration_s": 2.0}])


def _doomed(path: str, ready: Any, n_steps: int) -> None:
    with open_registry(path, timeout_s=120.0) as reg:
        # a tiny page cache makes SQLite spill uncommitted pages into the log before the
        # commit, so the kill lands with half a transaction on disk
        reg._con.execute("PRAGMA cache_size = 8")
        with reg.transaction() as con:
            cur = con.execute(
                "INSERT INTO runs (uid, kind, created_at) VALUES (?, 'other', 'now')",
                (_DOOMED_UID,))
            con.executemany(
                "INSERT INTO steps (run_id, step, duration_s) VALUES (?, ?, 1.0)",
                [(cur.lastrowid, i) for i in range(n_steps)])
            ready.set()
            time.sleep(600)  # killed here, holding the write lock, never committing


def stress_registry(path: str | Path, *, n_procs: int = 8, n_writes: int = 500,
                    kill: bool = True, doomed_steps: int = 20_000) -> dict[str, Any]:
    """Run the stress test against the registry at ``path``; figures and verdict.

    Returns
    -------
    dict with ``writes`` (committed runs expected), ``lost`` (expected runs missing or missing
    a step), ``consistent`` (integrity, foreign keys, killed transaction absent), ``killed``
    (whether a writer was killed mid-transaction), ``duration_s`` and ``writes_per_s``.
    """
    path = str(path)
    open_registry(path).close()  # create it once, so the writers race on writes only
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    writers = [ctx.Process(target=_writer, args=(path, w, n_writes, start))
               for w in range(n_procs)]
    for p in writers:
        p.start()
    killed = False
    t0 = time.perf_counter()
    start.set()
    if kill:
        ready = ctx.Event()
        doomed = ctx.Process(target=_doomed, args=(path, ready, doomed_steps))
        doomed.start()
        # it holds the write lock while it waits: the writers queue behind it until the kill
        if ready.wait(timeout=120.0) and doomed.pid is not None:
            os.kill(doomed.pid, signal.SIGKILL)
            killed = True
        doomed.join()
    for p in writers:
        p.join()
    duration = time.perf_counter() - t0
    failed_writers = sum(1 for p in writers if p.exitcode != 0)
    with open_registry(path) as reg:
        check = reg.check()
        rows = reg._con.execute(
            "SELECT r.uid, count(s.step) FROM runs r LEFT JOIN steps s ON s.run_id = r.id"
            " WHERE r.uid LIKE 'stress-%' GROUP BY r.id").fetchall()
    complete = {uid for uid, n in rows if n == 2}
    expected = {f"stress-{w}-{i}" for w in range(n_procs) for i in range(n_writes)}
    doomed_left = any(uid == _DOOMED_UID for uid, _ in rows)
    return {
        "writes": len(expected), "lost": len(expected - complete),
        "consistent": bool(check["ok"]) and not doomed_left
        and all(n == 2 for _, n in rows),
        "killed": killed, "failed_writers": failed_writers, "n_procs": n_procs,
        "duration_s": duration, "writes_per_s": len(complete) / duration,
        "integrity": check["integrity"],
    }
