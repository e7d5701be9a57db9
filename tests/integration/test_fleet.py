"""A small fleet: pitemp-bench as 20 sensors x 50 Hz x 3 s through a real
mosquitto into pitemp-sink. Every reading lands exactly once, each device
has its own boot and its seq runs 0..149 without a hole, the bench's totals
and the sink's summary agree with the file, and each device's retained
status ends "offline". The full-size measurement is bench/fleet.py
(`make bench-fleet`); this only proves the generator and the path.
"""

import csv
import json
import os
import re

import pytest

from conftest import BIN, parse_summary, sink_argv

SENSORS, RATE, SECONDS = 20, 50, 3
PER_DEVICE = RATE * SECONDS
TOTAL = SENSORS * PER_DEVICE
SUBSCRIBED = r"pitemp-sink: info: subscribed to pitemp/\+/temperature"


@pytest.fixture
def bench_bin():
    b = BIN / "pitemp-bench"
    if not os.access(b, os.X_OK):
        pytest.fail(f"{b} not built (run make, or set PITEMP_BUILD)")
    return b


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows and rows[0] == ["device", "boot", "seq", "ts", "temp_c", "mv",
                                "raw", "recv_ts"], f"{path}: header {rows[:1]}"
    return rows[1:]


def test_fleet_of_20_delivers_every_reading_once(bins, bench_bin, broker,
                                                 procs, workdir):
    out = workdir / "fleet.csv"
    sink = procs.start("sink", sink_argv(
        bins, broker.port, "-C", str(TOTAL), "-F", "csv", "-o", out,
        "-W", "60"))
    sink.wait_for_line(SUBSCRIBED)
    bench = procs.start("bench", [
        bench_bin, "-h", "127.0.0.1", "-p", str(broker.port),
        "--sensors", str(SENSORS), "--rate", str(RATE),
        "--duration", str(SECONDS), "-q", "1", "--prefix", "fleet-",
        "--json"])
    assert bench.wait_exit(60) == 0, bench.describe()
    assert sink.wait_exit(60) == 0, sink.describe()

    # The bench: every scheduled reading sent and acknowledged.
    totals = json.loads(bench.stdout_bytes())
    for key, want in (("sensors", SENSORS), ("scheduled", TOTAL),
                      ("samples", TOTAL), ("sent", TOTAL), ("acked", TOTAL),
                      ("behind", 0), ("dropped", 0), ("failed", 0),
                      ("errors", 0), ("unacked", 0), ("connects", SENSORS)):
        assert totals[key] == want, f"bench {key}={totals[key]}, want {want}"
    assert totals["per_second"], "no per-second lines in the JSON"
    assert sum(t["sent"] for t in totals["per_second"]) == TOTAL
    assert re.search(r"pitemp-bench: info: t=1 s: sent=\d+ acked=\d+ errors=0 "
                     r"connected=20 cpu=", bench.stderr()), bench.describe()

    # The file: per device one boot, seq 0..149 once each.
    rows = read_csv(out)
    assert len(rows) == TOTAL, f"{out}: {len(rows)} readings, want {TOTAL}"
    by_dev = {}
    for device, boot, seq, *_ in rows:
        by_dev.setdefault(device, []).append((boot, int(seq)))
    assert sorted(by_dev) == [f"fleet-{i:04d}" for i in range(SENSORS)]
    boots = set()
    for device, got in by_dev.items():
        assert len({b for b, _ in got}) == 1, f"{device}: several boots"
        boots.add(got[0][0])
        assert sorted(s for _, s in got) == list(range(PER_DEVICE)), \
            f"{device}: seq not 0..{PER_DEVICE - 1} exactly once"
    assert len(boots) == SENSORS, "two simulated sensors share a boot id"
    assert all(re.fullmatch(r"[0-9a-f]{16}", b) for b in boots)

    s = parse_summary(sink)
    assert (s["stored"], s["invalid"], s["duplicates"], s["gaps"]) == \
        (str(TOTAL), "0", "0", "0"), sink.describe()

    # Birth and will: each device's retained status is "offline" after a
    # clean stop.
    sub = procs.run("status", [
        "mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-v",
        "-t", "pitemp/+/status", "-C", str(SENSORS), "-W", "10"], timeout=15)
    lines = sub.stdout_bytes().decode().split("\n")
    status = dict(l.split(" ", 1) for l in lines if l)
    assert status == {f"pitemp/fleet-{i:04d}/status": "offline"
                      for i in range(SENSORS)}, sub.describe()


def test_fleet_says_when_n_cannot_be_served(bench_bin, procs):
    # 500 sensors need 564 descriptors; the bench runs under a limit of
    # 100 it cannot raise (as root: without CAP_SYS_RESOURCE, which lets a
    # process raise its hard limit).
    wrap = ["sh", "-c", 'ulimit -n 100 && exec "$0" "$@"']
    if os.geteuid() == 0:
        wrap = ["setpriv", "--bounding-set", "-sys_resource", "--"] + wrap
    bench = procs.start("bench", wrap + [
        bench_bin, "--sensors", "500", "-p", "1", "--connect-timeout", "1"])
    assert bench.wait_exit(30) == 2, bench.describe()
    assert re.search(r"pitemp-bench: error: option --sensors: 500 sensors need "
                     r"564 open files, the limit is 100 .* at most 36 sensors "
                     r"can be served", bench.stderr()), bench.describe()
    assert bench.stdout_bytes() == b""
