"""End-to-end tests of pitemp-sensor -> mosquitto -> pitemp-sink against
the contract in SPEC.md: real broker (generated from the dev profile) on a
free port, the real programs, real files. Every test is bounded (< 30 s).
"""

import csv
import io
import json
import re
import signal
import socket
from pathlib import Path

import pytest

from conftest import (CORPUS, REPO, TEXT_HEADER, TS_RE,
                      bounded_polls, free_port, mqtt_publish_all, parse_summary,
                      read_text_readings, sensor_argv, sink_argv)

SUBSCRIBED = r"pitemp-sink: info: subscribed to pitemp/\+/temperature"
VERSION = re.search(r"^VERSION\s*:?=\s*(\S+)",
                    (REPO / "config.mk").read_text(), re.M).group(1)


def only_files(d):
    return sorted(p.name for p in Path(d).iterdir())


def assert_text_readings(path, device, n, first_seq=0):
    header, rows = read_text_readings(path)
    assert header == TEXT_HEADER
    assert len(rows) == n, f"{path}: {len(rows)} readings, want {n}"
    seqs = [int(r["seq"]) for r in rows]
    assert seqs == list(range(first_seq, first_seq + n)), \
        f"{path}: seq not consecutive from {first_seq}: {seqs}"
    for r in rows:
        assert r["device"] == device
        assert -40.0 <= float(r["temp"]) <= 125.0, r.group(0)
    return rows


# --------------------------------------------------------------------------
# Happy path

def test_sensor_to_sink_stores_100_readings(bins, broker, procs, workdir):
    out_dir = workdir / "out"
    out_dir.mkdir()
    out = out_dir / "readings.txt"
    sink = procs.start("sink", sink_argv(
        bins, broker.port, "--count", "100", "--output", out,
        "--timeout", "30"))
    sink.wait_for_line(SUBSCRIBED)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "100", "--count", "100",
        "--source", "sim", "--device", "itest-1"))

    assert sensor.wait_exit(20) == 0, sensor.describe()
    assert sink.wait_exit(20) == 0, sink.describe()

    sensor.wait_for_line(rf"pitemp-sensor: info: connected to 127\.0\.0\.1:{broker.port}\b", 1)
    assert_text_readings(out, "itest-1", 100)
    # Written under a temporary name and renamed: nothing else is left.
    assert only_files(out_dir) == ["readings.txt"]
    s = parse_summary(sink)
    assert "stored=100 invalid=0 duplicates=0" in sink.stderr(), sink.describe()
    assert (s["stored"], s["invalid"], s["duplicates"]) == ("100", "0", "0")


def test_published_payloads_match_schema(bins, broker, procs,
                                         reading_validator):
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "100", "--source", "sim",
        "--device", "itest-schema"))
    sensor.wait_for_line(r"pitemp-sensor: info: connected to ")
    # The sensor runs until SIGTERM, so the subscriber gets its 50 messages
    # whenever its SUBACK comes; -W bounds it.
    sub = procs.run("mosquitto_sub", [
        "mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port),
        "-t", "pitemp/+/temperature", "-C", "50", "-q", "1", "-W", "20"],
        timeout=25)
    assert sub.returncode == 0, sub.describe()
    sensor.signal(signal.SIGTERM)
    assert sensor.wait_exit(10) == 0, sensor.describe()

    payloads = sub.stdout_bytes().split(b"\n")
    assert payloads[-1] == b""
    payloads = payloads[:-1]
    assert len(payloads) == 50
    seqs = []
    for raw in payloads:
        assert len(raw) <= 1024, raw
        doc = json.loads(raw.decode("utf-8"))
        errors = sorted(reading_validator.iter_errors(doc), key=str)
        assert not errors, f"{raw!r}: {[e.message for e in errors]}"
        assert doc["device"] == "itest-schema"
        seqs.append(doc["seq"])
    assert seqs == list(range(seqs[0], seqs[0] + 50)), seqs
    assert len({json.loads(p)["boot"] for p in payloads}) == 1


def test_status_online_retained_then_offline_on_sigterm(bins, broker, procs):
    topic = "pitemp/itest-2/status"
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "100", "--source", "sim",
        "--device", "itest-2"))
    sensor.wait_for_line(r"pitemp-sensor: info: connected to ")
    sub = procs.run("status-online", [
        "mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port),
        "-t", topic, "-C", "1", "-q", "1", "-v", "-W", "10"], timeout=15)
    assert sub.returncode == 0, sub.describe()
    assert sub.stdout_bytes() == f"{topic} online\n".encode()
    assert sensor.running()

    sensor.signal(signal.SIGTERM)
    assert sensor.wait_exit(10) == 0, sensor.describe()

    # Retained: a subscriber arriving after the shutdown sees "offline".
    sub = procs.run("status-offline", [
        "mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port),
        "-t", topic, "-C", "1", "-q", "1", "-v", "-W", "10"], timeout=15)
    assert sub.returncode == 0, sub.describe()
    assert sub.stdout_bytes() == f"{topic} offline\n".encode()


def test_sensor_started_before_broker_delivers_everything(
        bins, broker_factory, procs, workdir):
    """The sensor starts with no broker on its port, keeps its readings,
    and delivers all of them once the broker comes up.

    Order: the sink's persistent session (--persistent --id) is created on
    the broker first and saved by a clean broker stop, so when the broker
    restarts it already queues for the sink whatever the sensor publishes,
    whenever the sink itself comes back. Then a plain TCP listener stands
    in for the dead port until the sensor has provably tried to connect
    (accept), and is closed before the real broker starts on that port."""
    port = free_port()
    broker = broker_factory(port=port)
    sink_id = "itest-sink-late"

    broker.start()
    first = procs.start("sink-register", sink_argv(
        bins, port, "--persistent", "--id", sink_id, "--count", "50",
        "--output", workdir / "register.txt", "--timeout", "20"))
    first.wait_for_line(SUBSCRIBED)
    first.signal(signal.SIGTERM)
    first.wait_exit(10)
    broker.stop()
    assert "Saving in-memory database" in broker.log(), broker.describe()

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lst:
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(("127.0.0.1", port))
        lst.listen(4)
        lst.settimeout(10)
        sensor = procs.start("sensor", sensor_argv(
            bins, port, "--rate", "100", "--count", "50", "--source", "sim",
            "--device", "itest-3"))
        conn, _ = lst.accept()       # the sensor is trying to connect
        conn.close()
    assert sensor.running(), sensor.describe()

    broker.start()
    out = workdir / "late.txt"
    sink = procs.start("sink", sink_argv(
        bins, port, "--persistent", "--id", sink_id, "--count", "50",
        "--output", out, "--timeout", "25"))

    assert sensor.wait_exit(25) == 0, sensor.describe()
    assert sink.wait_exit(25) == 0, sink.describe()
    sensor.wait_for_line(rf"pitemp-sensor: info: connected to 127\.0\.0\.1:{port}\b", 1)
    assert_text_readings(out, "itest-3", 50)
    s = parse_summary(sink)
    assert (s["stored"], s["invalid"], s["duplicates"]) == ("50", "0", "0")


# --------------------------------------------------------------------------
# Bad input

CORPUS_FILES = sorted(CORPUS.iterdir())
WARN_RE = re.compile(
    r"^pitemp-sink: warning: invalid payload on (?P<topic>\S+): (?P<reason>\S.*)$")


def test_json_test_suite_never_stops_the_sink(bins, broker, procs, workdir):
    assert len(CORPUS_FILES) == 318
    bad = [("pitemp/bad/temperature", f.read_bytes()) for f in CORPUS_FILES]
    out = workdir / "readings.txt"
    # A logger (-C 0), so that how the broker interleaves the bad payloads
    # with the sensor's readings cannot end the run early; the test stops
    # it once everything has arrived. -d: one line per invalid payload, no
    # rate limit (test_flood.py checks the limit), so every reason can be
    # checked.
    sink = procs.start("sink", sink_argv(
        bins, broker.port, "-C", "0", "-o", out, "-d"))
    sink.wait_for_line(SUBSCRIBED)

    # Half of the corpus before the sensor starts, half while it runs.
    half = len(bad) // 2
    mqtt_publish_all(broker.port, bad[:half])
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "100", "-C", "100",
        "--source", "sim", "--device", "itest-good"))
    sensor.wait_for_line(r"pitemp-sensor: info: connected to ")
    mqtt_publish_all(broker.port, bad[half:])
    assert sensor.wait_exit(20) == 0, sensor.describe()

    def invalid_lines():
        return [l for l in sink.stderr_lines() if "invalid payload" in l]
    for _ in bounded_polls(20):
        assert sink.running(), "sink ended on bad input\n" + sink.describe()
        if len(invalid_lines()) >= 318 and out.exists() and \
                len(out.read_text().splitlines()) >= 101:
            break
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(20) == 0, sink.describe()

    assert_text_readings(out, "itest-good", 100)
    warnings = invalid_lines()
    for line in warnings:
        m = WARN_RE.match(line)
        assert m, f"not 'invalid payload on <topic>: <reason>': {line!r}"
        assert m["topic"] == "pitemp/bad/temperature", line
    assert len(warnings) == 318, sink.describe()
    s = parse_summary(sink)
    assert (s["stored"], s["invalid"]) == ("100", "318"), sink.describe()


def _near_miss(device, **over):
    doc = {"device": device, "boot": "0123456789abcdef", "seq": 1,
           "ts": "2026-11-24T21:23:04.123456Z", "temp_c": 22.53,
           "mv": 725.3, "raw": 225}
    doc.update(over)
    return json.dumps(doc, separators=(",", ":")).encode()


def _oversized():
    base = _near_miss("nm-size")
    # Valid JSON, valid reading, only too long: padded with whitespace.
    return base[:-1] + b" " * (1100 - len(base)) + b"}"


# topic device -> (payload, regex the reason must match: it names the field)
NEAR_MISSES = {
    "nm-temp": (_near_miss("nm-temp", temp_c=130), r"temp_c"),
    "nm-extra": (_near_miss("nm-extra", colour="red"), r"colour"),
    "nm-size": (_oversized(), r"(?i)1024|size|too (long|large|big)|bytes"),
    "nm-utf8": (_near_miss("nm-utf8").replace(b'"nm-utf8"', b'"nm-\xff\xfe"'),
                r"(?i)device|utf-?8"),
    "nm-seq": (_near_miss("nm-seq", seq=-1), r"seq"),
    "nm-ts": (_near_miss("nm-ts", ts="2026-11-24T21:23:04Z"), r"\bts\b"),
    "nm-boot": (_near_miss("nm-boot", boot="0123456789ABCDEF"), r"boot"),
}


def test_near_miss_payloads_are_rejected_naming_the_field(
        bins, broker, procs, workdir):
    assert len(_oversized()) == 1100
    out = workdir / "readings.txt"
    sink = procs.start("sink", sink_argv(
        bins, broker.port, "--count", "20", "--output", out,
        "--timeout", "25", "-d"))      # -d: every line, no rate limit
    sink.wait_for_line(SUBSCRIBED)
    mqtt_publish_all(broker.port, [(f"pitemp/{d}/temperature", p)
                                   for d, (p, _) in NEAR_MISSES.items()])
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "100", "--count", "20",
        "--source", "sim", "--device", "itest-nm"))
    assert sensor.wait_exit(20) == 0, sensor.describe()
    assert sink.wait_exit(20) == 0, sink.describe()

    assert_text_readings(out, "itest-nm", 20)   # no nm-* device stored
    reasons = {}
    for line in sink.stderr_lines():
        m = WARN_RE.match(line)
        if m:
            reasons.setdefault(m["topic"], []).append(m["reason"])
    for dev, (payload, want) in NEAR_MISSES.items():
        got = reasons.get(f"pitemp/{dev}/temperature")
        assert got and len(got) == 1, \
            f"{dev}: want one warning, got {got}\n{sink.describe()}"
        assert re.search(want, got[0]), f"{dev}: reason {got[0]!r} !~ /{want}/"
    s = parse_summary(sink)
    assert (s["stored"], s["invalid"]) == ("20", str(len(NEAR_MISSES)))


# --------------------------------------------------------------------------
# Command line

USAGE_ERRORS = [
    (["--qos", "7"], r"qos"),
    (["--rate", "abc"], r"rate"),
    (["--count", "-1"], r"count"),
    (["--no-such-option"], r"no-such-option"),
]


@pytest.mark.parametrize("prog", ["sensor", "sink"])
@pytest.mark.parametrize("args,names", USAGE_ERRORS,
                         ids=[a[0].lstrip("-") for a, _ in USAGE_ERRORS])
def test_usage_error_exits_2_naming_the_option(bins, procs, workdir,
                                               prog, args, names):
    # The sink has no --rate: then it is an unknown option, still exit 2.
    port = free_port()   # nothing listens: a usage error must not connect
    argv = (sensor_argv if prog == "sensor" else sink_argv)(
        bins, port, *args)
    if prog == "sink":
        argv += ["--output", workdir / "never.txt"]
    p = procs.run(prog, argv, timeout=10)
    assert p.returncode == 2, p.describe()
    assert re.search(names, p.stderr()), p.describe()
    assert not (workdir / "never.txt").exists()


@pytest.mark.parametrize("prog", ["sensor", "sink"])
def test_version_and_help_exit_0(bins, procs, prog):
    v = procs.run(prog + "-version", [bins[prog], "--version"])
    assert v.returncode == 0, v.describe()
    assert VERSION in v.stdout_bytes().decode(), v.describe()
    h = procs.run(prog + "-help", [bins[prog], "--help"])
    assert h.returncode == 0, h.describe()
    text = h.stdout_bytes().decode()
    assert f"pitemp-{prog}" in text and "--count" in text, h.describe()


def test_sink_timeout_exits_3(bins, broker, procs, workdir):
    out = workdir / "readings.txt"
    sink = procs.start("sink", sink_argv(
        bins, broker.port, "--count", "100", "--output", out,
        "--timeout", "2"))
    sink.wait_for_line(SUBSCRIBED)
    assert sink.wait_exit(15) == 3, sink.describe()
    s = parse_summary(sink)
    assert s["stored"] == "0"
    # Written under a temporary name, renamed only when complete.
    assert not out.exists()


# --------------------------------------------------------------------------
# Output formats

def test_timestamps_never_go_back_after_a_stalled_sensor(bins, broker, procs,
                                                         workdir):
    """Timestamps are the samples' deadlines; a stalled sensor (SIGSTOP
    stands in for a busy Pi) catches up with late samples stamped with the
    time they were taken, and the first on-time deadline after them must
    not lie before those."""
    import time
    from datetime import datetime
    out = workdir / "readings.txt"
    sink = procs.start("sink", sink_argv(
        bins, broker.port, "--count", "300", "--output", out,
        "--timeout", "30"))
    sink.wait_for_line(SUBSCRIBED)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "100", "--count", "300",
        "--source", "sim", "--device", "stall"))
    sensor.wait_for_line(r"connected to ")
    for _ in range(2):          # two stalls of ~120 ms (fault injection)
        time.sleep(0.4)
        sensor.signal(signal.SIGSTOP)
        time.sleep(0.12)
        sensor.signal(signal.SIGCONT)
    assert sensor.wait_exit(20) == 0, sensor.describe()
    assert sink.wait_exit(20) == 0, sink.describe()
    rows = assert_text_readings(out, "stall", 300)
    ts = [datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%S.%fZ") for r in rows]
    back = [(i, ts[i - 1], ts[i]) for i in range(1, len(ts)) if ts[i] <= ts[i - 1]]
    assert not back, f"timestamps went back: {back[:3]}"


def _run_pair(bins, broker, procs, out, fmt, device, n=20):
    sink = procs.start("sink", sink_argv(
        bins, broker.port, "--count", str(n), "--output", out,
        "--format", fmt, "--timeout", "25"))
    sink.wait_for_line(SUBSCRIBED)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "100", "--count", str(n),
        "--source", "sim", "--device", device))
    assert sensor.wait_exit(20) == 0, sensor.describe()
    assert sink.wait_exit(20) == 0, sink.describe()


RECV_TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_sink_csv_format(bins, broker, procs, workdir):
    out = workdir / "readings.csv"
    _run_pair(bins, broker, procs, out, "csv", "itest-csv")
    text = out.read_text()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["device", "boot", "seq", "ts", "temp_c", "mv", "raw",
                       "recv_ts"]
    assert len(rows) == 21
    for i, r in enumerate(rows[1:]):
        assert len(r) == 8, r
        device, boot, seq, ts, temp, mv, raw, recv = r
        assert device == "itest-csv"
        assert re.fullmatch(r"[0-9a-f]{16}", boot), r
        assert int(seq) == i, r
        assert re.fullmatch(TS_RE, ts), r
        assert re.fullmatch(r"-?\d{1,3}\.\d\d", temp), r
        assert -40 <= float(temp) <= 125, r
        assert mv == "" or 0 <= float(mv) <= 3300, r
        assert raw == "" or re.fullmatch(r"-?\d+", raw), r
        assert RECV_TS_RE.match(recv), r
    assert len({r[1] for r in rows[1:]}) == 1


def test_sink_jsonl_format(bins, broker, procs, workdir, reading_validator):
    out = workdir / "readings.jsonl"
    _run_pair(bins, broker, procs, out, "jsonl", "itest-jsonl")
    lines = out.read_text().splitlines()
    assert len(lines) == 20, lines[:3]
    for i, line in enumerate(lines):
        doc = json.loads(line)
        assert isinstance(doc, dict), line
        recv = doc.pop("recv_ts")
        assert isinstance(recv, str) and RECV_TS_RE.match(recv), line
        errors = list(reading_validator.iter_errors(doc))
        assert not errors, f"{line}: {[e.message for e in errors]}"
        assert doc["device"] == "itest-jsonl" and doc["seq"] == i
