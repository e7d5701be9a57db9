"""A user's first hour (issue #14): errors that say what to do. A
configuration mistake exits 2 at start with a message naming the option
and what to do (nothing received, nothing written); a runtime problem
says what is likely wrong.
"""

import os
import re
import time

import pytest

from conftest import free_port, parse_summary, sensor_argv, sink_argv


# --------------------------------------------------------------------------
# Configuration mistakes: exit 2 at start, the option named

USAGE_CASES = {
    # name: (program, extra args, message regex)
    "sink-filter-hash-inside": (
        "sink", ["-t", "pitemp/#/x"],
        r"error: option --topic: 'pitemp/#/x' has '#' at byte 7: '#' must be "
        r"the whole last level"),
    "sink-filter-plus-in-level": (
        "sink", ["-t", "pitemp/a+/temperature"],
        r"option --topic: .* '\+' must be a whole level"),
    "sensor-topic-wildcard": (
        "sensor", ["-t", "pitemp/+/temperature"],
        r"option --topic: 'pitemp/\+/temperature' has the wildcard '\+'"),
    "sensor-topic-too-long": (
        "sensor", ["-t", "x" * 65536],
        r"option --topic: 'x+\.\.\.' is 65536 bytes long, longer than MQTT's 65535"),
    "sensor-topic-control-char": (
        "sensor", ["-t", "pitemp/a\tb"],
        r"option --topic: .* has a control character \(U\+0009"),
    "sink-cafile-missing": (
        "sink", ["--cafile", "/nonexistent/ca.crt"],
        r"error: option --cafile: cannot read '/nonexistent/ca.crt': "
        r"No such file or directory"),
    "sensor-cafile-missing": (
        "sensor", ["--cafile", "/nonexistent/ca.crt"],
        r"error: option --cafile: cannot read '/nonexistent/ca.crt'"),
    "sensor-key-missing": (
        "sensor", ["--cafile", "/dev/null", "--cert", "/dev/null",
                   "--key", "/nonexistent/k.pem"],
        r"error: option --key: cannot read '/nonexistent/k.pem'"),
    "sink-password-file-missing": (
        "sink", ["--password-file", "/nonexistent/pw"],
        r"error: option --password-file: cannot read '/nonexistent/pw'"),
    "sink-cafile-in-socket-mode": (
        "sink", ["--mode", "socket", "--cafile", "/dev/null"],
        r"error: option --cafile applies only to --mode mqtt, not to --mode "
        r"socket: remove it"),
    "sensor-username-in-socket-mode": (
        "sensor", ["--mode", "socket", "-u", "pi"],
        r"error: option --username applies only to --mode mqtt"),
    "sink-bind-in-mqtt-mode": (
        "sink", ["--bind", "127.0.0.1"],
        r"error: option --bind applies only to --mode socket, not to --mode mqtt"),
    "sink-max-clients-in-mqtt-mode": (
        "sink", ["--max-clients", "4"],
        r"error: option --max-clients applies only to --mode socket"),
    "sink-idle-timeout-in-mqtt-mode": (
        "sink", ["--idle-timeout", "4"],
        r"error: option --idle-timeout applies only to --mode socket"),
    "sensor-insecure-without-tls": (
        "sensor", ["--insecure"],
        r"error: option --insecure needs --cafile"),
}


@pytest.mark.parametrize("case", sorted(USAGE_CASES))
def test_configuration_mistake_exits_2_naming_the_option(bins, procs, workdir,
                                                         case):
    prog, extra, msg = USAGE_CASES[case]
    port = free_port()     # nothing listens: the run must not get that far
    out = workdir / "readings.txt"
    if prog == "sink":
        argv = sink_argv(bins, port, "-C", "1", "-W", "30", "-o", out, *extra)
        if "socket" in extra:
            argv = [bins["sink"], "-C", "1", "-W", "30", "-o", out, *extra]
    else:
        argv = sensor_argv(bins, port, "-C", "1", *extra)
    env = {k: v for k, v in os.environ.items() if k != "PITEMP_PASSWORD"}
    p = procs.start(prog, argv, env=env)
    assert p.wait_exit(10) == 2, p.describe()
    err = p.stderr()
    assert re.search(msg, err), p.describe()
    assert "(see --help)" in err
    assert len(err.splitlines()) == 1, p.describe()   # nothing else happened
    assert not out.exists()


# --------------------------------------------------------------------------
# The sink's output: checked at start

def test_appending_another_format_is_refused_naming_both(bins, procs, workdir,
                                                         broker):
    out = workdir / "readings.csv"
    before = "device,boot,seq,ts,temp_c,mv,raw,recv_ts\n" \
             "pi-1,5f0c2a9e41d3b7a8,1,2026-11-24T21:23:04.123456Z,22.53,725.3,225," \
             "2026-11-24T21:23:04.123789Z\n"
    out.write_text(before)
    sink = procs.start("sink", sink_argv(bins, broker.port, "-C", "0",
                                         "-F", "text", "-o", out))
    assert sink.wait_exit(10) == 2, sink.describe()
    assert re.search(r"error: option --format text: '.*readings\.csv' holds "
                     r"csv, not text; a logger appends, so give --format csv",
                     sink.stderr()), sink.describe()
    assert "subscribed" not in sink.stderr()
    assert out.read_text() == before


def test_output_directory_is_refused_before_receiving(bins, procs, workdir,
                                                     broker):
    sink = procs.start("sink", sink_argv(bins, broker.port, "-C", "5",
                                         "-W", "30", "-o", workdir))
    assert sink.wait_exit(10) == 2, sink.describe()
    assert re.search(r"error: option --output: '.*' is a directory; give a "
                     r"file name", sink.stderr()), sink.describe()
    assert "subscribed" not in sink.stderr()
    missing = workdir / "no" / "such" / "readings.txt"
    sink = procs.start("sink2", sink_argv(bins, broker.port, "-C", "5",
                                          "-W", "30", "-o", missing))
    assert sink.wait_exit(10) == 2, sink.describe()
    assert re.search(r"error: option --output: .*its directory .*: No such "
                     r"file or directory", sink.stderr()), sink.describe()


def test_logger_timeout_says_why_it_exits_3(bins, procs, workdir):
    out = workdir / "log.txt"
    sink = procs.start("sink", sink_argv(bins, free_port(), "-C", "0",
                                         "-W", "1", "-o", out))
    assert sink.wait_exit(15) == 3, sink.describe()
    assert re.search(r"warning: timeout: 1 s passed; a logger \(-C 0\) has no "
                     r"count to reach, so --timeout ends it with status 3 "
                     r"\(0 readings stored in .*log\.txt\)", sink.stderr()), \
        sink.describe()
    parse_summary(sink)


# --------------------------------------------------------------------------
# Connections: what is likely wrong

@pytest.mark.parametrize("prog", ["sensor", "sink"])
def test_tls_against_a_plain_port_says_so_and_exits_1(bins, procs, workdir,
                                                      broker, prog):
    from conftest import secure_setup
    pki = secure_setup(workdir / "pki", ["localhost", "127.0.0.1"],
                       sensors=["x"])
    args = ["--cafile", pki / "ca.crt"]
    if prog == "sink":
        argv = sink_argv(bins, broker.port, "-C", "1", "-W", "60", "-o",
                         workdir / "r.txt", *args)
    else:
        argv = sensor_argv(bins, broker.port, "-C", "1", *args)
    p = procs.start(prog, argv)
    assert p.wait_exit(20) == 1, p.describe()
    assert re.search(r"error: connection refused by 127\.0\.0\.1:\d+: the port "
                     r"speaks plain MQTT, not TLS \(drop --cafile", p.stderr()), \
        p.describe()
    assert "retrying" not in p.stderr()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a network namespace")
def test_unresolvable_host_is_named_as_such(bins, procs, workdir):
    """In a network namespace of its own (nothing but a down loopback), no
    name server can answer: the sensor must say the name did not resolve,
    not paho's 'Failure'."""
    p = procs.start("sensor", ["unshare", "--net", bins["sensor"], "--host",
                               "pitemp-broker.invalid", "-C", "0"])
    line = p.wait_for_line(r"warning: cannot resolve", 20)
    assert "'pitemp-broker.invalid' (--host)" in line and \
        line.endswith("; retrying"), line
    p.signal(__import__("signal").SIGTERM)
    assert p.wait_exit(10) == 0, p.describe()
    assert "Failure" not in p.stderr()


# --------------------------------------------------------------------------
# Stopping a sensor with readings buffered: one line, well inside the unit's
# TimeoutStopSec (10 s)

DISCARDED_RE = re.compile(r"warning: (\d+) readings not acknowledged by "
                          r"\S+ are discarded at exit \((.*)\)$")
SENSOR_SUMMARY_RE = re.compile(r"info: samples=\d+ published=(\d+) "
                               r"delivered=(\d+) failed=(\d+)")


def stopped_sensor_report(p):
    lines = p.stderr_lines()
    assert not [l for l in lines if "publish failed" in l], p.describe()
    discarded = [m for m in map(DISCARDED_RE.search, lines) if m]
    assert len(discarded) == 1, p.describe()
    summary = [m for m in map(SENSOR_SUMMARY_RE.search, lines) if m]
    assert summary and SENSOR_SUMMARY_RE.search(lines[-1]), \
        "the summary is the last line\n" + p.describe()
    published, delivered, failed = map(int, summary[-1].groups())
    assert int(discarded[0][1]) == published - delivered - failed
    return int(discarded[0][1]), discarded[0][2]


def test_sigterm_with_the_broker_away_discards_in_one_line_at_once(bins, procs):
    import signal
    p = procs.start("sensor", sensor_argv(bins, free_port(), "-C", "0"))
    p.wait_for_line(r"retrying")      # readings are buffered from the start
    p.signal(signal.SIGTERM)
    # Nothing can be acknowledged without a connection: no waiting (the old
    # stop waited its 5 s flush out).
    assert p.wait_exit(4) == 0, p.describe()
    n, why = stopped_sensor_report(p)
    assert n > 0 and why == "not connected"


def test_sigterm_with_a_stuck_broker_stops_inside_the_unit_limit(bins, procs,
                                                                broker):
    import signal
    p = procs.start("sensor", sensor_argv(bins, broker.port, "-C", "0"))
    p.wait_for_line(r"info: connected to ")
    broker.proc.signal(signal.SIGSTOP)      # connected, but nothing acknowledged
    try:
        # Whatever the sensor publishes from here on, and its "offline",
        # stays unacknowledged: let it publish readings first (a stop with
        # only "offline" unacknowledged says so in another line).
        time.sleep(0.5)
        p.signal(signal.SIGTERM)
        # The whole stop (flush, "offline", disconnect) is bounded by 5 s;
        # the old one took 5 s of flush plus up to 6 s of disconnect.
        assert p.wait_exit(9) == 0, p.describe()
    finally:
        broker.proc.signal(signal.SIGCONT)
    assert stopped_sensor_report(p)[1] == "no acknowledgement within 5 s"


def test_sigterm_with_only_the_status_unacknowledged_says_so(bins, procs,
                                                            broker):
    """Every reading acknowledged, only "offline" (or a summary) not: the
    sensor says that, not "0 readings discarded", and exits 0."""
    import signal
    p = procs.start("sensor", sensor_argv(bins, broker.port, "-C", "0",
                                          "--rate", "1",
                                          "--summary-period", "0"))
    p.wait_for_line(r"info: connected to ")
    time.sleep(0.3)       # the first reading is acknowledged; the next at 1 s
    broker.proc.signal(signal.SIGSTOP)
    try:
        p.signal(signal.SIGTERM)
        assert p.wait_exit(9) == 0, p.describe()
    finally:
        broker.proc.signal(signal.SIGCONT)
    lines = p.stderr_lines()
    assert not [l for l in lines if DISCARDED_RE.search(l)], p.describe()
    assert [l for l in lines if re.search(
        r"warning: \S+ did not acknowledge the status or summary messages "
        r"\(no acknowledgement within 5 s\); no reading is left$",
        l)], \
        p.describe()
    published, delivered, failed = map(
        int, SENSOR_SUMMARY_RE.search(lines[-1]).groups())
    assert published == delivered > 0 and failed == 0, p.describe()


def test_buffer_full_tells_the_buffer_that_is_there(bins, procs):
    """At --rate 20000, 60 s of readings would be 1.2 million: the buffer is
    bounded (MQTT has 65535 message ids; both transports get the same
    bound), and the warning quotes the bound that holds, which the count of
    readings held confirms. Socket mode: its buffer fills in seconds, paho's
    in a minute (it counts its queue on every publish)."""
    import signal
    p = procs.start("sensor", [bins["sensor"], "--mode", "socket", "--host",
                               "127.0.0.1", "--port", str(free_port()),
                               "--rate", "20000", "-C", "0"])
    line = p.wait_for_line(r"warning: buffer full", 60)
    m = re.search(r"buffer full \((\d+) readings, 3 s at 20000 Hz\): "
                  r"reading \d+ dropped, 1 dropped so far", line)
    assert m, line
    p.signal(signal.SIGTERM)
    assert p.wait_exit(10) == 0, p.describe()
    published = int(SENSOR_SUMMARY_RE.search(p.stderr_lines()[-1])[1])
    assert published == int(m[1]) == 60000, p.describe()


# --------------------------------------------------------------------------
# -d: what the programs do and why

def test_debug_tells_connects_subscriptions_causes_and_counters(bins, procs,
                                                                workdir,
                                                                broker):
    import signal
    sink = procs.start("sink", sink_argv(bins, broker.port, "-d", "-C", "0",
                                         "-o", workdir / "log.txt"))
    sink.wait_for_line(r"debug: mqtt: connecting to tcp://127\.0\.0\.1:\d+ as "
                       r"'pitemp-sink-\S+' \(MQTT 3\.1\.1, persistent session, "
                       r"keep-alive 30 s, user none, no TLS\)")
    sink.wait_for_line(r"debug: mqtt: subscribing to pitemp/\+/temperature at qos 1")
    sink.wait_for_line(r"debug: session: persistent")
    sensor = procs.start("sensor", sensor_argv(bins, broker.port, "-d", "-C", "0",
                                               "--device", "dbg-1"))
    sensor.wait_for_line(r"debug: mqtt: connected to \S+ after \d+\.\d s of trying")
    sensor.wait_for_line(r"debug: buffer: 6000 readings, 60 s at 100 Hz")
    broker.stop()
    sensor.wait_for_line(r"debug: mqtt: connection lost after \d+\.\d s connected "
                         r"\(paho's cause: .*\); \d+ publishes outstanding, kept "
                         r"and re-sent after the reconnect", 15)
    broker.start()
    sensor.wait_for_line(r"debug: mqtt: reconnected to \S+ after \d+\.\d s offline; "
                         r"\d+ publishes outstanding", 30)
    sink.wait_for_line(r"debug: counters: [1-9]\d* stored, \d+\.\d readings/s, "
                       r"\d+ gaps?", 30)
    for p in (sensor, sink):
        p.signal(signal.SIGTERM)
        assert p.wait_exit(10) == 0, p.describe()


# --------------------------------------------------------------------------
# A terminal gets times and the sink's progress; systemd's journal neither

ANSI_STATUS = "\r\x1b[K"


def run_on_pty(argv, env, timeout=30):
    """Run argv with stderr on a new pseudo-terminal (stdout to /dev/null);
    return (exit status, everything written to the terminal). Bounded; the
    process is killed by PID if it overstays."""
    import pty
    import select
    import subprocess
    import time
    master, slave = pty.openpty()
    st = os.fstat(slave)
    env = dict(env)
    if env.get("JOURNAL_STREAM") == "pty":
        env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=slave, env=env,
                         start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if r:
                try:
                    data = os.read(master, 65536)
                except OSError:       # EIO: the terminal's last writer left
                    break
                if not data:
                    break
                out += data
            elif p.poll() is not None:
                break
        rc = p.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    return rc, out.decode("utf-8", "replace")


def sink_on_pty(bins, broker, workdir, journal):
    import threading
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    if journal:
        env["JOURNAL_STREAM"] = "pty"    # run_on_pty fills in the pty's dev:ino
    result = {}
    out = workdir / "readings.txt"
    t = threading.Thread(target=lambda: result.update(r=run_on_pty(
        sink_argv(bins, broker.port, "-C", "150", "-W", "30", "-o", out), env)))
    t.start()
    return t, result


@pytest.mark.parametrize("journal", [False, True], ids=["terminal", "journal"])
def test_a_terminal_shows_progress_and_times_the_journal_neither(
        bins, procs, workdir, broker, journal):
    t, result = sink_on_pty(bins, broker, workdir, journal)
    # The sink subscribes before the broker passes the readings on: wait
    # for its subscription in the broker's log.
    from conftest import bounded_polls
    for _ in bounded_polls(15):
        if re.search(r"pitemp-sink-\S+ 1 pitemp/\+/temperature", broker.log()):
            break
    else:
        pytest.fail("the sink did not subscribe\n" + broker.describe())
    sensor = procs.start("sensor", sensor_argv(bins, broker.port, "-C", "150",
                                               "--device", "tty-1"))
    assert sensor.wait_exit(30) == 0, sensor.describe()
    t.join(40)
    assert not t.is_alive()
    rc, text = result["r"]
    assert rc == 0, text
    lines = [l for l in re.split(r"\r\n|\r\x1b\[K", text) if l]
    logs = [l for l in lines if "pitemp-sink: " in l]
    progress = [l for l in lines if re.fullmatch(r"\d+ of 150 stored.*", l)]
    assert any("stored=150" in l for l in logs), text
    if journal:
        assert ANSI_STATUS not in text and not progress, text
        assert all(l.startswith("pitemp-sink: ") for l in logs), text
        return
    # Every log line starts with the time; the status line keeps being
    # rewritten below them and is gone before the summary.
    assert all(re.match(r"\d\d:\d\d:\d\d\.\d{3} pitemp-sink: ", l)
               for l in logs), text
    counts = [int(l.split()[0]) for l in progress]
    assert len(set(counts)) >= 2 and counts == sorted(counts), text
    assert re.search(r"\d+ of 150 stored, \d+\.\d readings/s, 0 gaps", text), text
    assert re.search(r"\r\x1b\[K\d\d:\d\d:\d\d\.\d{3} pitemp-sink: info: "
                     r"stored=150 .*\r\n$", text), text
