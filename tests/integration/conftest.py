"""Fixtures for the pitemp integration tests: a real mosquitto on a free
port with a config generated from broker-config/mosquitto.dev.conf, the
real programs from $PITEMP_BUILD/bin, real files.

Run through `make integration` (sets PITEMP_BUILD), or by hand with
Debian's interpreter, which sees python3-jsonschema and python3-paho-mqtt:

    PITEMP_BUILD=$PWD/build /usr/bin/python3 -m pytest -q tests/integration

Rules kept here: readiness is a port that accepts or a log line that
appears, never a bare sleep; every wait has a deadline and a bounded
number of polls; every process started is stopped by its PID at teardown
(SIGTERM, then SIGKILL), and its stderr stays in
$PITEMP_BUILD/test-tmp/<test>/ and is printed when the test fails.
"""

import decimal
import json
import os
import re
import shutil
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



# Appended to every generated broker config: log everything useful to the
# broker's stderr, which the fixtures keep in a file.
TEST_LOG_SETTINGS = [
    "",
    "# Added by tests/integration/conftest.py",
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
    "log_type information",
    "log_type subscribe",
    "log_type unsubscribe",
    "connection_messages true",
    "log_timestamp true",
    "log_timestamp_format %H:%M:%S",
]

def generated_settings(persist_dir):
    """What a generated standalone config adds to a shipped profile: the
    persistence directory (which a profile leaves to the main config) and
    TEST_LOG_SETTINGS."""
    return ["", "# Added by tests/integration/conftest.py",
            f"persistence_location {persist_dir}/"] + TEST_LOG_SETTINGS[2:]


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


def pytest_configure(config):
    # Long tests (the 200k run, the 30 s link cut): `make asan` leaves them
    # out with -m "not slow".
    config.addinivalue_line(
        "markers", "slow: long test, skipped by the sanitizer pass")


# --------------------------------------------------------------------------
# Per-test working directory, failure reports

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Remember each phase's outcome on the item so teardown can tell
    # whether to print the logs.
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    rep = getattr(request.node, "rep_call", None)
    setup = getattr(request.node, "rep_setup", None)
    return (rep is not None and rep.failed) or (setup is not None and setup.failed)


@pytest.fixture
def workdir(request):
    """$PITEMP_BUILD/test-tmp/<test name>/, emptied at the start and kept
    afterwards so the logs of a failed run can be read."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:100]
    d = BUILD / "test-tmp" / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


# --------------------------------------------------------------------------
# Processes

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


@pytest.fixture
def procs(request, workdir):
    ps = Procs(workdir)
    yield ps
    ps.cleanup(_failed(request))
    bad = ps.sanitizer_reports()
    if bad:
        pytest.fail("sanitizer report:\n"
                    + "\n".join(p.describe() for p in bad))


@pytest.fixture(scope="session")
def bins():
    """The two programs; fail (not skip) when they are missing, so a
    missing build never passes as a green run."""
    sensor, sink = BIN / "pitemp-sensor", BIN / "pitemp-sink"
    for b in (sensor, sink):
        if not os.access(b, os.X_OK):
            pytest.fail(f"{b} not built (run make, or set PITEMP_BUILD)")
    return {"sensor": sensor, "sink": sink}


# --------------------------------------------------------------------------
# Broker

def generate_broker_conf(port, persist_dir, out_path, bind="127.0.0.1"):
    """Write a mosquitto config derived from the shipped dev profile: its
    listener becomes `listener <port> <bind>` (mosquitto ignores -p once a
    config has a listener), its persistence goes to `persist_dir` (the
    profile leaves persistence_location to the main config, as Debian's
    sets it), and the log goes to stderr (captured to a file) with
    timestamps and subscribe/connect events. Every other option is kept as
    shipped, so the tests run against the real queue and persistence
    limits."""
    lines = DEV_CONF.read_text().splitlines()
    listeners = [l for l in lines if l.split()[:1] == ["listener"]]
    assert len(listeners) == 1, \
        f"{DEV_CONF}: expected exactly one listener line, got {listeners}"
    out = []
    for line in lines:
        key = line.split()[:1]
        if key == ["listener"]:
            out.append(f"listener {port} {bind}")
        elif key == ["persistence_location"] or (key and key[0].startswith("log_")):
            continue
        else:
            out.append(line)
    out += generated_settings(persist_dir)
    Path(out_path).write_text("\n".join(out) + "\n")


def make_broker_writable(persist_dir):
    """Started as root, mosquitto 2.x drops privileges to the user
    `mosquitto` before it writes its database. We hand the persistence
    directory to that user rather than adding `user root` to the test
    config: the broker then runs exactly as in production, and a
    persistence setup that only works as root fails here first. The log
    is not affected: it goes to stderr, a file we opened."""
    if os.geteuid() != 0:
        return
    import pwd
    try:
        pw = pwd.getpwnam("mosquitto")
    except KeyError:
        return   # no such user: mosquitto stays root (it warns)
    os.chown(persist_dir, pw.pw_uid, pw.pw_gid)


class Broker:
    """A real mosquitto on `port` (127.0.0.1). start()/stop() may be
    called several times; the persistence directory stays, so a restart
    keeps sessions and queued messages, as a real restart does."""

    def __init__(self, workdir, port=None, name="mosquitto"):
        self.port = port or free_port()
        self.name = name
        self.dir = workdir / name
        self.persist_dir = self.dir / "persist"
        self.persist_dir.mkdir(parents=True)
        make_broker_writable(self.persist_dir)
        self.conf = self.dir / "mosquitto.conf"
        generate_broker_conf(self.port, self.persist_dir, self.conf)
        self.proc = None
        self.runs = 0
        self.logs = []

    @property
    def log_path(self):
        return self.logs[-1] if self.logs else None

    def start(self, timeout=10):
        assert self.proc is None or not self.proc.running()
        self.runs += 1
        self.proc = Proc(f"{self.name}.{self.runs}",
                         ["mosquitto", "-c", self.conf], self.dir)
        self.logs.append(self.proc.stderr_path)
        return self._wait_listening(self.port, "", timeout)

    def _wait_listening(self, port, what, timeout):
        """Wait until the broker accepts on port; fail if it exits first."""
        for _ in bounded_polls(timeout):
            if not self.proc.running():
                pytest.fail("mosquitto exited during startup\n"
                            + self.proc.describe())
            if port_accepts(port):
                return self
        self.proc.kill()
        pytest.fail(f"mosquitto not accepting {what}on port {port} "
                    f"within {timeout} s\n" + self.proc.describe())

    def stop(self, timeout=10):
        """SIGTERM (mosquitto saves its database), SIGKILL after timeout."""
        if self.proc is not None:
            self.proc.kill(grace=timeout)

    def log(self):
        return "".join(Path(p).read_text(errors="replace") for p in self.logs)

    def describe(self):
        return "\n".join(
            f"--- broker log {p}:\n{tail(p)}" for p in self.logs)


@pytest.fixture
def broker_factory(request, workdir):
    """Make brokers that are not started yet (for tests that need the
    port before the broker runs)."""
    made = []

    def make(port=None, name="mosquitto"):
        b = Broker(workdir, port=port, name=name)
        made.append(b)
        return b
    yield make
    for b in made:
        b.stop()
    if _failed(request):
        for b in made:
            print(b.describe())


@pytest.fixture
def broker(broker_factory):
    """A started broker on a free port."""
    return broker_factory().start()


# --------------------------------------------------------------------------
# Command lines

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


# --------------------------------------------------------------------------
# MQTT from Python (python3-paho-mqtt 1.6)

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


# --------------------------------------------------------------------------
# Schema validation

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


@pytest.fixture(scope="session")
def reading_validator():
    """A validator for schemas/reading.schema.json (fails if it is
    missing or is not a valid draft 2020-12 schema)."""
    if not SCHEMA.exists():
        pytest.fail(f"{SCHEMA} missing")
    schema = json.loads(SCHEMA.read_text())
    cls = tolerant_validator_class()
    cls.check_schema(schema)
    return cls(schema)


# --------------------------------------------------------------------------
# Secure broker profile (issue #5): broker-config/mosquitto.secure.conf with
# files made by broker-config/pitemp-secure-setup.sh

SECURE_CONF = REPO / "broker-config" / "mosquitto.secure.conf"
SECURE_SETUP = REPO / "broker-config" / "pitemp-secure-setup.sh"
SECURE_FILES = ("ca.crt", "server.crt", "server.key", "passwd", "acl")


def secure_setup(out_dir, sans, sensors=(), sinks=(), clients=(), timeout=60):
    """Run pitemp-secure-setup.sh into out_dir (CA, server certificate for
    `sans`, users with random passwords in out_dir/users/NAME.password);
    fail with its output if it fails. Returns out_dir as a Path."""
    argv = ["sh", str(SECURE_SETUP), "-o", str(out_dir)]
    for opt, names in (("-s", sans), ("-S", sensors), ("-K", sinks),
                       ("-C", clients)):
        for n in names:
            argv += [opt, n]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, \
        f"{' '.join(argv)}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return Path(out_dir)


def generate_secure_broker_conf(port, tls_port, persist_dir, files_dir,
                                out_path, bind="127.0.0.1"):
    """A mosquitto config derived from the shipped secure profile: its
    plain listener (1883) becomes `listener <port> <bind>`, its TLS listener
    (8883) `listener <tls_port> <bind>`, the files under
    /etc/mosquitto/pitemp/ are taken from files_dir, persistence goes to
    persist_dir and the log to stderr (as generate_broker_conf does).
    Everything else is kept as shipped."""
    lines = SECURE_CONF.read_text().splitlines()
    listeners = sorted(l.split()[1] for l in lines
                       if l.split()[:1] == ["listener"])
    assert listeners == ["1883", "8883"], \
        f"{SECURE_CONF}: expected listeners 1883 and 8883, got {listeners}"
    out = []
    for line in lines:
        words = line.split()
        key = words[:1]
        if key == ["listener"]:
            p = port if words[1] == "1883" else tls_port
            out.append(f"listener {p} {bind}")
        elif key == ["persistence_location"] or (key and key[0].startswith("log_")):
            continue
        else:
            out.append(line.replace("/etc/mosquitto/pitemp/", f"{files_dir}/"))
    out += generated_settings(persist_dir)
    Path(out_path).write_text("\n".join(out) + "\n")


class SecureBroker(Broker):
    """A real mosquitto with the secure profile: plain MQTT on `port`
    (the profile's loopback listener) and MQTT over TLS on `tls_port`, both
    on 127.0.0.1, users/ACL/certificates from `secure_dir` (the output of
    secure_setup). The files are installed into the broker's directory the
    way docs/security.md says: readable by the broker's user only."""

    def __init__(self, workdir, secure_dir, port=None, tls_port=None,
                 name="mosquitto-secure"):
        super().__init__(workdir, port=port, name=name)
        self.tls_port = tls_port or free_port()
        self.files = self.dir / "etc"
        self.files.mkdir(mode=0o700)
        for f in SECURE_FILES:
            shutil.copyfile(Path(secure_dir) / f, self.files / f)
            os.chmod(self.files / f, 0o600)
        self._give_to_broker_user()
        generate_secure_broker_conf(self.port, self.tls_port, self.persist_dir,
                                    self.files, self.conf)

    def _give_to_broker_user(self):
        # As root, mosquitto reads the password file after dropping to the
        # user `mosquitto` (see make_broker_writable).
        if os.geteuid() != 0:
            return
        import pwd
        try:
            pw = pwd.getpwnam("mosquitto")
        except KeyError:
            return
        for p in [self.files] + [self.files / f for f in SECURE_FILES]:
            os.chown(p, pw.pw_uid, pw.pw_gid)

    def start(self, timeout=10):
        super().start(timeout)
        return self._wait_listening(self.tls_port, "TLS ", timeout)


@pytest.fixture
def secure_broker_factory(request, workdir):
    """Make SecureBrokers (not started) from a secure_setup directory."""
    made = []

    def make(secure_dir, name="mosquitto-secure"):
        b = SecureBroker(workdir, secure_dir, name=name)
        made.append(b)
        return b
    yield make
    for b in made:
        b.stop()
    if _failed(request):
        for b in made:
            print(b.describe())
