#!/usr/bin/python3
"""bench/pacing.py: how exact is the sensor's 100 Hz?

Runs a real mosquitto on a free loopback port, pitemp-sink and pitemp-sensor
(sim source) for N readings (default 1000) at RATE Hz (default 100) and
prints the mean interval of the payload timestamps, its error in ppm, the
interval jitter, and the wall-clock rate of arrival at the sink. It draws
their distributions, and that of the latency (sink recv_ts - ts), into
$PITEMP_BUILD/bench/pacing.png (bench/plots.py, gnuplot).

    /usr/bin/python3 bench/pacing.py [N] [RATE]

A benchmark: it prints figures and asserts nothing.
"""
import os, socket, statistics, subprocess, sys, tempfile, time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import broker as broker_mod  # noqa: E402
import plots  # noqa: E402

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.environ.get("PITEMP_BUILD", os.path.join(top, "build"))
bindir = os.path.join(build, "bin")
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
rate = float(sys.argv[2]) if len(sys.argv) > 2 else 100.0


def parse_ts(t):
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


with tempfile.TemporaryDirectory() as d:
    broker, port = broker_mod.start(d)
    try:
        out = os.path.join(d, "r.csv")
        sink = subprocess.Popen([f"{bindir}/pitemp-sink", "--host", "127.0.0.1", "--port", str(port),
                                 "--count", str(n), "--format", "csv", "--output", out,
                                 "--timeout", str(n / rate * 3 + 30)],
                                stderr=subprocess.PIPE, text=True)
        line = ""
        deadline = time.time() + 10
        while "subscribed" not in line and time.time() < deadline:
            line = sink.stderr.readline()
        subprocess.run([f"{bindir}/pitemp-sensor", "--host", "127.0.0.1", "--port", str(port),
                        "--count", str(n), "--rate", str(rate), "--device", "bench"],
                       stderr=subprocess.DEVNULL, check=True, timeout=n / rate * 3 + 30)
        rest = sink.communicate(timeout=30)[1]
        rows = [l.split(",") for l in open(out).read().splitlines()[1:]]
    finally:
        broker_mod.stop(broker)

ts = [parse_ts(r[3]) for r in rows]
recv = [parse_ts(r[7]) for r in rows]
d = [b - a for a, b in zip(ts, ts[1:])]
mean = (ts[-1] - ts[0]) / (len(ts) - 1)
period = 1.0 / rate
print(f"readings            {len(ts)} at {rate:g} Hz")
print(f"mean ts interval    {mean * 1e3:.6f} ms  (error {(mean - period) / period * 1e6:+.2f} ppm)")
print(f"ts interval jitter  stdev {statistics.pstdev(d) * 1e6:.1f} us, min {min(d) * 1e3:.3f} ms, max {max(d) * 1e3:.3f} ms")
rmean = (recv[-1] - recv[0]) / (len(recv) - 1)
print(f"arrival interval    mean {rmean * 1e3:.4f} ms, stdev {statistics.pstdev([b - a for a, b in zip(recv, recv[1:])]) * 1e6:.1f} us")
print(f"sink summary        {rest.strip().splitlines()[-1] if rest.strip() else '-'}")

lat = [(b - a) * 1e3 for a, b in zip(ts, recv)]
arr = [(b - a) * 1e3 for a, b in zip(recv, recv[1:])]
png = plots.histograms(os.path.join(build, "bench", "pacing.png"),
                       f"pacing.py: {len(ts)} readings at {rate:g} Hz", [
    {"title": f"interval between payload timestamps (ts), minus the period {period * 1e3:g} ms",
     "xlabel": "us", "series": [("ts interval - period", [(x - period) * 1e6 for x in d])],
     "logy": True},
    {"title": "interval between arrivals at the sink (recv_ts)", "xlabel": "ms",
     "series": [("arrival interval", arr)], "logy": True},
    {"title": "latency: sink recv_ts - ts", "xlabel": "ms",
     "series": [("latency", lat)], "logy": True},
])
print(f"latency             p50 {statistics.median(lat):.3f} ms, "
      f"p99 {sorted(lat)[int(0.99 * (len(lat) - 1))]:.3f} ms, max {max(lat):.3f} ms")
print(f"distributions       {png or 'not drawn (see above)'}")
