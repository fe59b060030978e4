"""The run registry: measured runs, GEMM profiles and calibrations in one SQLite file.

The file lives at ``$SCALEWALL_HOME/registry.db`` (default ``~/.scalewall/registry.db``). It
is opened in write-ahead-log mode, so readers never block the writer, and every write is one
``BEGIN IMMEDIATE`` transaction: several processes may record runs at once (they queue on the
write lock, waiting up to ``timeout_s``), and a process killed in the middle of a write leaves
only its uncommitted frames in the log, which SQLite discards on the next open [1]_.

The file is marked as ours by its SQLite ``application_id`` and carries its schema version in
``user_version`` and in the ``schema_version`` table (one row per migration applied). A file
that is not an SQLite database, an SQLite database of another program, or a registry written
by a newer scalewall is refused with the reason, and never written to.

References
----------
.. [1] SQLite, "Write-Ahead Logging" and "Atomic Commit In SQLite",
   https://www.sqlite.org/wal.html, https://www.sqlite.org/atomiccommit.html
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scalewall.measure._common import RegistryError, RegistryRefused, jsonable

__all__ = [
    "APPLICATION_ID",
    "RUN_KINDS",
    "SCHEMA_VERSION",
    "Registry",
    "default_registry_path",
    "open_registry",
]

#: SQLite ``application_id`` of a scalewall registry: the bytes "SCWL".
APPLICATION_ID = 0x5343574C
#: Kinds of record a run can be.
RUN_KINDS = ("train", "infer", "gemm", "bandwidth", "collective", "other")
_SQLITE_MAGIC = b"SQLite format 3\x00"

# Each migration takes the schema from version i to i + 1; index 0 creates version 1. A newer
# scalewall appends to this list and never edits an entry that has shipped.
_MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("runs, steps and GEMM samples", (
        """CREATE TABLE schema_version (
            version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL, description TEXT NOT NULL)""",
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            uid TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            hardware TEXT,
            device TEXT,
            host TEXT,
            config TEXT NOT NULL DEFAULT '{}',
            summary TEXT NOT NULL DEFAULT '{}')""",
        """CREATE TABLE steps (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            duration_s REAL NOT NULL,
            n_tokens REAL,
            model_flop REAL,
            energy_j REAL,
            peak_memory_bytes REAL,
            PRIMARY KEY (run_id, step))""",
        """CREATE TABLE gemm_samples (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            m INTEGER NOT NULL, n INTEGER NOT NULL, k INTEGER NOT NULL,
            precision TEXT NOT NULL,
            duration_s REAL NOT NULL)""",
        "CREATE INDEX gemm_samples_run ON gemm_samples(run_id)",
    )),
    ("named calibrations; runs indexed by kind and hardware", (
        """CREATE TABLE calibrations (
            name TEXT PRIMARY KEY,
            hardware TEXT NOT NULL,
            precision TEXT NOT NULL,
            created_at TEXT NOT NULL,
            params TEXT NOT NULL,
            fit TEXT NOT NULL DEFAULT '{}',
            source_runs TEXT NOT NULL DEFAULT '[]')""",
        "CREATE INDEX runs_kind_hardware ON runs(kind, hardware)",
    )),
)
#: Schema version this scalewall writes.
SCHEMA_VERSION = len(_MIGRATIONS)

_STEP_COLUMNS = ("step", "duration_s", "n_tokens", "model_flop", "energy_j",
                 "peak_memory_bytes")
_GEMM_COLUMNS = ("m", "n", "k", "precision", "duration_s")


def default_registry_path() -> Path:
    """``$SCALEWALL_HOME/registry.db``, else ``~/.scalewall/registry.db``."""
    home = os.environ.get("SCALEWALL_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".scalewall"
    return base / "registry.db"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _check_header(path: Path) -> None:
    """Refuse, from its first 100 bytes and without opening it, a file that is not ours.

    A registry in WAL mode may still have an empty main file (everything in the log), so an
    empty file passes here and is checked again through SQLite.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with path.open("rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        raise RegistryRefused(
            f"{path} is not an SQLite database, so not a scalewall registry; it was left "
            f"untouched. Point SCALEWALL_HOME at another folder or pass another --registry path"
        )
    app_id = int.from_bytes(head[68:72], "big")
    version = int.from_bytes(head[60:64], "big")
    # app_id 0 may be a registry being created by another process: SQLite decides below
    _check_identity(path, app_id, version, has_tables=False)


def _check_identity(path: Path, app_id: int, version: int, *, has_tables: bool) -> None:
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise RegistryRefused(
                f"{path} is a scalewall registry of schema version {version}, newer than the "
                f"{SCHEMA_VERSION} this scalewall understands; upgrade scalewall to read it "
                f"(the file was left untouched)"
            )
        return
    if app_id != 0:
        raise RegistryRefused(
            f"{path} is an SQLite database of another program (application_id "
            f"{app_id:#010x}, not scalewall's {APPLICATION_ID:#010x}); it was left untouched"
        )
    if has_tables:
        raise RegistryRefused(
            f"{path} is an SQLite database that scalewall did not create (it has tables and no "
            f"scalewall application_id); it was left untouched"
        )


class Registry:
    """A connection to the run registry; use :func:`open_registry` to get one.

    Parameters
    ----------
    path : the database file; default :func:`default_registry_path`.
    timeout_s : [s] how long a writer waits for another process's write to finish.
    """

    def __init__(self, path: str | Path | None = None, *, timeout_s: float = 60.0,
                 must_exist: bool = False) -> None:
        self.path = Path(path).expanduser() if path is not None else default_registry_path()
        if must_exist and not self.path.exists():
            raise RegistryError(
                f"no registry at {self.path}: nothing has been recorded there yet (`scalewall "
                f"measure gemm` or a probed run creates it); check --registry or SCALEWALL_HOME")
        _check_header(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None,
                                        check_same_thread=False)
        except sqlite3.Error as exc:
            raise RegistryError(f"cannot open the registry {self.path}: {exc}") from None
        try:
            self._open()
        except BaseException:
            self._con.close()
            raise

    # --- opening, identity and migrations ---
    def _identity(self) -> tuple[int, int, list[str]]:
        try:
            app_id = int(self._con.execute("PRAGMA application_id").fetchone()[0])
            version = int(self._con.execute("PRAGMA user_version").fetchone()[0])
            tables = [r[0] for r in self._con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
        except sqlite3.DatabaseError as exc:
            raise RegistryRefused(
                f"{self.path} is not a usable SQLite database ({exc}); it was left untouched"
            ) from None
        return app_id, version, tables

    def _open(self) -> None:
        app_id, version, tables = self._identity()
        _check_identity(self.path, app_id, version, has_tables=bool(tables))
        self._retry(self._set_wal)
        self._con.execute("PRAGMA synchronous = NORMAL")  # WAL: consistent on any crash
        self._con.execute("PRAGMA foreign_keys = ON")
        if app_id != APPLICATION_ID or version < SCHEMA_VERSION:
            self._migrate()

    def _set_wal(self) -> None:
        mode = self._con.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            self._con.execute("PRAGMA journal_mode = WAL")

    def _retry(self, action: Any, *, attempts: int = 50) -> Any:
        for i in range(attempts):
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or i == attempts - 1:
                    raise RegistryError(f"registry {self.path}: {exc}") from None
                time.sleep(0.05)
        return None

    def _migrate(self) -> None:
        with self.transaction() as con:
            # another process may have created or migrated the file since we looked
            app_id, version, tables = self._identity()
            _check_identity(self.path, app_id, version, has_tables=bool(tables))
            for target in range(version + 1, SCHEMA_VERSION + 1):
                description, statements = _MIGRATIONS[target - 1]
                for sql in statements:
                    con.execute(sql)
                con.execute("INSERT INTO schema_version VALUES (?, ?, ?)",
                            (target, _now(), description))
            con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # --- plumbing ---
    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on leaving, rolled back on an exception.

        ``BEGIN IMMEDIATE`` takes the write lock up front, so two writers queue instead of
        deadlocking on a read-to-write upgrade.
        """
        try:
            self._con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise RegistryError(f"registry {self.path} is busy: {exc}") from None
        try:
            yield self._con
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self._con.execute("PRAGMA user_version").fetchone()[0])

    def check(self) -> dict[str, Any]:
        """SQLite's integrity and foreign-key checks: ``{"ok": bool, ...}``."""
        integrity = [r[0] for r in self._con.execute("PRAGMA integrity_check")]
        dangling = self._con.execute("PRAGMA foreign_key_check").fetchall()
        history = [r[0] for r in self._con.execute(
            "SELECT version FROM schema_version ORDER BY version")]
        ok = (integrity == ["ok"] and not dangling
              and history == list(range(1, SCHEMA_VERSION + 1)))
        return {"ok": ok, "integrity": integrity, "dangling_rows": len(dangling),
                "schema_versions": history}

    # --- runs ---
    def add_run(
        self,
        *,
        kind: str,
        name: str = "",
        hardware: str | None = None,
        device: str | None = None,
        config: Mapping[str, Any] | None = None,
        summary: Mapping[str, Any] | None = None,
        steps: Iterable[Mapping[str, Any]] = (),
        gemm_samples: Iterable[Mapping[str, Any]] = (),
        uid: str | None = None,
    ) -> int:
        """Store one run with its steps and GEMM samples in one transaction; its id."""
        if kind not in RUN_KINDS:
            raise RegistryError(f"run kind must be one of {', '.join(RUN_KINDS)}, got {kind!r}")
        step_rows = [tuple(s.get(c) for c in _STEP_COLUMNS) for s in steps]
        gemm_rows = [tuple(g[c] for c in _GEMM_COLUMNS) for g in gemm_samples]
        with self.transaction() as con:
            cur = con.execute(
                "INSERT INTO runs (uid, kind, name, created_at, hardware, device, host, config,"
                " summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (uid or uuid.uuid4().hex, kind, name, _now(), hardware, device,
                 os.uname().nodename if hasattr(os, "uname") else "",
                 json.dumps(jsonable(dict(config or {}))),
                 json.dumps(jsonable(dict(summary or {})))),
            )
            run_id = int(cur.lastrowid or 0)
            con.executemany(
                f"INSERT INTO steps (run_id, {', '.join(_STEP_COLUMNS)}) VALUES "
                f"(?, {', '.join('?' * len(_STEP_COLUMNS))})",
                [(run_id, *row) for row in step_rows])
            con.executemany(
                f"INSERT INTO gemm_samples (run_id, {', '.join(_GEMM_COLUMNS)}) VALUES "
                f"(?, {', '.join('?' * len(_GEMM_COLUMNS))})",
                [(run_id, *row) for row in gemm_rows])
        return run_id

    def _run_id(self, ref: int | str) -> int:
        text = str(ref)
        if text == "last":
            row = self._con.execute("SELECT max(id) FROM runs").fetchone()
        elif text.isdigit():
            row = self._con.execute("SELECT id FROM runs WHERE id = ?", (int(text),)).fetchone()
        else:
            row = self._con.execute("SELECT id FROM runs WHERE uid = ?", (text,)).fetchone()
        if not row or row[0] is None:
            raise RegistryError(
                f"no run {text!r} in {self.path}; `scalewall runs list` shows the ids")
        return int(row[0])

    @staticmethod
    def _run_dict(row: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
        keys = ("id", "uid", "kind", "name", "created_at", "hardware", "device", "host",
                "config", "summary")
        out = dict(zip(keys, row, strict=True))
        out["config"] = json.loads(out["config"])
        out["summary"] = json.loads(out["summary"])
        return out

    def list_runs(self, *, kind: str | None = None, hardware: str | None = None,
                  limit: int | None = None) -> list[dict[str, Any]]:
        """Runs, newest first, without their steps."""
        sql = ("SELECT id, uid, kind, name, created_at, hardware, device, host, config, summary"
               " FROM runs WHERE (? IS NULL OR kind = ?) AND (? IS NULL OR hardware = ?)"
               " ORDER BY id DESC")
        params: list[Any] = [kind, kind, hardware, hardware]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [self._run_dict(r) for r in self._con.execute(sql, params)]

    def get_run(self, ref: int | str) -> dict[str, Any]:
        """One run with its ``steps`` and ``gemm_samples``; ``ref`` is an id, a uid or
        ``last``."""
        run_id = self._run_id(ref)
        row = self._con.execute(
            "SELECT id, uid, kind, name, created_at, hardware, device, host, config, summary"
            " FROM runs WHERE id = ?", (run_id,)).fetchone()
        out = self._run_dict(row)
        out["steps"] = [dict(zip(_STEP_COLUMNS, r, strict=True)) for r in self._con.execute(
            f"SELECT {', '.join(_STEP_COLUMNS)} FROM steps WHERE run_id = ? ORDER BY step",
            (run_id,))]
        out["gemm_samples"] = [dict(zip(_GEMM_COLUMNS, r, strict=True)) for r in
                               self._con.execute(
            f"SELECT {', '.join(_GEMM_COLUMNS)} FROM gemm_samples WHERE run_id = ?"
            " ORDER BY rowid", (run_id,))]
        return out

    def delete_run(self, ref: int | str) -> int:
        """Delete a run with its steps and samples; the id deleted."""
        run_id = self._run_id(ref)
        with self.transaction() as con:
            con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        return run_id

    def export(self, refs: Sequence[int | str] = ()) -> dict[str, Any]:
        """The runs named (default all) with their steps and samples, and the calibrations."""
        ids = [self._run_id(r) for r in refs] if refs else [
            r[0] for r in self._con.execute("SELECT id FROM runs ORDER BY id")]
        return {"schema_version": self.schema_version,
                "runs": [self.get_run(i) for i in ids],
                "calibrations": self.list_calibrations() if not refs else []}

    def gemm_samples(self, run_ids: Sequence[int | str]) -> list[dict[str, Any]]:
        """GEMM samples of the runs named, each with the ``run_id`` it came from."""
        out: list[dict[str, Any]] = []
        for ref in run_ids:
            run_id = self._run_id(ref)
            out += [{"run_id": run_id, **dict(zip(_GEMM_COLUMNS, r, strict=True))}
                    for r in self._con.execute(
                        f"SELECT {', '.join(_GEMM_COLUMNS)} FROM gemm_samples WHERE run_id = ?"
                        " ORDER BY rowid", (run_id,))]
        return out

    # --- calibrations ---
    def save_calibration(self, name: str, *, hardware: str, precision: str,
                         params: Mapping[str, float], fit: Mapping[str, Any] | None = None,
                         source_runs: Sequence[int] = ()) -> None:
        """Store (or replace) the calibration called ``name``."""
        if not name or not name.strip():
            raise RegistryError("a calibration needs a non-empty name")
        with self.transaction() as con:
            con.execute(
                "INSERT OR REPLACE INTO calibrations VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, hardware, precision, _now(), json.dumps(jsonable(dict(params))),
                 json.dumps(jsonable(dict(fit or {}))), json.dumps(list(source_runs))))

    def get_calibration(self, name: str) -> dict[str, Any]:
        row = self._con.execute(
            "SELECT name, hardware, precision, created_at, params, fit, source_runs"
            " FROM calibrations WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = [r[0] for r in self._con.execute(
                "SELECT name FROM calibrations ORDER BY name")]
            hint = f"known: {', '.join(known)}" if known else "there are none yet"
            raise RegistryError(
                f"no calibration {name!r} in {self.path} ({hint}); create one with "
                f"`scalewall calibrate --name {name}`")
        return self._calibration_dict(row)

    @staticmethod
    def _calibration_dict(row: tuple[Any, ...]) -> dict[str, Any]:
        keys = ("name", "hardware", "precision", "created_at", "params", "fit", "source_runs")
        out = dict(zip(keys, row, strict=True))
        for key in ("params", "fit", "source_runs"):
            out[key] = json.loads(out[key])
        return out

    def list_calibrations(self) -> list[dict[str, Any]]:
        return [self._calibration_dict(r) for r in self._con.execute(
            "SELECT name, hardware, precision, created_at, params, fit, source_runs"
            " FROM calibrations ORDER BY name")]


def open_registry(path: str | Path | None = None, *, timeout_s: float = 60.0,
                  must_exist: bool = False) -> Registry:
    """Open (creating or migrating if needed) the registry at ``path``; with ``must_exist``,
    a missing file is an error instead of a new, empty registry (for commands that only read
    or delete).

    Raises
    ------
    RegistryRefused
        The file is not a scalewall registry, or is from a newer schema (left untouched).
    RegistryError
        The file cannot be opened or written.
    """
    return Registry(path, timeout_s=timeout_s, must_exist=must_exist)
