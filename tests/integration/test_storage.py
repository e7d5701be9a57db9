"""Storage in databases (issue 17): --format sqlite and --format
postgresql keep the logger's promise: every reading once, nothing lost
when the sink is killed or the database restarts.

Real mosquitto, real programs, a real SQLite file, a real PostgreSQL 15
(tests/rig/pg.py: initdb into the test's directory under build/, a free
127.0.0.1 port, run as the unprivileged user `postgres` when we are root,
stopped by PID). Each test prints its figures (pytest -s) and keeps them in
$PITEMP_BUILD/test-tmp/<test>/figures.txt.
"""

import re
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from conftest import REPO, bounded_polls, parse_summary, sensor_argv, sink_argv
from faults import figure, kill9, wait_for_count

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rig"))

SUBSCRIBED = r"pitemp-sink: info: subscribed to "
CONNECTED = r"pitemp-sensor: info: connected to "


class SqliteRows:
    """Rows of an SQLite output, read as another process would."""

    def __init__(self, path):
        self.path = path

    def query(self, sql):
        if not Path(self.path).exists():
            return []
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10) as c:
            return c.execute(sql).fetchall()

    def count(self):
        try:
            return self.query("select count(*) from readings")[0][0] if \
                Path(self.path).exists() else 0
        except sqlite3.OperationalError:
            return 0        # not created yet

    def keys(self):
        return self.query("select device, boot, seq from readings")


def wait_rows(rows, n, timeout, alive=()):
    return wait_for_count(rows.count, n, timeout, alive)


def assert_once(keys, device, n):
    """keys: [(device, boot, seq)]: one device, one boot, seq 0..n-1 once."""
    assert {k[0] for k in keys} == {device}, {k[0] for k in keys}
    assert len({k[1] for k in keys}) == 1
    seqs = [int(k[2]) for k in keys]
    dup = len(seqs) - len(set(seqs))
    missing = sorted(set(range(n)) - set(seqs))
    assert dup == 0 and not missing and len(seqs) == n, (
        f"{len(seqs)} rows, {dup} duplicate, {len(missing)} missing "
        f"(first missing: {missing[:20]})")


def kill_twice(procs, bins, port, fmt, out, rows, sid, device, workdir,
               extra=()):
    """The logger with 2000 QoS 1 readings at 400 Hz, killed -9 at about
    500 and 1200 rows and restarted each time; returns the last sink."""
    def start(name):
        s = procs.start(name, sink_argv(bins, port, "-C", "0", "-i", sid,
                                        "-F", fmt, "-o", out, *extra))
        s.wait_for_line(SUBSCRIBED, timeout=20)
        return s

    sink = start("sink.1")
    sensor = procs.start("sensor", sensor_argv(
        bins, port, "--rate", "400", "-C", "2000", "--device", device))
    sensor.wait_for_line(CONNECTED)
    for k, at in enumerate((500, 1200), start=1):
        assert wait_rows(rows, at, 30, (sink, sensor)) >= at, sink.describe()
        kill9(sink)
        sink = start(f"sink.{k + 1}")
        sink.wait_for_line(r"readings read back for dedup|subscribed to ")
    assert sensor.wait_exit(60) == 0, sensor.describe()
    assert wait_rows(rows, 2000, 30, (sink,)) >= 2000, sink.describe()
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()
    s = parse_summary(sink)
    figure(workdir, f"{fmt} sink kill -9 x2: {rows.count()} rows; last run "
           f"stored={s['stored']} duplicates={s['duplicates']} gaps={s['gaps']}")
    return sink


# --------------------------------------------------------------------------
# SQLite

def test_sqlite_logger_killed_twice_stores_every_reading_once(
        bins, broker, procs, workdir):
    out = workdir / "readings.db"
    rows = SqliteRows(out)
    kill_twice(procs, bins, broker.port, "sqlite", out, rows, "storage-sq-kill",
               "sq-kill", workdir)
    assert_once(rows.keys(), "sq-kill", 2000)
    # The table the issue asks for, in the write-ahead-log mode.
    cols = [r[1] for r in rows.query("pragma table_info(readings)")]
    assert cols == ["device", "boot", "seq", "ts", "temp_c", "mv", "raw", "recv_ts"]
    assert rows.query("pragma journal_mode") == [("wal",)]
    ts, recv = rows.query("select ts, recv_ts from readings limit 1")[0]
    assert ts.endswith("Z") and recv.endswith("Z") and recv >= ts


def test_sqlite_count_n_stores_n_and_exits_0(bins, broker, procs, workdir):
    out = workdir / "n.db"
    sink = procs.start("sink", sink_argv(bins, broker.port, "-C", "300", "-F",
                                         "sqlite", "-o", out, "-W", "60"))
    sink.wait_for_line(SUBSCRIBED)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "0", "-C", "300", "--device", "sq-n"))
    assert sensor.wait_exit(30) == 0, sensor.describe()
    assert sink.wait_exit(30) == 0, sink.describe()
    rows = SqliteRows(out)
    assert_once(rows.keys(), "sq-n", 300)
    assert parse_summary(sink)["stored"] == "300"
    # README's two queries, as printed there, on what the sink wrote.
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```sql\n(.*?)```", readme, re.S)
    assert block, "README.md: no sql block"
    per_minute, last = [q.strip() for q in block[1].split(";") if q.strip()]
    means = rows.query(per_minute)
    assert means and {d for d, _, _ in means} == {"sq-n"}
    assert all(-40 <= m <= 125 for _, _, m in means)
    ((device, ts, temp),) = rows.query(last)
    assert device == "sq-n" and ts == max(r[0] for r in rows.query(
        "select ts from readings")) and -40 <= temp <= 125


def test_sqlite_locked_by_another_writer_is_waited_out(bins, broker, procs,
                                                      workdir):
    """Another program holds SQLite's write lock for a while: the sink says
    so once, takes no reading meanwhile, and goes on once it is free."""
    out = workdir / "busy.db"
    sink = procs.start("sink", sink_argv(bins, broker.port, "-C", "0", "-i",
                                         "storage-sq-busy", "-F", "sqlite", "-o", out))
    sink.wait_for_line(SUBSCRIBED)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "200", "-C", "600", "--device", "sq-busy"))
    rows = SqliteRows(out)
    assert wait_rows(rows, 100, 30, (sink, sensor)) >= 100
    other = sqlite3.connect(out, isolation_level=None, timeout=10)
    try:
        other.execute("BEGIN EXCLUSIVE")
        sink.wait_for_line(r"cannot store in .*: Device or resource busy; taking "
                           r"no more readings", timeout=30)
        held = other.execute("select count(*) from readings").fetchone()[0]
    finally:
        other.execute("COMMIT")
        other.close()
    sink.wait_for_line(r"takes readings again after", timeout=30)
    assert sensor.wait_exit(30) == 0, sensor.describe()
    assert wait_rows(rows, 600, 30, (sink,)) >= 600, sink.describe()
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()
    assert_once(rows.keys(), "sq-busy", 600)
    busy = [l for l in sink.stderr_lines() if "resource busy" in l]
    assert len(busy) == 1, busy
    figure(workdir, f"sqlite locked by another writer at {held} rows: waited, 600 once")


# --------------------------------------------------------------------------
# PostgreSQL

@pytest.fixture(scope="module")
def pg_server(request):
    """One PostgreSQL server for this module's tests (each test makes its
    own database); initdb under build/test-tmp/, stopped by PID."""
    from conftest import BUILD
    from pg import PgServer, pg_bindir
    if pg_bindir() is None:
        pytest.fail("no PostgreSQL server binaries: make deps installs postgresql")
    base = BUILD / "test-tmp" / "pg-server"
    import shutil
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    srv = PgServer(base).init().start()
    yield srv
    srv.stop()


class PgRows:
    def __init__(self, srv, db):
        self.srv, self.db = srv, db

    def count(self):
        out = self.srv.psql(self.db, "select count(*) from readings", check=False)
        return int(out) if out.isdigit() else 0

    def keys(self):
        out = self.srv.psql(self.db, "select device, boot, seq from readings")
        return [tuple(l.split("|")) for l in out.splitlines()]


def test_postgresql_logger_killed_twice_stores_every_reading_once(
        bins, broker, procs, workdir, pg_server):
    uri = pg_server.create_db("kill2")
    rows = PgRows(pg_server, "kill2")
    kill_twice(procs, bins, broker.port, "postgresql", uri, rows,
               "storage-pg-kill", "pg-kill", workdir)
    assert_once(rows.keys(), "pg-kill", 2000)
    # The journal is empty and gone once everything is in.
    assert not list(workdir.glob(".*.journal")), list(workdir.glob(".*.journal/*"))
    types = pg_server.psql("kill2", "select string_agg(column_name || ' ' || data_type, ', '"
                           " order by ordinal_position) from information_schema.columns"
                           " where table_name = 'readings'")
    assert "ts timestamp with time zone" in types and \
        "recv_ts timestamp with time zone" in types, types


def test_postgresql_restart_mid_stream_loses_nothing(
        bins, broker, procs, workdir, pg_server):
    """A fast shutdown of the database while 2000 readings flow: the sink
    keeps acknowledging into its journal, says the database is away,
    reconnects when it is back and sends what waited."""
    uri = pg_server.create_db("restart")
    rows = PgRows(pg_server, "restart")
    sink = procs.start("sink", sink_argv(bins, broker.port, "-C", "0", "-i",
                                         "storage-pg-restart", "-F", "postgresql",
                                         "-o", uri))
    sink.wait_for_line(SUBSCRIBED)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "400", "-C", "2000", "--device", "pg-restart"))
    sensor.wait_for_line(CONNECTED)
    assert wait_rows(rows, 400, 30, (sink, sensor)) >= 400
    pg_server.stop(signal.SIGINT)           # fast shutdown
    sink.wait_for_line(r"readings wait in the journal", timeout=30)
    # Readings keep being taken (into the journal) while the database is down.
    before = len(sink.stderr_lines())
    journaled = 0
    for _ in bounded_polls(20):
        journaled = sum(p.read_bytes().count(b"\n")
                        for p in workdir.glob(".storage-pg-restart.journal/*.seg"))
        if journaled >= 200:
            break
    assert journaled >= 200, journaled
    pg_server.start()
    sink.wait_for_line(r": back after ", timeout=60)
    assert sensor.wait_exit(60) == 0, sensor.describe()
    assert wait_rows(rows, 2000, 60, (sink,)) >= 2000, sink.describe()
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()
    assert_once(rows.keys(), "pg-restart", 2000)
    s = parse_summary(sink)
    assert s["stored"] == "2000" and s["gaps"] == "0", s
    away = [l for l in sink.stderr_lines() if "wait in the journal" in l]
    assert len(away) == 1, away         # said once, not per retry
    figure(workdir, f"postgresql fast restart mid-stream: {rows.count()} rows, "
           f"{len(sink.stderr_lines()) - before} log lines while it was away")


def test_postgresql_count_n_waits_for_the_commit_then_exits_0(
        bins, broker, procs, workdir, pg_server):
    uri = pg_server.create_db("countn")
    sink = procs.start("sink", sink_argv(bins, broker.port, "-C", "500", "-F",
                                         "postgresql", "-o", uri, "-W", "60"))
    sink.wait_for_line(SUBSCRIBED)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "0", "-C", "500", "--device", "pg-n"))
    assert sensor.wait_exit(30) == 0, sensor.describe()
    assert sink.wait_exit(30) == 0, sink.describe()
    # Exit 0 means every one is committed: nothing to wait for here.
    assert_once(PgRows(pg_server, "countn").keys(), "pg-n", 500)


@pytest.mark.parametrize("uri", ["postgresql://x@host:notaport/db",
                                 "postgresql://x@host/db?nosuchoption=1"])
def test_postgresql_bad_uri_is_a_usage_error(bins, procs, uri):
    sink = procs.run("sink", [bins["sink"], "-F", "postgresql", "-o", uri])
    assert sink.returncode == 2, sink.describe()
    assert "option --output" in sink.stderr(), sink.describe()
