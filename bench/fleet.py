#!/usr/bin/python3
"""bench/fleet.py (`make bench-fleet`): how many sensors do one mosquitto
and one pitemp-sink hold on this machine?

The plan is fixed, so two runs do the same things (the options only narrow
it down):

 1. The generator's own ceiling. pitemp-bench alone against mosquitto (no
    subscriber, so the broker only reads), at 100 Hz, N = 100, 200, 500,
    1000, 2000, QoS 0 then 1, 5 s each, until it cannot keep its schedule
    (sends leaving more than 50 ms late at p99, or readings not sent in
    time). Past that N, a fleet figure is about the load, not the server.
 2. The fleet, in three series that differ only in what waits for the
    disk: "shipped" (the sink's default --sync normal, a write per reading
    and an fsync a second, and the broker as shipped, saving its database
    at every change), "relaxed" (that, and the broker saving every 30 min)
    and "sync-full" (the sink --sync full: an fsync per reading). For each
    series, QoS 0 then 1, N = 10, 20, 50, 100, 200, 500, 1000, 2000: a
    fresh mosquitto (the dev profile, broker-config/mosquitto.dev.conf,
    plus max_connections -1 and an open-file limit raised for N clients),
    `pitemp-sink --count 0 --format csv` subscribed at that QoS, then
    `pitemp-bench --sensors N --rate 100 --duration 10`. After the bench
    exits, the sink gets up to 60 s to hold the last reading; then its file
    is checked per device (bench/fleet_check.py): one boot, seq 0..k-1 each
    exactly once, lost, duplicates, latency ts -> recv_ts p50/p99/max; the
    sink's summary and the bench's totals must agree with it. CPU (% of one
    core, first send to last reading held) of broker, sink and bench, peak
    RSS of each. A run passes with 0 lost, 0 duplicates, p99 <= 50 ms, the
    counts agreeing and the generator on schedule (as in 1.); a QoS stops
    at its first failing N.
 3. The report: bench/results/fleet.md, fleet.png (gnuplot: N against CPU
    and latency) and fleet.json; raw files (each run's logs, csv, the
    bench's JSON) under build/bench-fleet/.

Bounded: each run is killed (by PID) past its own deadline; the whole plan
takes 3-4 minutes here and at most about an hour (bench/README.md). A
benchmark: it prints figures and asserts nothing; exit status 1 only when
a run could not be made at all (a program missing or not starting).

    /usr/bin/python3 bench/fleet.py [--qos 0|1] [--series shipped,relaxed,sync-full]
        [--sensors 10,20,...] [--duration S] [--no-stop] [--skip-generator]
        [--results DIR]
"""
import argparse, json, os, platform, shutil, signal, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import broker as broker_mod  # noqa: E402
import fleet_check  # noqa: E402
import fleet_report  # noqa: E402

TOP = os.path.dirname(HERE)
BUILD = os.environ.get("PITEMP_BUILD", os.path.join(TOP, "build"))
BIN = os.path.join(BUILD, "bin")
DEV_CONF = os.path.join(TOP, "broker-config", "mosquitto.dev.conf")

RATE = 100
NS = (10, 20, 50, 100, 200, 500, 1000, 2000)
GEN_NS = (100, 200, 500, 1000, 2000)
# Three series that differ only in what waits for the disk:
#   shipped      the sink's default --sync normal (a write per reading, an
#                fsync a second) and the broker as shipped
#                (autosave_on_changes true, autosave_interval 1: its database
#                saved at every change);
#   relaxed      the same sink and the broker saving every 30 min
#                (mosquitto's default, autosave_on_changes false);
#   sync-full    the sink --sync full (an fsync per reading), the broker as
#                shipped.
# shipped -> relaxed is what the broker's saves cost; shipped -> sync-full
# what an fsync per reading costs; relaxed leaves the CPU.
SERIES = {"shipped": ("normal", False), "relaxed": ("normal", True),
          "sync-full": ("full", False)}
QOS = (0, 1)
DURATION_DEFAULT = 10
DURATION = DURATION_DEFAULT
GEN_DURATION = 5
P99_LIMIT_MS = 50.0
# The generator keeps up while its sends leave within the latency budget:
# its own jitter (being descheduled for a few ms) does not count against
# the server, since each reading's ts is taken when it is sent; falling
# behind (lateness growing to seconds) does.
GEN_LATE_LIMIT_MS = P99_LIMIT_MS
CATCH_UP_S = 60                        # for the sink after the bench exits
PREFIX = "fleet-"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_s(pid):
    """utime + stime of pid in seconds (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def peak_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def wait_line(path, text, proc, timeout):
    """Readiness: `text` appears in the file `path` (a program's stderr).
    Returns the time it was seen, or None (timeout or the program exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                if text in f.read():
                    return time.monotonic()
        except OSError:
            pass
        if proc.poll() is not None:
            return None
        time.sleep(0.02)
    return None


def stop(proc, grace=10):
    """SIGTERM, then SIGKILL after grace; by PID."""
    if proc is None or proc.poll() is not None:
        return proc.returncode if proc else None
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


def broker_extra(persist, relaxed=False):
    """The shipped dev profile minus its listener, location and logging,
    plus what a fleet needs: no cap on connections. relaxed: the database
    saved every 30 min (mosquitto's default), not at every change."""
    out = []
    with open(DEV_CONF) as f:
        for line in f:
            key = line.split()[:1]
            if not key or key[0].startswith("#") or key[0] in (
                    "listener", "persistence_location", "allow_anonymous") \
                    or key[0].startswith("log_"):
                continue
            if relaxed and key[0] in ("autosave_on_changes", "autosave_interval"):
                continue
            out.append(line.strip())
    if relaxed:
        out += ["autosave_on_changes false", "autosave_interval 1800"]
    out += [f"persistence_location {persist}/", "max_connections -1",
            "log_dest stderr", "log_type error", "log_type warning",
            "log_type notice", "log_type subscribe"]
    return "\n".join(out) + "\n"


def start_broker(d, n, relaxed=False):
    persist = os.path.join(d, "persist")
    os.makedirs(persist)
    if os.geteuid() == 0:          # mosquitto drops to its own user as root
        import pwd
        try:
            pw = pwd.getpwnam("mosquitto")
            os.chown(persist, pw.pw_uid, pw.pw_gid)
        except KeyError:
            pass
    proc, port = broker_mod.start(d, broker_extra(persist, relaxed),
                                  log=os.path.join(d, "mosquitto.log"),
                                  nofile=n + 256)
    if proc.poll() is not None:
        raise RuntimeError(f"mosquitto did not start: see {d}/mosquitto.log")
    return proc, port


def bench_argv(port, n, q, duration):
    return [os.path.join(BIN, "pitemp-bench"), "-h", "127.0.0.1", "-p", str(port),
            "--sensors", str(n), "--rate", str(RATE), "-q", str(q),
            "--duration", str(duration), "--prefix", PREFIX, "--json"]


def run_bench(d, port, n, q, duration, watch):
    """Start the bench; once it says its sensors are connected call
    watch('connected'), and when it has exited watch('done'). Returns
    (rc, json or None, error)."""
    out, err = os.path.join(d, "bench.json"), os.path.join(d, "bench.err")
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.Popen(bench_argv(port, n, q, duration), stdout=o, stderr=e,
                             stdin=subprocess.DEVNULL)
    connect_limit = 10 + n / 50 + 5
    if wait_line(err, "sensors connected in", p, connect_limit) is None:
        rc = stop(p)
        return rc, None, f"the bench did not connect its {n} sensors (rc {rc}, see {err})"
    watch("connected")
    # Sending ends by 2 x duration (the bench cuts it there), then up to 30 s
    # of draining and 2 s per sensor that does not stop cleanly (bounded).
    try:
        rc = p.wait(2 * duration + 5 + 30 + 60)
    except subprocess.TimeoutExpired:
        rc = stop(p)
        return rc, None, "the bench did not finish in time (killed)"
    watch("done")
    try:
        with open(out) as f:
            return rc, json.load(f), None
    except (OSError, ValueError) as e:
        return rc, None, f"no JSON from the bench (rc {rc}): {e}"


def generator_run(root, n, q):
    d = os.path.join(root, f"gen-q{q}-n{n}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    b, port = start_broker(d, n)
    marks = {}

    def watch(what):
        marks[what] = (time.monotonic(), cpu_s(b.pid))
    try:
        load = loadavg()
        rc, res, err = run_bench(d, port, n, q, GEN_DURATION, watch)
        row = {"n": n, "qos": q, "load": load, "rc": rc, "error": err}
        if res:
            row.update(bench=res, on_schedule=res["behind"] == 0 and
                       res["late_ms"]["p99"] <= GEN_LATE_LIMIT_MS)
            if "connected" in marks and "done" in marks:
                (t1, c1), (t2, c2) = marks["connected"], marks["done"]
                row["broker_cpu_pct"] = 100 * (c2 - c1) / (t2 - t1) if None not in (c1, c2) else None
        return row
    finally:
        stop(b)


def count_lines(path, have):
    """Data lines in the sink's file (header excluded), read incrementally;
    have: (offset, count) from the last call."""
    off, cnt = have
    try:
        with open(path, "rb") as f:
            f.seek(off)
            chunk = f.read()
    except OSError:
        return have
    return off + len(chunk), cnt + chunk.count(b"\n")


def fleet_run(root, series, n, q):
    d = os.path.join(root, f"{series}-q{q}-n{n}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    out = os.path.join(d, "readings.csv")
    sync, relaxed = SERIES[series]
    b, port = start_broker(d, n, relaxed)
    sink = None
    marks = {}
    try:
        serr = os.path.join(d, "sink.err")
        with open(serr, "w") as e:
            sink = subprocess.Popen(
                [os.path.join(BIN, "pitemp-sink"), "-h", "127.0.0.1", "-p", str(port),
                 "-C", "0", "-F", "csv", "--sync", sync, "-o", out, "-q", str(q),
                 "-i", "fleet-sink"],
                stdout=subprocess.DEVNULL, stderr=e, stdin=subprocess.DEVNULL)
        if wait_line(serr, "subscribed to", sink, 10) is None:
            raise RuntimeError(f"pitemp-sink did not subscribe: see {serr}")

        def watch(what):
            marks[what] = (time.monotonic(), cpu_s(b.pid), cpu_s(sink.pid))
        load = loadavg()
        rc, res, err = run_bench(d, port, n, q, DURATION, watch)
        row = {"series": series, "n": n, "qos": q, "load": load, "rc": rc, "error": err}
        if res is None:
            return row
        # The sink catches up: its file reaches what the bench sent, or stops
        # growing for 3 s, within CATCH_UP_S.
        have, last_growth = (0, 0), time.monotonic()
        deadline = time.monotonic() + CATCH_UP_S
        while time.monotonic() < deadline:
            new = count_lines(out, have)
            if new[1] != have[1]:
                last_growth = time.monotonic()
            have = new
            if have[1] - 1 >= res["sent"] or time.monotonic() - last_growth > 3:
                break
            time.sleep(0.05)
        t3 = last_growth
        c3b, c3s = cpu_s(b.pid), cpu_s(sink.pid)
        row["broker_rss_kib"], row["sink_rss_kib"] = peak_rss_kib(b.pid), peak_rss_kib(sink.pid)
        t1, c1b, c1s = marks["connected"]
        t2 = marks["done"][0]
        span = max(t3, t2) - t1
        row["broker_cpu_pct"] = 100 * (c3b - c1b) / span if None not in (c1b, c3b) else None
        row["sink_cpu_pct"] = 100 * (c3s - c1s) / span if None not in (c1s, c3s) else None
        row["broker_cpu_s"] = c3b - c1b if None not in (c1b, c3b) else None
        row["sink_cpu_s"] = c3s - c1s if None not in (c1s, c3s) else None
        row["sink_lag_s"] = max(0.0, t3 - t2)
        row["sink_caught_up"] = have[1] - 1 >= res["sent"]
        row["bench"] = res
        row["sink_rc"] = stop(sink)
        row["sink_summary"] = fleet_report.sink_summary(serr)
        row["check"] = fleet_check.check(out, res, PREFIX)
        row["problems"] = fleet_report.disagreements(row)
        row["ok"] = fleet_report.passes(row, P99_LIMIT_MS, GEN_LATE_LIMIT_MS)
        return row
    finally:
        stop(sink)
        stop(b)


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    def first_line(argv):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    return {"cpus": os.cpu_count(), "model": model, "kernel": platform.release(),
            "mosquitto": first_line(["mosquitto", "-h"]),
            "paho": first_line(["dpkg-query", "-W", "-f", "${Version}", "libpaho-mqtt1.3"]),
            "load_at_start": loadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}


def main():
    global DURATION
    ap = argparse.ArgumentParser(description="fleet capacity of one mosquitto + one pitemp-sink")
    ap.add_argument("--qos", type=int, choices=QOS, help="only this QoS (default: 0 then 1)")
    ap.add_argument("--sensors", help=f"comma-separated N (default {','.join(map(str, NS))})")
    ap.add_argument("--duration", type=float, default=DURATION_DEFAULT,
                    help=f"seconds of sending per fleet run (default {DURATION_DEFAULT})")
    ap.add_argument("--no-stop", action="store_true", help="go on past the first failing N")
    ap.add_argument("--series", help="comma-separated, of " + ", ".join(SERIES)
                    + " (default: all three, in that order)")
    ap.add_argument("--skip-generator", action="store_true", help="leave out the generator's ceiling")
    ap.add_argument("--results", default=os.path.join(HERE, "results"),
                    help="where fleet.md, fleet.png and fleet.json go (default bench/results)")
    args = ap.parse_args()
    DURATION = args.duration
    ns = tuple(int(x) for x in args.sensors.split(",")) if args.sensors else NS
    qos = (args.qos,) if args.qos is not None else QOS
    series = tuple(args.series.split(",")) if args.series else tuple(SERIES)
    for sr in series:
        if sr not in SERIES:
            ap.error(f"--series: '{sr}' is not one of {', '.join(SERIES)}")
    gen_ns = tuple(n for n in ns if n in GEN_NS) if args.sensors else GEN_NS
    for prog in ("pitemp-bench", "pitemp-sink"):
        if not os.access(os.path.join(BIN, prog), os.X_OK):
            sys.exit(f"fleet.py: {BIN}/{prog} not built (make)")
    root = os.path.join(BUILD, "bench-fleet")
    os.makedirs(root, exist_ok=True)
    info = machine()
    plan = {"rate_hz": RATE, "sensors": list(ns), "qos": list(qos), "series": list(series),
            "generator_sensors": list(gen_ns), "duration_s": DURATION,
            "generator_duration_s": GEN_DURATION, "p99_limit_ms": P99_LIMIT_MS,
            "generator_late_limit_ms": GEN_LATE_LIMIT_MS, "catch_up_s": CATCH_UP_S}
    log(f"fleet.py: {info['cpus']} CPUs ({info['model']}), Linux {info['kernel']}, "
        f"{info['mosquitto']}, paho {info['paho']}, load {info['load_at_start']}")
    log(f"plan: {json.dumps(plan)}")
    t0 = time.monotonic()
    gen, fleet, failed_to_run = [], [], False
    if not args.skip_generator:
        for q in qos:
            for n in gen_ns:
                row = generator_run(root, n, q)
                gen.append(row)
                log(fleet_report.gen_line(row))
                if not row.get("on_schedule"):
                    break
    for sr in series:
        for q in qos:
            for n in ns:
                try:
                    row = fleet_run(root, sr, n, q)
                except RuntimeError as e:
                    log(f"fleet {sr} q{q} n{n}: could not run: {e}")
                    failed_to_run = True
                    break
                fleet.append(row)
                log(fleet_report.fleet_block(row))
                if not row.get("ok") and not args.no_stop:
                    break
    report = {"machine": info, "plan": plan, "generator": gen, "fleet": fleet,
              "elapsed_s": round(time.monotonic() - t0, 1)}
    log(fleet_report.summary(report))
    fleet_report.write(report, args.results, os.path.join(root, "plot"))
    log(f"written: {args.results}/fleet.md, fleet.png, fleet.json; raw files in {root}/")
    return 1 if failed_to_run else 0


if __name__ == "__main__":
    sys.exit(main())
