"""The harness of the pitemp integration tests (conftest.py holds the
fixtures made from it): where the build is, the formats of the spec, bounded
polling, the programs under test as processes stopped by PID, their command
lines, and small readers of what they write.

Rules kept here: readiness is a port that accepts or a log line that
appears, never a bare sleep; every wait has a deadline and a bounded
number of polls; every process started is stopped by its PID at teardown
(SIGTERM, then SIGKILL), and its stderr stays in
$PITEMP_BUILD/test-tmp/<test>/ and is printed when the test fails.
"""

import decimal
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("PITEMP_BUILD", str(REPO / "build"))).resolve()
BIN = BUILD / "bin"
DEV_CONF = REPO / "broker-config" / "mosquitto.dev.conf"
SCHEMA = REPO / "schemas" / "reading.schema.json"
CORPUS = REPO / "tests" / "corpora" / "JSONTestSuite" / "test_parsing"

POLL_S = 0.02          # interval of every polling loop below
TAIL_BYTES = 4000      # how much of a log is printed for a failed test

# The formats of SPEC.md, shared by the tests.
TS_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
TEXT_HEADER = "# seq ts device temp_c"
TEXT_LINE_RE = re.compile(
    r"^(?P<seq>0|[1-9]\d*) (?P<ts>" + TS_RE + r") "
    r"(?P<device>[A-Za-z0-9._-]{1,64}) (?P<temp>-?\d{1,3}\.\d\d)$")
SUMMARY_RE = re.compile(
    r"stored=(?P<stored>\d+) invalid=(?P<invalid>\d+) "
    r"duplicates=(?P<duplicates>\d+) gaps=(?P<gaps>\d+) "
    r"latency_p50_ms=(?P<p50>\S+) latency_p99_ms=(?P<p99>\S+)")


def bounded_polls(timeout):
    """Yield until `timeout` seconds have passed, sleeping POLL_S between
    polls; the count is bounded too, so a clock jump cannot make it spin
    forever. The caller breaks out when its condition holds."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / POLL_S) + 2):
        yield
        if time.monotonic() >= deadline:
            return
        time.sleep(POLL_S)


def tail(path, nbytes=TAIL_BYTES):
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return f"<{path}: {e.strerror}>"
    cut = data[-nbytes:]
    prefix = "...\n" if len(data) > nbytes else ""
    return prefix + cut.decode("utf-8", "replace")


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks
    it for port 0). Another process could take it before we bind it again;
    on loopback in a test run that is rare enough to accept."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Proc:
    """One program under test. stdout and stderr go to files in the
    working directory; the test reads them while the program runs."""

    def __init__(self, name, argv, workdir, env=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        with open(self.stdout_path, "wb") as out, \
                open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=env, cwd=workdir, start_new_session=True)
        self.pid = self.popen.pid

    def running(self):
        return self.popen.poll() is None

    @property
    def returncode(self):
        return self.popen.poll()

    def stderr(self):
        return self.stderr_path.read_bytes().decode("utf-8", "replace")

    def stdout_bytes(self):
        return self.stdout_path.read_bytes()

    def stderr_lines(self):
        return self.stderr().splitlines()

    def describe(self):
        return (f"--- {self.name} (pid {self.pid}, rc {self.returncode}): "
                f"{' '.join(self.argv)}\n--- stderr:\n{tail(self.stderr_path)}")

    def wait_for_line(self, pattern, timeout=10):
        """Return the first stderr line matching the regex `pattern`;
        fail if it has not appeared within `timeout` s or the program
        exited without printing it."""
        rx = re.compile(pattern)
        for _ in bounded_polls(timeout):
            exited = not self.running()
            for line in self.stderr_lines():
                if rx.search(line):
                    return line
            if exited:
                pytest.fail(f"{self.name} exited before logging /{pattern}/\n"
                            + self.describe())
        pytest.fail(f"{self.name}: no line /{pattern}/ within {timeout} s\n"
                    + self.describe())

    def wait_exit(self, timeout=30):
        """Wait for the program to exit and return its status; on timeout
        kill it and fail."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.name} still running after {timeout} s\n"
                        + self.describe())

    def signal(self, sig):
        if self.running():
            os.kill(self.pid, sig)

    def kill(self, grace=5):
        """SIGTERM, then SIGKILL after `grace` s; by PID, never by name."""
        if not self.running():
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
            self.popen.wait(timeout=grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=grace)


class Procs:
    """Starts processes for one test and stops the leftovers by PID."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.all = []

    def start(self, name, argv, env=None):
        p = Proc(name, argv, self.workdir, env=env)
        self.all.append(p)
        return p

    def run(self, name, argv, timeout=10):
        """Start, wait for exit (bounded), return the Proc."""
        p = self.start(name, argv)
        p.wait_exit(timeout)
        return p

    def cleanup(self, failed):
        for p in self.all:
            p.kill()
        if failed:
            for p in self.all:
                print(p.describe())

    def sanitizer_reports(self):
        """Programs whose stderr holds an ASan/UBSan/LSan report (the
        `make asan` pass), also those whose exit status no test checks."""
        return [p for p in self.all
                if SANITIZER_RE.search(p.stderr())]


SANITIZER_RE = re.compile(
    r"ERROR: (Address|Leak)Sanitizer|runtime error: |"
    r"WARNING: ThreadSanitizer")


def sink_argv(bins, port, *extra):
    return [bins["sink"], "--host", "127.0.0.1", "--port", str(port), *extra]


def sensor_argv(bins, port, *extra):
    return [bins["sensor"], "--host", "127.0.0.1", "--port", str(port), *extra]


def parse_summary(proc):
    """The sink's exit summary as a dict, or fail."""
    for line in reversed(proc.stderr_lines()):
        m = SUMMARY_RE.search(line)
        if m:
            return m.groupdict()
    pytest.fail(f"{proc.name}: no summary line matching {SUMMARY_RE.pattern}\n"
                + proc.describe())


def read_text_readings(path):
    """(header, [match, ...]) of a text-format file; fails on a bad line."""
    lines = Path(path).read_text().splitlines()
    assert lines, f"{path} is empty"
    rows = []
    for i, line in enumerate(lines[1:], start=2):
        m = TEXT_LINE_RE.match(line)
        assert m, f"{path}:{i}: not '<seq> <ts> <device> <temp_c>': {line!r}"
        rows.append(m)
    return lines[0], rows


def mqtt_publish_all(port, messages, qos=1, timeout=20, client_id=""):
    """Publish [(topic, payload bytes), ...] in order and return once the
    broker has acknowledged every one (QoS 1) or fail."""
    import paho.mqtt.client as mqtt
    c = mqtt.Client(client_id=client_id, clean_session=True)
    c.max_inflight_messages_set(50)
    connected = []
    c.on_connect = lambda cl, ud, flags, rc: connected.append(rc)
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    try:
        for _ in bounded_polls(10):
            if connected:
                break
        assert connected == [0], f"python publisher: connect result {connected}"
        infos = [c.publish(t, p, qos=qos) for t, p in messages]
        for _ in bounded_polls(timeout):
            if all(i.is_published() for i in infos):
                break
        done = sum(i.is_published() for i in infos)
        assert done == len(infos), \
            f"python publisher: {done}/{len(infos)} acknowledged in {timeout} s"
    finally:
        c.disconnect()
        c.loop_stop()


def tolerant_validator_class():
    """Draft202012Validator whose multipleOf is exact for decimal numbers
    (test_schema_examples.py carries its own variant for the examples).

    jsonschema 4.10 (Debian bookworm) checks multipleOf on floats as
    `(x / m).is_integer()`-style float arithmetic, so 22.53 is "not a
    multiple of 0.01" (22.53 / 0.01 == 2252.9999999999995). JSON numbers
    are decimal text, so we compare them as decimals of their shortest
    repr, which is what the schema means by "2 decimals"."""
    import jsonschema
    from jsonschema import validators

    base = jsonschema.Draft202012Validator

    def multiple_of(validator, m, instance, schema):
        if not validator.is_type(instance, "number"):
            return
        try:
            q = decimal.Decimal(repr(instance)) / decimal.Decimal(repr(m))
        except (decimal.InvalidOperation, OverflowError, ValueError):
            yield jsonschema.ValidationError(
                f"{instance!r} is not a multiple of {m!r}")
            return
        if q != q.to_integral_value():
            yield jsonschema.ValidationError(
                f"{instance!r} is not a multiple of {m!r}")

    return validators.extend(base, {"multipleOf": multiple_of})
