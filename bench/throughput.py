#!/usr/bin/python3
"""bench/throughput.py: how fast are pitemp's programs next to mosquitto's own?

In one run, against one mosquitto on a free loopback port (generated config:
no persistence, no queue or in-flight limit), for N readings (default 20000)
at QoS 0 and 1:

  publish side    pitemp-sensor --rate 0 --count N   vs   mosquitto_pub -l
                  (fed N pre-generated payloads shaped like pitemp's), each
                  drained by mosquitto_sub -C N so the broker queues nothing.
                  Timed from the publisher's start to its exit (at QoS 1 that
                  is after the broker acknowledged all N).
  subscribe side  pitemp-sink --count N --output F   vs   mosquitto_sub -C N > F,
                  each fed by the same mosquitto_pub -l. Timed from the
                  publisher's start to the subscriber's exit, so its rate is
                  capped by the publisher's.

For each: wall time, readings/s, CPU time (user+sys of that one process, from
os.wait4) and peak RSS, then the ratio pitemp / mosquitto client. Each case
runs R times (default 5); the run with the median wall time is shown.

    /usr/bin/python3 bench/throughput.py [--count N] [--qos 0|1] [--repeat R]

N must stay below 65535: mosquitto_pub -l -q 1 stops at the message-id wrap.
A benchmark: it prints figures and asserts nothing (it exits 1 only when a
run did not deliver its N readings).
"""
import argparse, ctypes, os, random, secrets, signal, socket, subprocess, sys, tempfile, time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import broker as broker_mod  # noqa: E402

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
bindir = os.path.join(os.environ.get("PITEMP_BUILD", os.path.join(top, "build")), "bin")

ap = argparse.ArgumentParser(description="pitemp vs mosquitto_pub/mosquitto_sub throughput")
ap.add_argument("--count", type=int, default=20000, help="readings per run (default 20000, < 65535)")
ap.add_argument("--qos", type=int, choices=(0, 1), help="only this QoS (default: 0 and 1)")
ap.add_argument("--repeat", type=int, default=5, help="runs per case, median shown (default 5)")
args = ap.parse_args()
if not 1 <= args.count < 65535:
    ap.error(f"--count {args.count}: must be 1..65534 (mosquitto_pub -l -q 1 stops at the message-id wrap)")
if args.repeat < 1:
    ap.error(f"--repeat {args.repeat}: must be at least 1")
N = args.count
QOS = [args.qos] if args.qos is not None else [0, 1]
TIMEOUT = 30 + N / 1000.0   # per run; both sides do thousands of readings/s
TOPIC = "pitemp/bench/temperature"


def payloads(path):
    """N valid readings shaped like the sim source's (same fields, same size)."""
    boot = secrets.token_hex(8)
    t = datetime.now(timezone.utc)
    raw = 222
    with open(path, "w") as f:
        for seq in range(N):
            raw = min(226, max(218, raw + random.choice((-1, 0, 0, 1))))
            mv = round(raw * 3300 / 1024, 1)
            ts = (t + timedelta(microseconds=80 * seq)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            f.write(f'{{"device":"bench","boot":"{boot}","seq":{seq},"ts":"{ts}",'
                    f'"temp_c":{round((mv - 500) / 10, 2)},"mv":{mv},"raw":{raw}}}\n')


# ru_maxrss of a process Python forks and execs includes Python's own RSS
# (the kernel records the pre-exec mm's peak on exec). So each program is
# started by /bin/sh in the background: it execs from sh's small mm, sh exits,
# and the program is re-parented to us (a child subreaper), so os.wait4 gives
# its own CPU time and peak RSS.
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:        # PR_SET_CHILD_SUBREAPER
    sys.exit(f"throughput.py: prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
LAUNCH = 'pidfile=$1 in=$2; shift 2; "$@" < "$in" & echo $! > "$pidfile"'


class Proc:
    """A child we time ourselves and reap with os.wait4 for its rusage."""
    seq = 0

    def __init__(self, argv, t0=None, stdin=os.devnull, stdout=os.devnull, stderr=os.devnull):
        """Start argv with stdin, stdout, stderr from/to those paths; t0: when its clock starts."""
        Proc.seq += 1
        pidfile = os.path.join(workdir, f"pid-{Proc.seq}")
        self.t0 = time.monotonic() if t0 is None else t0
        with open(stdout, "w") as out, open(stderr, "w") as err:
            subprocess.run(["/bin/sh", "-c", LAUNCH, "sh", pidfile, stdin] + argv, check=True,
                           stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=10)
        with open(pidfile) as f:
            self.pid = int(f.read())
        self.rc = self.wall = self.cpu = self.rss_kb = None

    def poll(self):
        if self.rc is None:
            try:
                pid, status, ru = os.wait4(self.pid, os.WNOHANG)
            except ChildProcessError:
                # It died before sh exited and sh reaped it (exec failure,
                # bad option): no figures, and a failed run.
                self.rc = 255
                return self.rc
            if pid:
                self.wall = time.monotonic() - self.t0
                self.rc = os.waitstatus_to_exitcode(status)
                self.cpu = ru.ru_utime + ru.ru_stime
                self.rss_kb = ru.ru_maxrss
        return self.rc

    def stop(self):
        """Kill by PID if still running; reap."""
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            while self.poll() is None:
                time.sleep(0.001)


def wait_all(procs, timeout):
    """Wait for every proc until the deadline or until one fails; kill (by PID) what is left."""
    deadline = time.monotonic() + timeout
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        if any(p.rc not in (None, 0) for p in procs):
            break
        time.sleep(0.0005)
    timed_out = any(p.rc is None for p in procs) and time.monotonic() >= deadline
    for p in procs:
        p.stop()
    return not timed_out


def wait_subscribed(log, cid, proc, timeout=10):
    """Readiness: the broker logged the client's SUBSCRIBE (log_type subscribe)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log) as f:
            if any(f" {cid} " in l and "pitemp/" in l for l in f):
                return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    return False


def lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def publish_case(d, port, q, who, k):
    """Time one publisher (who = 'pitemp' or 'mosquitto') against a draining mosquitto_sub."""
    cid = f"bench-drain-{who}-{q}-{k}"
    sub = Proc(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-i", cid, "-q", str(q),
                "-C", str(N), "-t", TOPIC], )
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
            payloads(pf)
            pub = Proc(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", str(q),
                        "-l", "-t", TOPIC], stdin=pf, stderr=err)
        ok = wait_all([pub, sub], TIMEOUT)
        if not ok or pub.rc != 0 or sub.rc != 0:
            return None, (f"publisher rc={pub.rc}, mosquitto_sub rc={sub.rc}"
                          + ("" if ok else f" (timed out after {TIMEOUT:.0f} s)"))
        return pub, None
    finally:
        sub.stop()
        if pub:
            pub.stop()


def subscribe_case(d, port, q, who, k):
    """Time one subscriber (who = 'pitemp' or 'mosquitto') fed by mosquitto_pub -l."""
    cid = f"bench-{who}-sub-{q}-{k}"
    out = os.path.join(d, f"out-{who}-{q}-{k}.txt")
    err = os.path.join(d, f"sub-{who}-{q}-{k}.err")
    if who == "pitemp":
        sub = Proc([f"{bindir}/pitemp-sink", "--host", "127.0.0.1", "--port", str(port),
                    "--id", cid, "--qos", str(q), "--count", str(N), "--output", out,
                    "--timeout", str(int(TIMEOUT) + 10)], stderr=err)
    else:
        sub = Proc(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-i", cid, "-q", str(q),
                    "-C", str(N), "-t", "pitemp/+/temperature"], stdout=out, stderr=err)
    pf = os.path.join(d, f"pay-sub-{q}-{k}.txt")
    payloads(pf)
    pub = None
    try:
        if not wait_subscribed(blog, cid, sub):
            return None, f"{who} subscriber did not subscribe (rc={sub.rc})"
        t0 = time.monotonic()
        sub.t0 = t0
        pub = Proc(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", str(q),
                    "-l", "-t", TOPIC], t0=t0, stdin=pf)
        ok = wait_all([pub, sub], TIMEOUT)
        want = N + 1 if who == "pitemp" else N     # the sink's text format has a header line
        got = lines(out)
        if not ok or pub.rc != 0 or sub.rc != 0 or got != want:
            return None, (f"subscriber rc={sub.rc}, mosquitto_pub rc={pub.rc}, {got} lines of {want}"
                          + ("" if ok else f" (timed out after {TIMEOUT:.0f} s)"))
        sub.pub_wall = pub.wall
        return sub, None
    finally:
        sub.stop()
        if pub:
            pub.stop()


def median_run(case, d, port, q, who):
    runs = []
    for k in range(args.repeat):
        r, why = case(d, port, q, who, k)
        if r is None:
            return None, why
        runs.append(r)
    runs.sort(key=lambda r: r.wall)
    return runs[len(runs) // 2], None


def row(side, q, name, r):
    if r is None:
        return f"{side:<9} {q:>3}  {name:<15} {'FAILED':>8}"
    return (f"{side:<9} {q:>3}  {name:<15} {r.wall:8.3f} {N / r.wall:11.0f} "
            f"{r.cpu:7.3f} {r.cpu / N * 1e6:8.1f} {r.rss_kb / 1024:8.1f}")


def ratio_line(side, q, a, b, an, bn):
    if a is None or b is None:
        return f"QoS {q} {side}: no ratio (a run failed)"
    rate = (N / a.wall) / (N / b.wall)
    return (f"QoS {q} {side}: {an} runs at {rate:.2f}x the rate of {bn} "
            f"({'faster' if rate > 1 else 'slower'}), uses {a.cpu / b.cpu:.2f}x its CPU time "
            f"and {a.rss_kb / b.rss_kb:.2f}x its peak RSS")


with tempfile.TemporaryDirectory(prefix="pitemp-bench-") as d:
    workdir = d
    blog = os.path.join(d, "broker.log")
    broker, port = broker_mod.start(
        d, "persistence false\nmax_queued_messages 1000000\nmax_inflight_messages 0\n"
        "log_dest stderr\nlog_type error\nlog_type warning\nlog_type subscribe\n", blog)
    failed = []
    results = {}
    try:
        for q in QOS:
            for side, case in (("publish", publish_case), ("subscribe", subscribe_case)):
                for who in ("pitemp", "mosquitto"):
                    r, why = median_run(case, d, port, q, who)
                    if r is None:
                        failed.append(f"QoS {q} {side} {who}: {why}")
                    results[(q, side, who)] = r
    finally:
        broker_mod.stop(broker)

cpu = open("/proc/cpuinfo").read()
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("model name")), "?")
print(f"pitemp throughput: {N} readings per run, median of {args.repeat}, "
      f"{os.cpu_count()} CPUs ({model}), mosquitto on 127.0.0.1")
print()
print(f"{'side':<9} {'qos':>3}  {'program':<15} {'wall s':>8} {'readings/s':>11} "
      f"{'CPU s':>7} {'CPU us/r':>8} {'RSS MiB':>8}")
names = {("publish", "pitemp"): "pitemp-sensor", ("publish", "mosquitto"): "mosquitto_pub",
         ("subscribe", "pitemp"): "pitemp-sink", ("subscribe", "mosquitto"): "mosquitto_sub"}
for q in QOS:
    for side in ("publish", "subscribe"):
        for who in ("pitemp", "mosquitto"):
            print(row(side, q, names[(side, who)], results[(q, side, who)]))
print()
for q in QOS:
    for side in ("publish", "subscribe"):
        print(ratio_line(side, q, results[(q, side, "pitemp")], results[(q, side, "mosquitto")],
                         names[(side, "pitemp")], names[(side, "mosquitto")]))
print()
print("Publish side: wall from start to exit (connect included; at QoS 1 until all N are acknowledged).")
print("Subscribe side: wall from mosquitto_pub's start to the subscriber's exit, so the rate is")
print("capped by the publisher's; CPU and RSS are the subscriber's own. The feeding mosquitto_pub took:")
for q in QOS:
    walls = [f"{results[(q, 'subscribe', w)].pub_wall:.3f} s with {names[('subscribe', w)]}"
             for w in ("pitemp", "mosquitto") if results[(q, "subscribe", w)] is not None]
    print(f"  QoS {q}: " + ", ".join(walls))
print("pitemp-sink does more than mosquitto_sub: it decodes and validates every payload, dedups")
print("(device, boot, seq), formats a text line, writes it, and at the end fsyncs and renames the file.")
for f in failed:
    print(f"FAILED: {f}")
sys.exit(1 if failed else 0)
