#!/usr/bin/python3
"""bench/throughput.py: what does a reading cost pitemp, next to mosquitto's own clients?

In one run, against one mosquitto on a free loopback port (generated config:
no persistence, no queue or in-flight limit, QoS 0 queued for offline
sessions), three cases, each measured side by side with mosquitto's client:

  publish  pitemp-sensor --rate 0 --count N   vs   mosquitto_pub -l fed N
           pre-generated payloads shaped like pitemp's, at QoS 0 and 1, each
           drained by a mosquitto_sub -C N. Timed from start to exit (at
           QoS 1, until the broker acknowledged all N). N = --count (50000).
  flood    a backlog of F readings (--flood, 200000) queued at the broker for
           a persistent session, then drained by pitemp-sink -c --count F
           vs mosquitto_sub -c -C F, at QoS 0 and 1: how fast a subscriber
           catches up after an outage. One load fills both sessions' queues;
           the two drain one after the other. Timed from start to exit (the
           sink's exit comes after its fsync + rename).
  steady   pitemp-sensor at 100 Hz, QoS 1, --count S (--steady, 3000) into
           pitemp-sink as a logger (--count 0, csv), with a mosquitto_sub on
           the same stream and a mosquitto_pub fed S lines at 100 Hz (own
           topic) alongside: CPU share of one core and peak RSS of each,
           latency from each reading's ts to the sink's recv_ts (p50, p99,
           max over all S).

CPU time (user + sys) and peak RSS are the process's own, from os.wait4.
Each publish and flood case runs R times (--repeat, 3); the run with the
median wall time is shown. The last block prints each goal of issue 11 with
the figure of this run.

    /usr/bin/python3 bench/throughput.py [--count N] [--flood F] [--steady S]
        [--qos 0|1] [--repeat R] [--cases publish,flood,steady]

A benchmark: it prints figures and asserts nothing (it exits 1 only when a
run did not deliver all its readings).
"""
import argparse, csv, os, signal, statistics, sys, tempfile, threading, time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import broker as broker_mod  # noqa: E402
from benchlib import Proc, bindir, lines, payloads, wait_all, wait_subscribed  # noqa: E402
import benchlib  # noqa: E402
import plots  # noqa: E402

ap = argparse.ArgumentParser(description="pitemp vs mosquitto_pub/mosquitto_sub: cost per reading")
ap.add_argument("--count", type=int, default=50000, help="publish case: readings per run (< 65535)")
ap.add_argument("--flood", type=int, default=200000, help="flood case: backlog drained per run")
ap.add_argument("--steady", type=int, default=3000, help="steady case: readings at 100 Hz")
ap.add_argument("--qos", type=int, choices=(0, 1), help="publish and flood: only this QoS")
ap.add_argument("--repeat", type=int, default=3, help="runs per publish/flood case, median shown")
ap.add_argument("--cases", default="publish,flood,steady", help="comma-separated subset")
args = ap.parse_args()
CASES = [c for c in args.cases.split(",") if c]
if set(CASES) - {"publish", "flood", "steady"}:
    ap.error(f"--cases {args.cases}: choose among publish, flood, steady")
if not 1 <= args.count < 65535:
    ap.error(f"--count {args.count}: must be 1..65534 (mosquitto_pub -l -q 1 stops at the message-id wrap)")
if args.flood < 1 or args.steady < 2 or args.repeat < 1:
    ap.error("--flood, --steady (>= 2) and --repeat must be positive")
N, F, S = args.count, args.flood, args.steady
QOS = [args.qos] if args.qos is not None else [0, 1]
TOPIC = "pitemp/bench/temperature"
FILTER = "pitemp/+/temperature"
CHUNK = 50000           # mosquitto_pub -l -q 1 stops at the message-id wrap


def timeout_for(n):
    return 60 + n / 1000.0


def pub_argv(port, q):
    return ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", str(q), "-l", "-t", TOPIC]


# --- publish: pitemp-sensor --rate 0 against mosquitto_pub -l -----------------

def publish_case(d, port, q, who, k):
    cid = f"bench-drain-{who}-{q}-{k}"
    sub = Proc(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-i", cid, "-q", str(q),
                "-C", str(N), "-t", TOPIC])
    pub = None
    try:
        if not wait_subscribed(blog, cid, sub):
            return None, "mosquitto_sub did not subscribe"
        err = os.path.join(d, f"pub-{who}-{q}-{k}.err")
        if who == "pitemp":
            pub = Proc([f"{bindir}/pitemp-sensor", "--host", "127.0.0.1", "--port", str(port),
                        "--id", f"bench-sensor-{q}-{k}", "--rate", "0", "--count", str(N),
                        "--qos", str(q), "--device", "bench"], stderr=err)
        else:
            pf = os.path.join(d, f"pay-{q}-{k}.txt")
            payloads(pf, N)
            pub = Proc(pub_argv(port, q), stdin=pf, stderr=err)
        ok = wait_all([pub, sub], timeout_for(N))
        if not ok or pub.rc != 0 or sub.rc != 0:
            return None, (f"publisher rc={pub.rc}, mosquitto_sub rc={sub.rc}"
                          + ("" if ok else " (timed out)"))
        return pub, None
    finally:
        sub.stop()
        if pub:
            pub.stop()


# --- flood: drain a backlog queued for a persistent session --------------------

def flood_ids(q):
    return {"pitemp": f"bench-flood-sink-{q}", "mosquitto": f"bench-flood-msub-{q}"}


def flood_argv(port, q, who, out, count=True):
    """The subscriber's command line; count=False: run until stopped (registration)."""
    cid = flood_ids(q)[who]
    if who == "pitemp":
        return [f"{bindir}/pitemp-sink", "-h", "127.0.0.1", "-p", str(port), "-i", cid,
                "-q", str(q), "-c", "-C", str(F), "-o", out, "-W", str(int(timeout_for(F)))]
    return (["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-i", cid, "-q", str(q), "-c",
             "-t", FILTER] + (["-C", str(F)] if count else []))


def flood_register(d, port, q):
    """Create both persistent sessions and their subscriptions, then leave
    (pitemp-sink exits 1 on SIGTERM before its count: nothing was promised)."""
    for who in ("pitemp", "mosquitto"):
        p = Proc(flood_argv(port, q, who, os.path.join(d, f"flood-{q}.txt"), count=False),
                 stderr=os.path.join(d, f"reg-{who}-{q}.err"))
        ok = wait_subscribed(blog, flood_ids(q)[who], p)
        p.stop(signal.SIGTERM)
        if not ok:
            return f"{who}: no subscription"
    return None


def flood_load(d, port, q, k):
    """Publish F fresh readings; the broker queues them for both sessions."""
    step = F if q == 0 else CHUNK
    for i in range(0, F, step):
        n = min(step, F - i)
        pf = os.path.join(d, f"flood-pay-{q}-{k}-{i}.txt")
        payloads(pf, n, device="bench")
        p = Proc(pub_argv(port, q), stdin=pf)
        if not wait_all([p], timeout_for(n)) or p.rc != 0:
            return f"loading mosquitto_pub rc={p.rc}"
        os.unlink(pf)
    return None


def flood_drain(d, port, q, who, k):
    out = os.path.join(d, f"flood-{q}.txt")
    res = os.path.join(d, f"flood-out-{who}-{q}-{k}.txt")
    for f in (out, res):
        if os.path.exists(f):
            os.unlink(f)
    err = os.path.join(d, f"flood-{who}-{q}-{k}.err")
    if who == "pitemp":
        p = Proc(flood_argv(port, q, who, out), stderr=err)
    else:
        p = Proc(flood_argv(port, q, who, out), stdout=res, stderr=err)
    ok = wait_all([p], timeout_for(F))
    got = lines(out) - 1 if who == "pitemp" else lines(res)
    if not ok or p.rc != 0 or got != F:
        return None, f"{who} rc={p.rc}, {got} of {F} readings" + ("" if ok else " (timed out)")
    return p, None


def flood_runs(d, port, q):
    runs = {"pitemp": [], "mosquitto": []}
    why = flood_register(d, port, q)
    if why:
        return None, None, why
    for k in range(args.repeat):
        why = flood_load(d, port, q, k)
        if why:
            return None, None, why
        order = ("pitemp", "mosquitto") if k % 2 == 0 else ("mosquitto", "pitemp")
        for who in order:
            r, why = flood_drain(d, port, q, who, k)
            if r is None:
                return None, None, why
            runs[who].append(r)
    med = {w: sorted(rs, key=lambda r: r.wall)[len(rs) // 2] for w, rs in runs.items()}
    return med["pitemp"], med["mosquitto"], None


# --- steady: 100 Hz QoS 1 into a logging sink -----------------------------------

def parse_ts(t):
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def feed(fifo, path, n, rate, stop):
    """Write n lines of path into fifo at rate per second (absolute deadlines)."""
    with open(path) as src, open(fifo, "w") as out:
        t = time.monotonic()
        for _ in range(n):
            if stop.is_set():
                return
            out.write(src.readline())
            out.flush()
            t += 1.0 / rate
            d = t - time.monotonic()
            if d > 0:
                time.sleep(d)


def steady_case(d, port):
    """pitemp-sensor -> pitemp-sink (logger, csv) at 100 Hz; mosquitto_sub on the
    same stream and a mosquitto_pub fed at 100 Hz (its own topic) alongside."""
    out = os.path.join(d, "steady.csv")
    sink = Proc([f"{bindir}/pitemp-sink", "-h", "127.0.0.1", "-p", str(port), "-i", "bench-steady-sink",
                 "-q", "1", "-C", "0", "-F", "csv", "-o", out], stderr=os.path.join(d, "steady-sink.err"))
    msub = Proc(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-i", "bench-steady-msub", "-q", "1",
                 "-C", str(S), "-t", "pitemp/steady/temperature"], stdout=os.path.join(d, "steady-msub.txt"))
    fifo, pf = os.path.join(d, "steady.fifo"), os.path.join(d, "steady-pay.txt")
    os.mkfifo(fifo)
    payloads(pf, S, device="ref")
    sensor = mpub = None
    stop = threading.Event()
    feeder = threading.Thread(target=feed, args=(fifo, pf, S, 100.0, stop))
    try:
        for cid, p in (("bench-steady-sink", sink), ("bench-steady-msub", msub)):
            if not wait_subscribed(blog, cid, p):
                return None, f"{cid} did not subscribe"
        mpub = Proc(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-i", "bench-steady-mpub", "-q", "1",
                     "-l", "-t", "ref/steady/temperature"], stdin=fifo)
        feeder.start()
        sensor = Proc([f"{bindir}/pitemp-sensor", "-h", "127.0.0.1", "-p", str(port),
                       "-i", "bench-steady-sensor", "-q", "1", "--rate", "100", "-C", str(S),
                       "--device", "steady"], stderr=os.path.join(d, "steady-sensor.err"))
        if not wait_all([sensor, mpub], S / 100 * 2 + 30) or sensor.rc != 0 or mpub.rc != 0:
            return None, f"pitemp-sensor rc={sensor.rc}, mosquitto_pub rc={mpub.rc}"
        deadline = time.monotonic() + 30
        while lines(out) < S + 1 and time.monotonic() < deadline and sink.poll() is None:
            time.sleep(0.01)
        sink.stop(signal.SIGTERM)
        if not wait_all([msub], 10) or msub.rc != 0:
            return None, f"mosquitto_sub rc={msub.rc}"
        if sink.rc != 0 or lines(out) != S + 1:
            return None, f"pitemp-sink rc={sink.rc}, {lines(out) - 1} of {S} readings"
        with open(out) as f:
            rows = list(csv.DictReader(f))
        lat = sorted((parse_ts(r["recv_ts"]) - parse_ts(r["ts"])) * 1e3 for r in rows)
        return {"sensor": sensor, "sink": sink, "mpub": mpub, "msub": msub, "lat": lat}, None
    finally:
        stop.set()
        for p in (sink, msub, sensor, mpub):
            if p:
                p.stop()
        if feeder.is_alive():
            feeder.join(5)


def median_run(case, d, port, q, who):
    runs = []
    for k in range(args.repeat):
        r, why = case(d, port, q, who, k)
        if r is None:
            return None, why
        runs.append(r)
    runs.sort(key=lambda r: r.wall)
    return runs[len(runs) // 2], None


def row(case, q, name, r, n):
    if r is None:
        return f"{case:<8} {q:>3}  {name:<14} {'FAILED':>8}"
    return (f"{case:<8} {q:>3}  {name:<14} {r.wall:8.3f} {n / r.wall:11.0f} "
            f"{r.cpu:7.3f} {r.cpu / n * 1e6:8.2f} {r.rss_kb / 1024:8.1f}")


def verdict(ok):
    return "met" if ok else "MISSED"


with tempfile.TemporaryDirectory(prefix="pitemp-bench-") as d:
    benchlib.setup(d)
    blog = os.path.join(d, "broker.log")
    broker, port = broker_mod.start(d, broker_mod.FLOOD_CONF, blog)
    failed = []
    pub, flood, steady = {}, {}, None
    try:
        for q in QOS if "publish" in CASES else []:
            for who in ("pitemp", "mosquitto"):
                r, why = median_run(publish_case, d, port, q, who)
                if r is None:
                    failed.append(f"publish QoS {q} {who}: {why}")
                pub[(q, who)] = r
        for q in QOS if "flood" in CASES else []:
            a, b, why = flood_runs(d, port, q)
            if why:
                failed.append(f"flood QoS {q}: {why}")
            flood[(q, "pitemp")], flood[(q, "mosquitto")] = a, b
        if "steady" in CASES:
            steady, why = steady_case(d, port)
            if steady is None:
                failed.append(f"steady: {why}")
    finally:
        broker_mod.stop(broker)

print(f"pitemp cost per reading: {os.cpu_count()} CPUs ({benchlib.cpu_model()}), mosquitto on "
      f"127.0.0.1, paho.mqtt.c {benchlib.paho_build()}; median of {args.repeat}")
print()
print(f"{'case':<8} {'qos':>3}  {'program':<14} {'wall s':>8} {'readings/s':>11} "
      f"{'CPU s':>7} {'CPU us/r':>8} {'RSS MiB':>8}")
names = {"publish": ("pitemp-sensor", "mosquitto_pub"), "flood": ("pitemp-sink", "mosquitto_sub")}
for case, res, n in (("publish", pub, N), ("flood", flood, F)):
    for q in QOS if case in CASES else []:
        for i, who in enumerate(("pitemp", "mosquitto")):
            print(row(case, q, names[case][i], res.get((q, who)), n))
if steady:
    for who, name in (("sensor", "pitemp-sensor"), ("mpub", "mosquitto_pub"), ("sink", "pitemp-sink"),
                      ("msub", "mosquitto_sub")):
        p = steady[who]
        print(f"{'steady':<8} {1:>3}  {name:<14} {p.wall:8.3f} {S / p.wall:11.0f} "
              f"{p.cpu:7.3f} {p.cpu / S * 1e6:8.2f} {p.rss_kb / 1024:8.1f}")
    lat = steady["lat"]
    print(f"steady latency ts -> sink recv_ts over {len(lat)} readings: p50 {statistics.median(lat):.3f} ms, "
          f"p99 {lat[int(0.99 * (len(lat) - 1))]:.3f} ms, max {lat[-1]:.3f} ms")
    png = plots.histograms(os.path.join(os.path.dirname(bindir), "bench", "throughput-latency.png"),
                           f"throughput.py steady: {S} readings at 100 Hz, QoS 1", [
        {"title": "latency: sink recv_ts - ts", "xlabel": "ms", "logy": True,
         "series": [("pitemp-sensor -> mosquitto -> pitemp-sink", lat)]}])
    print(f"steady latency distribution: {png or 'not drawn (see above)'}")

print()
print("Goals (issue 11), figures of this run:")
for q in QOS if "flood" in CASES else []:
    a, b = flood[(q, "pitemp")], flood[(q, "mosquitto")]
    if a is None or b is None:
        print(f"  flood QoS {q}: no figure (a run failed)")
        continue
    t, c = b.wall / a.wall, a.cpu / b.cpu
    print(f"  flood QoS {q}: time mosquitto_sub/pitemp-sink {t:.2f} (goal >= 0.95: {verdict(t >= 0.95)}); "
          f"CPU per message {c:.2f}x mosquitto_sub's (goal <= 1.3x: {verdict(c <= 1.3)})")
for q in QOS if "publish" in CASES else []:
    a, b = pub[(q, "pitemp")], pub[(q, "mosquitto")]
    if a is None or b is None:
        print(f"  publish QoS {q}: no figure (a run failed)")
        continue
    rate, c = b.wall / a.wall, a.cpu / b.cpu
    print(f"  publish QoS {q}: rate {rate:.2f}x mosquitto_pub's (goal >= 1.0x: {verdict(rate >= 1.0)}); "
          f"CPU per reading {c:.2f}x (goal <= 2x: {verdict(c <= 2.0)})")
if steady:
    for who, ref, rname in (("sensor", "mpub", "mosquitto_pub"), ("sink", "msub", "mosquitto_sub")):
        p, m = steady[who], steady[ref]
        share, rss = p.cpu / p.wall * 100, p.rss_kb / 1024
        print(f"  100 Hz QoS 1 pitemp-{who}: {share:.2f}% of a core (goal <= 0.5%: {verdict(share <= 0.5)}; "
              f"{rname} alongside: {m.cpu / m.wall * 100:.2f}%); peak RSS {rss:.1f} MiB "
              f"(goal <= 4 MiB: {verdict(rss <= 4.0)}; {rname}: {m.rss_kb / 1024:.1f})")
    lat = steady["lat"]
    p99, mx = lat[int(0.99 * (len(lat) - 1))], lat[-1]
    print(f"  latency over {len(lat)} readings: p99 {p99:.3f} ms (goal <= 0.5: {verdict(p99 <= 0.5)}); "
          f"max {mx:.3f} ms (goal <= 5: {verdict(mx <= 5.0)})")
print()
print("publish: wall from start to exit, connect included. flood: the backlog was queued before the")
print("subscriber started; wall from its start to its exit. pitemp-sink decodes, validates, dedups and")
print("formats every reading and writes the file (fsync + rename at the end); mosquitto_sub prints payloads.")
for f in failed:
    print(f"FAILED: {f}")
sys.exit(1 if failed else 0)
