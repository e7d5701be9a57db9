#!/usr/bin/python3
"""bench/profile.py: where does a reading's cost go? Instructions, not seconds.

Runs each program under valgrind's callgrind, which counts the instructions
every function executes (all threads): repeatable to a fraction of a percent
for the same binary and inputs, however loaded the machine is, so before and
after can be compared on a busy 2-core box where CPU seconds cannot.

  sink    pitemp-sink -c --count N draining N readings queued for its
          persistent session, next to mosquitto_sub -c -C N on the same backlog
  sensor  pitemp-sensor --rate 0 --count N, next to mosquitto_pub -l fed N
          payloads, each drained by a mosquitto_sub

For each: instructions per reading (the whole run, connect included, / N),
pitemp's over mosquitto's, the inclusive cost of pitemp's own per-reading
steps, and the top functions by their own (self) instructions. The
callgrind files stay in --keep DIR when given (callgrind_annotate reads them).

    /usr/bin/python3 bench/profile.py [--count N] [--qos 0|1] [--top K] [--keep DIR]

Needs valgrind (`make profile` installs it). A benchmark: prints, asserts nothing.
"""
import argparse, os, re, shutil, signal, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import broker as broker_mod  # noqa: E402
import benchlib  # noqa: E402
from benchlib import Proc, bindir, payloads, wait_all, wait_subscribed  # noqa: E402

ap = argparse.ArgumentParser(description="callgrind instruction profile of pitemp vs mosquitto clients")
ap.add_argument("--count", type=int, default=10000, help="readings per run (default 10000, < 65535)")
ap.add_argument("--qos", type=int, choices=(0, 1), default=1, help="QoS (default 1)")
ap.add_argument("--top", type=int, default=12, help="functions listed per program (default 12)")
ap.add_argument("--keep", help="copy the callgrind output files into this directory")
args = ap.parse_args()
if not 1 <= args.count < 65535:
    ap.error("--count must be 1..65534")
if shutil.which("valgrind") is None:
    sys.exit("profile.py: valgrind is not installed (make profile installs it)")
N, Q = args.count, args.qos
TOPIC, FILTER = "pitemp/bench/temperature", "pitemp/+/temperature"
# pitemp's own per-reading steps, reported inclusive (each includes what it calls).
STEPS = {"sink": ["handle_payload", "pt_codec_decode", "cJSON_ParseWithLengthOpts",
                  "store_put", "writer_write", "dedup_check", "mqtt_msgarrvd"],
         "sensor": ["publish_sample", "pt_codec_encode", "pt_mqtt_publish",
                    "MQTTAsync_sendMessage", "pt_mqtt_wait_room"]}


def callgrind(out):
    return ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]


def total_ir(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    return 0


def annotate(path, inclusive):
    r = subprocess.run(["callgrind_annotate", "--inclusive=" + ("yes" if inclusive else "no"),
                        "--threshold=100", path], capture_output=True, text=True, timeout=120)
    rows = []
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$", line)
        if m and "PROGRAM TOTALS" not in m.group(2):
            rows.append((int(m.group(1).replace(",", "")), m.group(2)))
    return rows


def short(fn):
    """'file:function [object]' -> 'function (object basename)'."""
    m = re.match(r"(.*?):(\S+)(?: \[(.*)\])?$", fn)
    if not m:
        return fn
    obj = os.path.basename(m.group(3)) if m.group(3) else ""
    return f"{m.group(2)}" + (f" ({obj})" if obj else "")


def register(port, argv, cid):
    p = Proc(argv)
    ok = wait_subscribed(blog, cid, p)
    p.stop(signal.SIGTERM)
    return ok


def sink_runs(d, port):
    ids = {"pitemp": "prof-sink", "mosquitto": "prof-msub"}
    out = os.path.join(d, "prof-sink.txt")
    base = {"pitemp": [f"{bindir}/pitemp-sink", "-h", "127.0.0.1", "-p", str(port), "-i", ids["pitemp"],
                       "-q", str(Q), "-c", "-o", out, "-W", "600"],
            "mosquitto": ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-i", ids["mosquitto"],
                          "-q", str(Q), "-c", "-t", FILTER]}
    for who in ("pitemp", "mosquitto"):
        if not register(port, base[who] + (["-C", str(N)] if who == "pitemp" else []), ids[who]):
            return f"{who}: no subscription"
    pf = os.path.join(d, "prof-pay.txt")
    payloads(pf, N)
    p = Proc(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", str(Q), "-l", "-t", TOPIC], stdin=pf)
    if not wait_all([p], 120) or p.rc != 0:
        return "loading the backlog failed"
    for who in ("pitemp", "mosquitto"):
        cg = os.path.join(d, f"sink-{who}.cg")
        p = Proc(callgrind(cg) + base[who] + ["-C", str(N)], stderr=os.path.join(d, f"sink-{who}.err"))
        if not wait_all([p], 60 + N / 50) or p.rc != 0:
            return f"{who} subscriber under callgrind: rc={p.rc}"
        files[("sink", who)] = cg
    return None


def sensor_runs(d, port):
    for who in ("pitemp", "mosquitto"):
        cid = f"prof-drain-{who}"
        sub = Proc(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-i", cid, "-q", str(Q),
                    "-C", str(N), "-t", TOPIC])
        if not wait_subscribed(blog, cid, sub):
            return "draining mosquitto_sub did not subscribe"
        cg = os.path.join(d, f"sensor-{who}.cg")
        if who == "pitemp":
            p = Proc(callgrind(cg) + [f"{bindir}/pitemp-sensor", "-h", "127.0.0.1", "-p", str(port),
                                      "-i", "prof-sensor", "--rate", "0", "-C", str(N), "-q", str(Q),
                                      "--device", "bench"], stderr=os.path.join(d, "sensor.err"))
        else:
            pf = os.path.join(d, "prof-pub.txt")
            payloads(pf, N)
            p = Proc(callgrind(cg) + ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", str(Q),
                                      "-l", "-t", TOPIC], stdin=pf)
        ok = wait_all([p, sub], 60 + N / 50)
        if not ok or p.rc != 0 or sub.rc != 0:
            return f"{who} publisher under callgrind: rc={p.rc}, drain rc={sub.rc}"
        files[("sensor", who)] = cg
    return None


files = {}
with tempfile.TemporaryDirectory(prefix="pitemp-profile-") as d:
    benchlib.setup(d)
    blog = os.path.join(d, "broker.log")
    broker, port = broker_mod.start(d, broker_mod.FLOOD_CONF, blog)
    try:
        failed = [w for w in (sink_runs(d, port), sensor_runs(d, port)) if w]
    finally:
        broker_mod.stop(broker)

    print(f"pitemp instruction profile (callgrind): {N} readings, QoS {Q}, paho.mqtt.c "
          f"{benchlib.paho_build()}")
    for side, (ours, theirs) in (("sink", ("pitemp-sink", "mosquitto_sub")),
                                 ("sensor", ("pitemp-sensor", "mosquitto_pub"))):
        a, b = files.get((side, "pitemp")), files.get((side, "mosquitto"))
        if not a or not b:
            continue
        ia, ib = total_ir(a) / N, total_ir(b) / N
        print()
        print(f"== {side}: {ours} {ia:,.0f} instructions per reading, {theirs} {ib:,.0f} "
              f"({ia / ib:.1f}x)")
        inc = {short(fn): ir for ir, fn in annotate(a, True)}
        steps = [(s, next((v for k, v in inc.items() if k.split(" ")[0] == s), None)) for s in STEPS[side]]
        print("   pitemp's steps, inclusive, per reading: " +
              ", ".join(f"{s} {v / N:,.0f}" for s, v in steps if v is not None))
        print(f"   top {args.top} functions by self instructions per reading:")
        for ir, fn in annotate(a, False)[:args.top]:
            print(f"   {ir / N:9,.0f}  {short(fn)}")
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        for (side, who), f in files.items():
            shutil.copy(f, os.path.join(args.keep, f"{side}-{who}.callgrind"))
    for f in failed:
        print(f"FAILED: {f}")
sys.exit(1 if failed else 0)
