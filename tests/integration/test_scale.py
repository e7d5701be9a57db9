"""Scale-out on one mosquitto (issue 13): MQTT 5 in both programs and sinks
that share one stream (--group, $share/NAME/topic).

mosquitto 2.0.11 serves $share to MQTT 3.1.1 and 5 clients alike, round
robin over the members; a persistent member that is offline keeps its turn
(its QoS 1 messages queue for it). So a group member killed with -9 and
restarted with the same client id and output file gets its queue back,
and the union of the members' files holds every reading exactly once.
The cluster (nats-server) is in test_cluster.py, the bridge in
test_bridge.py.
"""

import re
import signal
from collections import Counter

import pytest

from conftest import (TEXT_LINE_RE, bounded_polls, free_port, parse_summary,
                      sensor_argv, sink_argv)
from faults import figure, kill9, text_lines, wait_for_count

SUBSCRIBED = r"pitemp-sink: info: subscribed to "
VERSIONS = ["mqttv311", "mqttv5"]


def readings(paths):
    """Counter of (device, seq) over the reading lines of text files."""
    c = Counter()
    for p in paths:
        for line in text_lines(p):
            m = TEXT_LINE_RE.match(line)
            if m:        # a torn last line of a killed sink is not a reading
                c[(m["device"], int(m["seq"]))] += 1
    return c


def wait_union(paths, n, timeout, alive=()):
    return wait_for_count(lambda: len(readings(paths)), n, timeout, alive)


def assert_union_exactly_once(paths, devices, n):
    c = readings(paths)
    want = {(d, s) for d in devices for s in range(n)}
    missing = sorted(want - set(c))
    dup = {k: v for k, v in c.items() if v > 1}
    extra = set(c) - want
    assert not missing and not dup and not extra, (
        f"{len(missing)} missing (first {missing[:10]}), {len(dup)} stored "
        f"more than once (first {list(dup.items())[:10]}), {len(extra)} "
        f"unexpected")


def group_sink(procs, bins, port, out, version, name, *extra):
    return procs.start(name, sink_argv(
        bins, port, "-C", "0", "-o", out, "--group", "g", "-V", version,
        *extra))


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_three_sinks_in_a_group_one_killed_store_every_reading_once(
        bins, broker, procs, workdir, version):
    n, devices = 1000, ["grp-a", "grp-b", "grp-c"]
    outs = [workdir / f"sink{i}.txt" for i in range(3)]
    sinks = [group_sink(procs, bins, broker.port, outs[i], version, f"sink{i}")
             for i in range(3)]
    for s in sinks:
        s.wait_for_line(SUBSCRIBED)
    sensors = [procs.start(f"sensor-{d}", sensor_argv(
        bins, broker.port, "--rate", "100", "-C", str(n), "--device", d,
        "-V", version)) for d in devices]

    wait_union(outs, 3 * n // 3, 60, sinks + sensors)
    kill9(sinks[1])
    held = len(readings(outs))
    # While it is away the others go on and its turns queue for it.
    assert wait_union(outs, held + 300, 60, [sinks[0], sinks[2]]) >= held + 300
    sinks[1] = group_sink(procs, bins, broker.port, outs[1], version,
                          "sink1-again")
    sinks[1].wait_for_line(SUBSCRIBED)

    for s in sensors:
        assert s.wait_exit(60) == 0, s.describe()
    got = wait_union(outs, 3 * n, 60, sinks)
    for s in sinks:
        s.signal(signal.SIGTERM)
        assert s.wait_exit(15) == 0, s.describe()
    shares = [len(text_lines(o)) for o in outs]
    figure(workdir, f"group of 3 ({version}), one member kill -9 and back: "
           f"{got} distinct readings of {3 * n}; files hold {shares}")
    assert_union_exactly_once(outs, devices, n)
    for s in sinks:     # a member sees 1 seq in 3: no gap is its to count
        assert "gap:" not in s.stderr(), s.describe()
        assert parse_summary(s)["gaps"] == "0"


def test_mqttv5_sensor_and_two_group_sinks_split_the_stream(
        bins, broker, procs, workdir):
    n = 300
    outs = [workdir / "a.txt", workdir / "b.txt"]
    sinks = [group_sink(procs, bins, broker.port, o, "mqttv5", o.stem)
             for o in outs]
    for s in sinks:
        s.wait_for_line(SUBSCRIBED + r"\$share/g/pitemp/\+/temperature \(qos 1\)")
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "0", "-C", str(n), "--device", "v5dev",
        "--protocol-version", "mqttv5"))
    assert sensor.wait_exit(30) == 0, sensor.describe()
    wait_union(outs, n, 30, sinks)
    for s in sinks:
        s.signal(signal.SIGTERM)
        assert s.wait_exit(15) == 0, s.describe()
    assert_union_exactly_once(outs, ["v5dev"], n)
    assert all(len(text_lines(o)) > 0 for o in outs), "one member got nothing"
    log = broker.log()
    # All three connect with MQTT 5 (p5) and persistent sessions (c0).
    assert log.count("(p5, c0, k30)") == 3 and "(p4," not in log, log
    for s in sinks:
        assert "gap:" not in s.stderr(), s.describe()


def test_hand_written_share_topic_works_like_group(bins, broker, procs, workdir):
    out = workdir / "r.txt"
    sink = procs.start("sink", sink_argv(
        bins, broker.port, "-C", "50", "-o", out, "-t",
        "$share/hand/pitemp/+/temperature"))
    sink.wait_for_line(SUBSCRIBED + r"\$share/hand/")
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "0", "-C", "50", "--device", "hand"))
    assert sensor.wait_exit(30) == 0, sensor.describe()
    assert sink.wait_exit(30) == 0, sink.describe()
    assert_union_exactly_once([out], ["hand"], 50)


def test_mqttv5_session_expiry_ends_a_persistent_session(
        bins, broker, procs, workdir):
    """-x 1: the broker forgets the stopped sink's session after 1 s, so
    what is published then is not kept for it; the default (never) keeps
    it, as MQTT 3.1.1 does."""
    def run_sink(name, sid, out, *x):
        s = procs.start(name, sink_argv(
            bins, broker.port, "-C", "0", "-V", "mqttv5", "-i", sid, "-o", out,
            *x))
        s.wait_for_line(SUBSCRIBED)
        return s

    short, keep = workdir / "short.txt", workdir / "keep.txt"
    for name, sid, out, x in (("short", "exp-short", short, ("-x", "1")),
                              ("keep", "exp-keep", keep, ())):
        s = run_sink(name, sid, out, *x)
        s.signal(signal.SIGTERM)
        assert s.wait_exit(15) == 0, s.describe()
    # Wait for the broker to drop the short session: its log says so.
    for _ in bounded_polls(20):
        if "Expiring client exp-short" in broker.log():
            break
    else:
        pytest.fail("mosquitto did not expire the -x 1 session\n"
                    + broker.describe())
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "0", "-C", "20", "--device", "exp"))
    assert sensor.wait_exit(30) == 0, sensor.describe()
    s = run_sink("keep2", "exp-keep", keep)
    assert wait_union([keep], 20, 20, [s]) == 20
    s2 = run_sink("short2", "exp-short", short, "-x", "1")
    s.signal(signal.SIGTERM)
    s2.signal(signal.SIGTERM)
    assert s.wait_exit(15) == 0 and s2.wait_exit(15) == 0
    assert len(text_lines(short)) == 0, "the expired session kept readings"


def test_broker_list_reconnect_starts_again_from_the_first_broker(
        bins, broker_factory, procs, workdir):
    """-h A,B: A is down, so the sensor connects to B. A comes up, B dies:
    the next round starts from A again and reaches it (paho's own list,
    upstream issue 1661, resumes at the last broker it reached)."""
    a, b = broker_factory(name="a"), broker_factory(name="b").start()
    sensor = procs.start("sensor", sensor_argv(
        bins, a.port, "-h", f"127.0.0.1:{a.port},127.0.0.1:{b.port}",
        "--rate", "100", "--device", "fo"))
    sensor.wait_for_line(rf"connected to 127\.0\.0\.1:{b.port}$", 20)
    assert f"cannot connect to 127.0.0.1:{a.port}" in sensor.stderr()
    a.start()
    kill9(b.proc)
    sensor.wait_for_line(rf"connected to 127\.0\.0\.1:{a.port}$", 30)
    sensor.signal(signal.SIGTERM)
    assert sensor.wait_exit(15) == 0, sensor.describe()


def test_tls_broker_list_gives_up_only_when_every_broker_refuses(
        bins, procs, workdir, secure_broker_factory):
    """The TLS failure probe asks every broker of a list: all refuse the
    certificate -> exit 1 with the first one's reason; one is only down ->
    retried, the warning saying what the other one refused."""
    from conftest import secure_setup
    from test_security import env_without_password, tls_args
    pki = secure_setup(workdir / "secure", ["localhost", "127.0.0.1"],
                       sensors=["sensor-a"])
    other = secure_setup(workdir / "other-ca", ["localhost", "127.0.0.1"],
                         sensors=["x"])
    tls = secure_broker_factory(pki).start().tls_port
    args = tls_args(pki, "sensor-a", cafile=other / "ca.crt")

    def sensor(name, hosts):
        return procs.start(name, [bins["sensor"], "-h", hosts, *args, "-C", "1",
                                  "--device", "sensor-a"],
                           env=env_without_password())

    both = sensor("both", f"localhost:{tls},127.0.0.1:{tls}")
    assert both.wait_exit(30) == 1, both.describe()
    assert re.search(rf"error: connection refused by localhost:{tls},"
                     rf"127\.0\.0\.1:{tls}: localhost:{tls}: server "
                     r"certificate not accepted", both.stderr()), both.describe()
    one = sensor("one", f"127.0.0.1:{free_port()},127.0.0.1:{tls}")
    one.wait_for_line(rf"warning: 127\.0\.0\.1:{tls}: server certificate not "
                      r"accepted.*; retrying", 30)
    assert one.running(), one.describe()


def test_mqttv5_refusal_is_logged_with_its_reason_code(
        bins, procs, workdir, secure_broker_factory):
    """A v5 CONNACK refusal (here: a wrong password) ends the program with
    the broker's reason code in the error line."""
    from conftest import secure_setup
    from test_security import env_without_password
    pki = secure_setup(workdir / "secure", ["127.0.0.1"], sensors=["sensor-a"])
    broker = secure_broker_factory(pki).start()
    bad = workdir / "bad.password"
    bad.write_text("not-the-password\n")
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "-V", "mqttv5", "-u", "sensor-a",
        "--password-file", bad, "-C", "1", "--device", "sensor-a"),
        env=env_without_password())
    assert sensor.wait_exit(30) == 1, sensor.describe()
    assert re.search(r"error: connection refused by 127\.0\.0\.1:\d+: "
                     r"(bad user name or password|not authorized) "
                     r"\(reason 0x8[67]\)", sensor.stderr()), sensor.describe()
