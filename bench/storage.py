#!/usr/bin/python3
"""bench/storage.py: how many readings per second does pitemp-sink store,
per output format, as a logger (-C 0: the path that keeps the promise)?

One mosquitto on a free loopback port (generated config: no persistence,
no queue limit, max_inflight_messages 100 as in the shipped profile); for
postgresql a throwaway PostgreSQL 15 (tests/rig/pg.py: initdb under the
work directory, a free port, default settings: synchronous_commit on,
fsync on). Two measurements per format:

  drain  The sink's own capacity. Its persistent session is created, the
         sink stopped, N readings published into the broker's queue for it
         (K pitemp-sensor --rate 0, QoS 1), then the logger started: time
         from its start until the store holds all N (rows counted by
         polling the file / the database), CPU of the sink (os.wait4).
  live   The fleet: the logger running, K pitemp-sensor --rate 0 --count
         N/K (QoS 1, one connection each) started together: time from
         their start until the store holds all N; the rate is what the
         sink kept up with while everything shares the 2 CPUs. With
         --bench (and build/bin/pitemp-bench present) the fleet is
         pitemp-bench --sensors K --rate HZ --qos 1 --duration S instead.

    /usr/bin/python3 bench/storage.py [--formats text,sqlite,postgresql]
        [--count N] [--sensors K] [--mode drain,live] [--sync normal|full]
        [--bench --rate HZ --duration S]

A benchmark: it prints figures and asserts nothing (exit 1 only when a
run did not store all its readings, or stored one twice).
"""
import argparse, os, shutil, signal, sqlite3, subprocess, sys, tempfile, time

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(here)
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(top, "tests", "rig"))
import broker as broker_mod  # noqa: E402
import pg as pg_mod  # noqa: E402

bindir = os.path.join(os.environ.get("PITEMP_BUILD", os.path.join(top, "build")), "bin")

ap = argparse.ArgumentParser(description="pitemp-sink storage rate per format")
ap.add_argument("--formats", default="text,sqlite,postgresql")
ap.add_argument("--mode", default="drain,live")
ap.add_argument("--count", type=int, default=60000, help="readings per run (default 60000)")
ap.add_argument("--sensors", type=int, default=4, help="publishers (default 4)")
ap.add_argument("--sync", choices=("normal", "full"), help="the sink's --sync (default: its own)")
ap.add_argument("--bench", action="store_true", help="live: use pitemp-bench for the fleet")
ap.add_argument("--rate", type=float, default=1000, help="--bench: Hz per sensor (default 1000)")
ap.add_argument("--duration", type=float, default=20, help="--bench: seconds (default 20)")
args = ap.parse_args()
FORMATS = args.formats.split(",")
MODES = args.mode.split(",")
N, K = args.count, args.sensors
TIMEOUT = 60 + N / 2000.0


class Child:
    """A process of ours, reaped with os.wait4 for its CPU time."""

    def __init__(self, argv, log):
        with open(log, "w") as err:
            self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=err)
        self.log, self.rc, self.cpu = log, None, None

    def poll(self):
        if self.rc is None:
            pid, status, ru = os.wait4(self.p.pid, os.WNOHANG)
            if pid:
                self.rc = os.waitstatus_to_exitcode(status)
                self.cpu = ru.ru_utime + ru.ru_stime
                self.p.returncode = self.rc
        return self.rc

    def wait(self, timeout):
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.rc is None:
            self.p.kill()
            while self.poll() is None:
                time.sleep(0.01)
            return None
        return self.rc

    def stop(self, timeout=30):
        if self.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait_line(self, text, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log, errors="replace") as f:
                if text in f.read():
                    return True
            if self.poll() is not None:
                return False
            time.sleep(0.02)
        return False


class Store:
    """The output of one run and a way to count what it holds."""

    def __init__(self, fmt, d, pg, name):
        self.fmt = fmt
        if fmt == "postgresql":
            self.db = name
            self.out = pg.create_db(name)
        else:
            self.out = os.path.join(d, name + (".db" if fmt == "sqlite" else ".txt"))
        self.pg = pg

    def rows(self):
        try:
            if self.fmt == "sqlite":
                with sqlite3.connect(f"file:{self.out}?mode=ro", uri=True, timeout=5) as c:
                    return c.execute("select count(*) from readings").fetchone()[0]
            if self.fmt == "postgresql":
                return int(self.pg.psql(self.db, "select count(*) from readings", check=False) or 0)
            with open(self.out, "rb") as f:
                return sum(1 for line in f if not line.startswith(b"#"))
        except (OSError, sqlite3.Error, ValueError):
            return 0

    def distinct(self):
        if self.fmt == "sqlite":
            with sqlite3.connect(f"file:{self.out}?mode=ro", uri=True) as c:
                return c.execute("select count(*) from (select distinct device, boot, seq"
                                 " from readings)").fetchone()[0]
        if self.fmt == "postgresql":
            return int(self.pg.psql(self.db, "select count(*) from (select distinct device,"
                                    " boot, seq from readings) x"))
        with open(self.out) as f:
            return len({tuple(l.split()[:3:2]) for l in f if not l.startswith("#")})


def sink_argv(port, store, cid, d):
    a = [f"{bindir}/pitemp-sink", "-h", "127.0.0.1", "-p", str(port), "-C", "0", "-c",
         "-i", cid, "-F", store.fmt, "-o", store.out, "--state-dir", d]
    if args.sync:
        a += ["--sync", args.sync]
    return a


def sensors(port, d, tag, n):
    per = n // K
    return [Child([f"{bindir}/pitemp-sensor", "-h", "127.0.0.1", "-p", str(port), "--rate", "0",
                   "-C", str(per + (1 if k < n % K else 0)), "-q", "1",
                   "--device", f"{tag}{k:04d}", "-i", f"{tag}-s{k}"],
                  os.path.join(d, f"{tag}-sensor{k}.log")) for k in range(K)]


def wait_rows(store, n, procs=()):
    deadline = time.monotonic() + TIMEOUT
    got = 0
    while time.monotonic() < deadline:
        got = store.rows()
        if got >= n:
            return got, time.monotonic()
        if any(p.poll() not in (None, 0) for p in procs):
            break
        time.sleep(0.1)
    return got, time.monotonic()


def run(fmt, mode, d, port, pg, k):
    tag = f"{mode[0]}{fmt[0]}{k}"
    store = Store(fmt, d, pg, f"bench_{tag}")
    cid = f"bench-sink-{tag}"
    slog = os.path.join(d, f"{tag}-sink.log")
    if mode == "drain":
        s = Child(sink_argv(port, store, cid, d), slog + ".0")
        if not s.wait_line("subscribed to"):
            return None, f"sink did not subscribe: see {slog}.0"
        s.stop()
        pubs = sensors(port, d, tag, N)
        if any(p.wait(TIMEOUT) != 0 for p in pubs):
            return None, "a publisher failed"
        t0 = time.monotonic()
        sink = Child(sink_argv(port, store, cid, d), slog)
        got, t1 = wait_rows(store, N, [sink])
        offered = None
    else:
        sink = Child(sink_argv(port, store, cid, d), slog)
        if not sink.wait_line("subscribed to"):
            return None, "sink did not subscribe"
        t0 = time.monotonic()
        if args.bench:
            n = 0
            pubs = [Child([f"{bindir}/pitemp-bench", "--sensors", str(K), "--rate",
                           str(args.rate), "--qos", "1", "--duration", str(args.duration),
                           "--host", "127.0.0.1", "--port", str(port), "--prefix", tag],
                          os.path.join(d, f"{tag}-bench.log"))]
            pubs[0].wait(args.duration + TIMEOUT)
            n = store.rows()
            time.sleep(2)
            got2 = store.rows()
            while got2 != n:
                n = got2
                time.sleep(2)
                got2 = store.rows()
            got, t1 = n, time.monotonic()
        else:
            pubs = sensors(port, d, tag, N)
            n = N
            got, t1 = wait_rows(store, N, [sink])
        offered = max(p.p.args and 0 for p in pubs)
    sink.stop()
    dup = got - store.distinct()
    want = N if not args.bench or mode == "drain" else got
    if got < want or dup:
        return None, f"{got} rows of {want}, {dup} duplicate; see {slog}"
    return {"n": got, "wall": t1 - t0, "cpu": sink.cpu}, None


def main():
    failed = []
    results = []
    with tempfile.TemporaryDirectory(prefix="pitemp-storage-", dir=os.path.join(top, "build")) as d:
        os.chmod(d, 0o755)      # PostgreSQL runs as another user when we are root
        blog = os.path.join(d, "broker.log")
        broker, port = broker_mod.start(
            d, "persistence false\nmax_queued_messages 0\nmax_inflight_messages 100\n"
            "log_dest stderr\nlog_type error\nlog_type warning\n", blog)
        pg = None
        try:
            if "postgresql" in FORMATS:
                pg = pg_mod.PgServer(d).init().start()
            for fmt in FORMATS:
                for mode in MODES:
                    r, why = run(fmt, mode, d, port, pg, 0)
                    if r is None:
                        failed.append(f"{fmt} {mode}: {why}")
                        print(f"{fmt:<11} {mode:<6} FAILED: {why}", flush=True)
                        continue
                    results.append((fmt, mode, r))
                    print(f"{fmt:<11} {mode:<6} {r['n']:>8} readings in {r['wall']:7.2f} s: "
                          f"{r['n'] / r['wall']:8.0f} readings/s; sink CPU {r['cpu']:.2f} s "
                          f"({r['cpu'] / r['n'] * 1e6:.1f} us/reading)", flush=True)
        finally:
            if pg is not None:
                pg.stop()
            broker_mod.stop(broker)
            if failed:
                keep = os.path.join(top, "build", "bench-storage-failed")
                shutil.rmtree(keep, ignore_errors=True)
                shutil.copytree(d, keep, ignore=shutil.ignore_patterns("data"))
                print(f"logs kept in {keep}")
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                  if l.startswith("model name")), "?")
    print(f"\n{os.cpu_count()} CPUs ({model}); {K} publishers; sink --sync "
          f"{args.sync or 'default'}; QoS 1")
    for f in failed:
        print(f"FAILED: {f}")
    return 1 if failed else 0


sys.exit(main())
