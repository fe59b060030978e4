from __future__ import annotations

import hashlib
import sqlite3

import pytest

from scalewall.measure import RegistryError, RegistryRefused, open_registry
from scalewall.measure.registry import (
    _MIGRATIONS,
    APPLICATION_ID,
    SCHEMA_VERSION,
    default_registry_path,
)
from scalewall.measure.stress import stress_registry


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_path_follows_scalewall_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALEWALL_HOME", str(tmp_path / "home"))
    assert default_registry_path() == tmp_path / "home" / "registry.db"
    with open_registry() as reg:
        assert reg.path == tmp_path / "home" / "registry.db"
    monkeypatch.delenv("SCALEWALL_HOME")
    assert default_registry_path().name == "registry.db"
    assert default_registry_path().parent.name == ".scalewall"


def test_new_registry_is_wal_versioned_and_marked(tmp_path):
    with open_registry(tmp_path / "r.db") as reg:
        con = reg._con
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert reg.schema_version == SCHEMA_VERSION
        assert reg.check()["ok"]
        assert reg.check()["schema_versions"] == list(range(1, SCHEMA_VERSION + 1))


def test_round_trip_show_export_delete(tmp_path):
    with open_registry(tmp_path / "r.db") as reg:
        rid = reg.add_run(kind="train", name="t", hardware="h200-sxm",
                          config={"seq_len": 8, "nan": float("nan")},
                          summary={"step_s": 0.5},
                          steps=[{"step": i, "duration_s": 0.5, "n_tokens": 16.0}
                                 for i in range(3)],
                          gemm_samples=[])
        run = reg.get_run(rid)
        assert run["config"] == {"seq_len": 8, "nan": None}
        assert [s["step"] for s in run["steps"]] == [0, 1, 2]
        assert reg.get_run("last")["id"] == rid
        assert reg.get_run(run["uid"])["id"] == rid
        assert len(reg.export()["runs"]) == 1
        reg.delete_run(rid)
        assert reg.list_runs() == []
        # steps went with the run (ON DELETE CASCADE)
        assert reg._con.execute("SELECT count(*) FROM steps").fetchone()[0] == 0
        with pytest.raises(RegistryError, match="no run '99'"):
            reg.get_run(99)
        with pytest.raises(RegistryError, match="run kind must be one of"):
            reg.add_run(kind="bogus")


def test_failed_write_rolls_back(tmp_path):
    with open_registry(tmp_path / "r.db") as reg:
        with pytest.raises(sqlite3.IntegrityError):
            # the second step repeats step 0: the whole run must go, not just the step
            reg.add_run(kind="train", uid="dup",
                        steps=[{"step": 0, "duration_s": 1.0}, {"step": 0, "duration_s": 1.0}])
        assert reg.list_runs() == []


def test_migrates_an_old_schema(tmp_path):
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    for sql in _MIGRATIONS[0][1]:
        con.execute(sql)
    con.execute("INSERT INTO schema_version VALUES (1, 'then', 'v1')")
    con.execute("INSERT INTO runs (uid, kind, created_at) VALUES ('old', 'train', 'then')")
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    with open_registry(path) as reg:
        assert reg.schema_version == SCHEMA_VERSION
        assert reg.get_run("old")["kind"] == "train"  # data kept
        assert reg.list_calibrations() == []  # table from migration 2
        assert reg.check()["ok"]


def test_refuses_a_newer_schema_untouched(tmp_path):
    path = tmp_path / "new.db"
    open_registry(path).close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    before = _digest(path)
    with pytest.raises(RegistryRefused, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        open_registry(path)
    assert _digest(path) == before


@pytest.mark.parametrize("content", [b"hello, this is my thesis\n" * 20, b"x"])
def test_refuses_a_file_that_is_not_sqlite_untouched(tmp_path, content):
    path = tmp_path / "registry.db"
    path.write_bytes(content)
    with pytest.raises(RegistryRefused, match="not an SQLite database"):
        open_registry(path)
    assert path.read_bytes() == content


def test_refuses_another_programs_database_untouched(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE customers (name TEXT)")
    con.execute("INSERT INTO customers VALUES ('ada')")
    con.commit()
    con.close()
    before = _digest(path)
    with pytest.raises(RegistryRefused, match="did not create"):
        open_registry(path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA application_id = 42")
    con.commit()
    con.close()
    before = _digest(path)
    with pytest.raises(RegistryRefused, match="another program"):
        open_registry(path)
    assert _digest(path) == before
    assert not (tmp_path / "other.db-wal").exists()


def test_calibrations_store_and_list(tmp_path):
    with open_registry(tmp_path / "r.db") as reg:
        reg.save_calibration("h200", hardware="h200-sxm", precision="bf16",
                             params={"matmul_efficiency": 0.7}, source_runs=[1])
        reg.save_calibration("h200", hardware="h200-sxm", precision="bf16",
                             params={"matmul_efficiency": 0.72}, source_runs=[1, 2])
        assert reg.get_calibration("h200")["params"]["matmul_efficiency"] == 0.72
        assert [c["name"] for c in reg.list_calibrations()] == ["h200"]
        with pytest.raises(RegistryError, match="known: h200"):
            reg.get_calibration("h100")


def test_eight_writers_lose_nothing_and_a_killed_writer_leaves_it_consistent(tmp_path):
    """8 processes x 500 writes while a ninth is SIGKILLed inside a large transaction."""
    result = stress_registry(tmp_path / "stress.db", n_procs=8, n_writes=500, kill=True)
    print(result)  # figures for the report (pytest -s)
    assert result["killed"]
    assert result["failed_writers"] == 0
    assert result["writes"] == 4000
    assert result["lost"] == 0
    assert result["consistent"]
