"""Fixtures for the pitemp integration tests: a real mosquitto on a free
port with a config generated from broker-config/mosquitto.dev.conf, the
real programs from $PITEMP_BUILD/bin, real files. What they are made of is
in harness.py (processes, polling, formats) and brokers.py (broker
configs and processes); the tests import those names from here too.

Run through `make integration` (sets PITEMP_BUILD), or by hand with
Debian's interpreter, which sees python3-jsonschema and python3-paho-mqtt:

    PITEMP_BUILD=$PWD/build /usr/bin/python3 -m pytest -q tests/integration
"""

import json
import os
import re
import shutil
import sys

import pytest

from brokers import (SECURE_CONF, SECURE_FILES, SECURE_SETUP,  # noqa: F401
                     TEST_LOG_SETTINGS, Broker, NsBroker, SecureBroker,
                     generate_broker_conf, generate_secure_broker_conf,
                     generated_settings, make_broker_writable, secure_setup)
from harness import (BIN, BUILD, CORPUS, DEV_CONF, POLL_S, REPO,  # noqa: F401
                     SANITIZER_RE, SCHEMA, SUMMARY_RE, TAIL_BYTES, TEXT_HEADER,
                     TEXT_LINE_RE, TS_RE, Proc, Procs, bounded_polls, free_port,
                     mqtt_publish_all, parse_summary, port_accepts,
                     read_text_readings, sensor_argv, sink_argv, tail,
                     tolerant_validator_class)

def pytest_configure(config):
    # Long tests (the 200k run, the 30 s link cut): `make asan` leaves them
    # out with -m "not slow".
    config.addinivalue_line(
        "markers", "slow: long test, skipped by the sanitizer pass")


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


@pytest.fixture
def rig():
    """The sensor host / server host rig; skipped (with the reason) where
    it cannot run. Requested before `procs` in a test's arguments, so it
    is torn down after the processes inside it are stopped."""
    sys.path.insert(0, str(REPO / "tests" / "rig"))
    from netns import NetnsRig
    why = NetnsRig.available()
    if why is not None:
        pytest.skip(f"netns rig unavailable: {why}")
    r = NetnsRig().setup()
    yield r
    r.teardown()
