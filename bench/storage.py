#!/usr/bin/python3
"""bench/storage.py: how many readings per second does pitemp-sink store as
a logger (-C 0, the path that keeps the promise), per output format?

One mosquitto per run on a free loopback port (the shipped dev profile,
as bench/fleet.py starts it); for postgresql one throwaway PostgreSQL 15
for the whole script (tests/rig/pg.py: initdb under build/, a free port,
default settings: fsync on, synchronous_commit on), a new database per
run. The sink runs with its state (journal, paho's files) under build/.
Three measurements, each optional:

  drain  The sink's own capacity: its persistent session is made, the sink
         stopped, N readings published into the broker's queue for it
         (4 pitemp-sensor --rate 0, QoS 1), then the logger started and
         timed until the store holds all N (rows counted by polling the
         file or the database); the sink's CPU from os.wait4.
  fleet  pitemp-bench --sensors N --rate 100 -q 1 (QoS 1, one connection
         per sensor) for --duration S into the logger: the rate it sent,
         the rate the store held (rows over first send -> last row), how
         long the sink needed after the bench stopped, CPU of broker and
         sink; then the store checked per device (seq 0..k-1 once, and no
         fewer rows than the bench had acknowledged). Several N: --fleet
         100,200,300.
  catch-up (postgresql only) The database's side alone: PostgreSQL is
         stopped, the logger takes N readings into its journal (4
         pitemp-sensor --rate 0), PostgreSQL is started again, and the time
         from "back" to all N rows committed is taken: the rate the writer
         thread commits at, in batches, with nothing else to do.
  per-commit (postgresql only) pgbench, one client, one single-row INSERT
         ... ON CONFLICT DO NOTHING per transaction into the same table:
         what a commit per reading in the message callback could reach,
         with synchronous_commit on and off.

    /usr/bin/python3 bench/storage.py [--formats csv,sqlite,postgresql]
        [--drain N] [--fleet N,N,...] [--duration S] [--sync normal|full]
        [--catch-up N] [--per-commit] [--broker dev|fast]

A benchmark: it prints figures and asserts nothing (exit 1 only when a run
could not be made, or a store lost or doubled a reading).
"""
import argparse, glob, json, os, shutil, signal, sqlite3, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "rig"))
import fleet  # noqa: E402  (broker start, bench run, CPU of a pid)
import pg as pg_mod  # noqa: E402

BUILD = os.environ.get("PITEMP_BUILD", os.path.join(TOP, "build"))
BIN = os.path.join(BUILD, "bin")
ROOT = os.path.join(BUILD, "bench-storage")

ap = argparse.ArgumentParser(description="pitemp-sink storage rate per format")
ap.add_argument("--formats", default="csv,sqlite,postgresql")
ap.add_argument("--drain", type=int, default=40000, help="readings queued for the drain run (0: skip)")
ap.add_argument("--fleet", default="", help="pitemp-bench sensor counts at 100 Hz, e.g. 100,300")
ap.add_argument("--duration", type=float, default=10, help="fleet: seconds of sending (default 10)")
ap.add_argument("--sync", choices=("normal", "full"), help="the sink's --sync (default: its own)")
ap.add_argument("--per-commit", action="store_true", help="pgbench: a commit per reading")
ap.add_argument("--catch-up", type=int, default=0, help="postgresql: N readings journaled, then committed")
ap.add_argument("--broker", choices=("dev", "fast"), default="dev",
                help="dev: the shipped profile as bench/fleet.py runs it (persistence, autosave "
                     "every change); fast: no persistence (the broker out of the way)")
args = ap.parse_args()
FORMATS = [f for f in args.formats.split(",") if f]
PUBLISHERS = 4


def log(msg):
    print(msg, flush=True)


class Store:
    """The output of one run and a way to count and check what it holds."""

    def __init__(self, fmt, d, pg, name):
        self.fmt, self.pg, self.db = fmt, pg, name
        if fmt == "postgresql":
            self.out = pg.create_db(name)
        else:
            self.out = os.path.join(d, name + {"sqlite": ".db", "csv": ".csv"}.get(fmt, ".txt"))

    def _sql(self, q):
        if self.fmt == "sqlite":
            with sqlite3.connect(f"file:{self.out}?mode=ro", uri=True, timeout=10) as c:
                return [tuple(str(x) for x in r) for r in c.execute(q).fetchall()]
        return [tuple(l.split("|")) for l in self.pg.psql(self.db, q).splitlines()]

    def rows(self):
        try:
            if self.fmt in ("sqlite", "postgresql"):
                return int(self._sql("select count(*) from readings")[0][0])
            with open(self.out, "rb") as f:
                return sum(1 for line in f) - 1       # the header
        except (OSError, sqlite3.Error, RuntimeError, ValueError, IndexError):
            return 0

    def per_device(self):
        """{device: (rows, distinct seqs, max seq + 1)}"""
        if self.fmt in ("sqlite", "postgresql"):
            q = ("select device, count(*), count(distinct seq), max(seq) + 1 "
                 "from readings group by device")
            return {r[0]: tuple(int(x) for x in r[1:]) for r in self._sql(q)}
        seqs = {}
        with open(self.out) as f:
            next(f)
            for line in f:
                if self.fmt == "csv":
                    dev, _, seq = line.split(",")[:3]
                else:                   # text: seq ts device temp_c
                    seq, _, dev = line.split()[:3]
                seqs.setdefault(dev, []).append(int(seq))
        return {d: (len(s), len(set(s)), max(s) + 1) for d, s in seqs.items()}


def start_broker(d, n):
    if args.broker == "dev":
        return fleet.start_broker(d, n)
    return fleet.broker_mod.start(
        d, "persistence false\nmax_queued_messages 0\nmax_inflight_messages 100\n"
        "max_connections -1\nlog_dest stderr\nlog_type error\nlog_type warning\n",
        log=os.path.join(d, "mosquitto.log"), nofile=n + 256)


def publish(port, n, tag):
    """n readings from PUBLISHERS pitemp-sensor --rate 0; True when all
    were acknowledged."""
    pubs = [subprocess.Popen([os.path.join(BIN, "pitemp-sensor"), "-h", "127.0.0.1",
                              "-p", str(port), "--rate", "0", "-C", str(n // PUBLISHERS),
                              "--device", f"{tag}{j}"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for j in range(PUBLISHERS)]
    return all(p.wait(600) == 0 for p in pubs)


def sink_argv(port, store, cid, d):
    a = [os.path.join(BIN, "pitemp-sink"), "-h", "127.0.0.1", "-p", str(port), "-C", "0",
         "-c", "-i", cid, "-F", store.fmt, "-o", store.out, "--state-dir", d]
    return a + (["--sync", args.sync] if args.sync else [])


def start_sink(argv, d, name):
    err = os.path.join(d, name + ".err")
    with open(err, "w") as e:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=e, cwd=d)
    if fleet.wait_line(err, "subscribed to", p, 20) is None:
        fleet.stop(p)
        raise RuntimeError(f"pitemp-sink did not subscribe: see {err}")
    return p


def reap(p):
    """Wait for a child we started; its CPU seconds (os.wait4)."""
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return ru.ru_utime + ru.ru_stime


def wait_rows(store, n, proc, timeout, stall=None):
    """Poll until the store holds n rows; or it has not grown for `stall`
    s; or timeout. (rows, time of the last growth)."""
    got, last, t_last = 0, -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = store.rows()
        if got != last:
            last, t_last = got, time.monotonic()
        if got >= n or proc.poll() is not None:
            break
        if stall is not None and time.monotonic() - t_last > stall:
            break
        # count(*) is a scan: ask a database less often, it competes.
        time.sleep(0.05 if store.fmt in ("text", "csv") else 0.25)
    return got, t_last


def drain_run(fmt, root, pg, k):
    d = os.path.join(root, f"drain-{fmt}-{k}")
    os.makedirs(d)
    n = args.drain
    b, port = start_broker(d, 16)
    try:
        store = Store(fmt, d, pg, f"drain_{fmt}_{k}")
        cid = f"bench-drain-{fmt}"
        fleet.stop(start_sink(sink_argv(port, store, cid, d), d, "sink0"))
        if not publish(port, n, "drain"):
            return None, "a publisher failed"
        n = n // PUBLISHERS * PUBLISHERS
        c0p = pg_cpu(pg) if pg is not None else 0
        t0 = time.monotonic()
        sink = start_sink(sink_argv(port, store, cid, d), d, "sink")
        got, t1 = wait_rows(store, n, sink, 60 + n / 500)
        c1p = pg_cpu(pg) if pg is not None else 0
        sink.send_signal(signal.SIGTERM)
        cpu = reap(sink)
        per = store.per_device()
        bad = sum(r - dist + (m - dist) for r, dist, m in per.values())
        if got != n or bad:
            return None, f"{got} rows of {n}, {bad} lost or doubled; see {d}"
        r = {"n": n, "wall": t1 - t0, "cpu": cpu, "pg_cpu": c1p - c0p}
        if fmt == "postgresql":
            # Commits the sink made, from the server's statistics (they
            # lag by up to a second: wait for them to settle).
            time.sleep(1.5)
            r["commits"] = int(pg.psql(store.db, "select xact_commit from pg_stat_database"
                                       " where datname = current_database()"))
        return r, None
    finally:
        fleet.stop(b)


def fleet_run(fmt, root, pg, n):
    d = os.path.join(root, f"fleet-{fmt}-n{n}")
    os.makedirs(d)
    b, port = start_broker(d, n)
    sink = None
    try:
        store = Store(fmt, d, pg, f"fleet_{fmt}_{n}")
        sink = start_sink(sink_argv(port, store, f"bench-fleet-{fmt}", d), d, "sink")
        marks = {}

        def watch(what):
            marks[what] = (time.monotonic(), fleet.cpu_s(b.pid), fleet.cpu_s(sink.pid))
        rc, res, err = fleet.run_bench(d, port, n, 1, args.duration, watch)
        if res is None:
            return None, err
        got, t3 = wait_rows(store, res["sent"], sink, fleet.CATCH_UP_S, stall=5)
        c3b, c3s = fleet.cpu_s(b.pid), fleet.cpu_s(sink.pid)
        t1, c1b, c1s = marks["connected"]
        t2 = marks["done"][0]
        span = max(t3, t2) - t1
        per = store.per_device()
        lost = sum(max(0, m - dist) for _, dist, m in per.values())
        dup = sum(r - dist for r, dist, _ in per.values())
        row = {"n": n, "sent": res["sent"], "acked": res["acked"], "rows": got,
               "offered": res["sent"] / res["send_s"] if res["send_s"] else 0,
               "held": got / (t3 - t1) if t3 > t1 else 0, "lag": max(0.0, t3 - t2),
               "behind": res["behind"], "lost": lost, "dup": dup,
               "broker_cpu": 100 * (c3b - c1b) / span, "sink_cpu": 100 * (c3s - c1s) / span,
               "bench_cpu": res.get("send_cpu_pct"), "bench_rc": rc}
        if dup or lost or got < res["acked"]:
            return row, f"{got} rows for {res['acked']} acknowledged, {lost} lost, {dup} doubled"
        return row, None
    finally:
        fleet.stop(sink)
        fleet.stop(b)


def pg_cpu(pg):
    """CPU seconds of the PostgreSQL server: the postmaster and its
    children (backends, WAL writer, checkpointer)."""
    total = 0.0
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.split("/")[2])
        if pid == pg.proc.pid or int(fields[1]) == pg.proc.pid:
            total += (int(fields[11]) + int(fields[12])) / fleet.CLK_TCK
    return total


def catch_up(root, pg):
    d = os.path.join(root, "catch-up")
    os.makedirs(d)
    n = args.catch_up // PUBLISHERS * PUBLISHERS
    b, port = start_broker(d, 16)
    sink = None
    try:
        store = Store("postgresql", d, pg, "catch_up")
        sink = start_sink(sink_argv(port, store, "bench-catch-up", d), d, "sink")
        pg.stop()
        if not publish(port, n, "cu"):
            return None, "a publisher failed"
        # All n are in the journal once the sink's summary-less wait ends:
        # the journal's files hold n lines.
        jdir = os.path.join(d, ".bench-catch-up.journal")
        for _ in range(6000):
            lines = 0
            for seg in glob.glob(os.path.join(jdir, "*.seg")):
                with open(seg, "rb") as f:
                    lines += f.read().count(b"\n")
            if lines >= n:
                break
            time.sleep(0.05)
        pg.start()
        err = os.path.join(d, "sink.err")
        # From the reconnect on (its backoff is up to 10 s, not the point).
        if fleet.wait_line(err, ": back after", sink, 60) is None:
            return None, f"the sink did not reconnect: see {err}"
        t0, c0s, c0p = time.monotonic(), fleet.cpu_s(sink.pid), pg_cpu(pg)
        got, t1 = wait_rows(store, n, sink, 120 + n / 1000)
        c1s, c1p = fleet.cpu_s(sink.pid), pg_cpu(pg)
        if got != n:
            return None, f"{got} rows of {n}"
        return {"n": n, "wall": t1 - t0, "sink_cpu": c1s - c0s, "pg_cpu": c1p - c0p}, None
    finally:
        fleet.stop(sink)
        fleet.stop(b)
        if not pg.running():
            pg.start()


def per_commit(root, pg):
    out = []
    script = os.path.join(root, "insert.sql")
    with open(script, "w") as f:
        f.write("\\set s random(1, 2000000000)\n"
                "INSERT INTO readings VALUES ('bench0001', '5f0c2a9e41d3b7a8', :s, now(),"
                " 22.53, 725.3, 225, now()) ON CONFLICT DO NOTHING;\n")
    os.chmod(script, 0o644)
    for sc in ("on", "off"):
        db = f"commit_{sc}"
        pg.create_db(db)
        pg.psql(db, "CREATE TABLE readings (device text NOT NULL, boot text NOT NULL,"
                " seq bigint NOT NULL, ts timestamptz NOT NULL, temp_c double precision"
                " NOT NULL, mv double precision, raw integer, recv_ts timestamptz NOT NULL,"
                " PRIMARY KEY (device, boot, seq)); CREATE INDEX ON readings (ts)")
        r = subprocess.run([os.path.join(pg.bindir, "pgbench"), "-n", "-h", "127.0.0.1",
                            "-p", str(pg.port), "-U", pg_mod.SUPERUSER, "-c", "1", "-T", "8",
                            "-f", script, db], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, PGOPTIONS=f"-c synchronous_commit={sc}"))
        tps = [l for l in r.stdout.splitlines() if l.startswith("tps")]
        out.append((sc, tps[0].split()[2] if tps else "?"))
    return out


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT)
    os.chmod(ROOT, 0o755)       # PostgreSQL runs as another user when we are root
    failed = []
    pg = None
    try:
        if "postgresql" in FORMATS:
            pg = pg_mod.PgServer(ROOT).init().start()
        log(f"load average at start: {fleet.loadavg()}")
        for fmt in FORMATS:
            if args.drain:
                r, why = drain_run(fmt, ROOT, pg, 0)
                if r is None:
                    failed.append(f"{fmt} drain: {why}")
                    log(f"{fmt:<11} drain  FAILED: {why}")
                else:
                    log(f"{fmt:<11} drain  {r['n']} readings in {r['wall']:.2f} s: "
                        f"{r['n'] / r['wall']:.0f} readings/s; sink CPU {r['cpu']:.2f} s "
                        f"({r['cpu'] / r['n'] * 1e6:.1f} us/reading)"
                        + (f"; PostgreSQL CPU {r['pg_cpu']:.2f} s "
                           f"({r['pg_cpu'] / r['n'] * 1e6:.1f} us/reading), "
                           f"~{r['commits']} transactions" if "commits" in r else ""))
            for n in [int(x) for x in args.fleet.split(",") if x]:
                r, why = fleet_run(fmt, ROOT, pg, n)
                if r is not None:
                    log(f"{fmt:<11} fleet  {n} x 100 Hz QoS 1: offered {r['offered']:.0f}/s "
                        f"(bench behind {r['behind']}), store held {r['held']:.0f}/s, "
                        f"{r['rows']} rows for {r['acked']} acked ({r['sent']} sent), "
                        f"lag {r['lag']:.1f} s, lost {r['lost']}, doubled {r['dup']}; "
                        f"CPU broker {r['broker_cpu']:.0f}% sink {r['sink_cpu']:.0f}% "
                        f"bench {r['bench_cpu'] or 0:.0f}%")
                if why:
                    failed.append(f"{fmt} fleet {n}: {why}")
                    log(f"{fmt:<11} fleet  {n}: FAILED: {why}")
        if args.catch_up and pg is not None:
            r, why = catch_up(ROOT, pg)
            if r is None:
                failed.append(f"catch-up: {why}")
                log(f"postgresql  catch-up FAILED: {why}")
            else:
                log(f"postgresql  catch-up {r['n']} journaled readings committed in "
                    f"{r['wall']:.2f} s after the database came back: "
                    f"{r['n'] / r['wall']:.0f} readings/s; CPU sink {r['sink_cpu']:.2f} s "
                    f"({r['sink_cpu'] / r['n'] * 1e6:.1f} us/reading), PostgreSQL "
                    f"{r['pg_cpu']:.2f} s ({r['pg_cpu'] / r['n'] * 1e6:.1f} us/reading)")
        if args.per_commit and pg is not None:
            for sc, tps in per_commit(ROOT, pg):
                log(f"pgbench: a commit per reading, synchronous_commit {sc}: {tps} tps")
        log(f"load average at end: {fleet.loadavg()}")
    finally:
        if pg is not None:
            pg.stop()
    log(f"{os.cpu_count()} CPUs; broker profile {args.broker}; sink --sync "
        f"{args.sync or 'default'}; raw files in {ROOT}")
    for f in failed:
        log(f"FAILED: {f}")
    return 1 if failed else 0


sys.exit(main())
