"""Broker failover on a real cluster (issue 13): three nats-server nodes
(Debian's nats-server 2.9, JetStream, MQTT listeners) started from
broker-config/cluster/nats-{1,2,3}.conf on free loopback ports.

The sensor is on node 1, the sink on node 2, both given all three
addresses (--host H:P,H:P,H:P). Node 1 dies (kill -9) mid-stream and the
sensor fails over; later node 1 comes back and the sink's node dies: the
sink fails over and finds its session and its queue on another node
(JetStream replicates them by Raft). 0 lost, 0 duplicate lines, and no
invalid payload at the sink: nats-server garbles nothing, and a publish a
node cut is sent again intact (lib/mqtt_keep.c; docs/scaling.md "A reading
paho gave up" tells the run where paho 1.3.12 sent freed memory instead).
"""

import json
import re
import shutil
import signal
import time
import urllib.request

import pytest

from conftest import (REPO, Proc, bounded_polls, free_port, parse_summary,
                      port_accepts, tail)
from faults import assert_exactly_once, figure, kill9, text_lines

CLUSTER_DIR = REPO / "broker-config" / "cluster"
LEADER_RE = r"JetStream cluster (new )?metadata leader"
ROUTE_RE = re.compile(r"nats-route://pitemp-nats-(\d):6222")


class NatsNode:
    """One node: its config is the shipped nats-N.conf with the host names
    and ports rewritten to loopback, and its JetStream store in the test's
    directory (kept across a restart, as a real disk is)."""

    def __init__(self, workdir, i, ports):
        self.i, self.ports = i, ports
        self.name = f"nats-{i}"
        self.dir = workdir / self.name
        self.dir.mkdir()
        self.mqtt_port = ports[i]["mqtt"]
        self.conf = self.dir / "nats.conf"
        self.conf.write_text(self._rewrite(
            (CLUSTER_DIR / f"nats-{i}.conf").read_text()))
        self.proc, self.runs = None, 0

    def _rewrite(self, text):
        p = self.ports[self.i]
        subs = [("listen: 0.0.0.0:4222", f"listen: 127.0.0.1:{p['client']}"),
                ("http: 127.0.0.1:8222", f"http: 127.0.0.1:{p['http']}"),
                ("listen: 0.0.0.0:6222", f"listen: 127.0.0.1:{p['route']}"),
                ("listen: 0.0.0.0:1883", f"listen: 127.0.0.1:{p['mqtt']}"),
                ("store_dir: /var/lib/nats/pitemp",
                 f"store_dir: \"{self.dir / 'js'}\"")]
        for old, new in subs:
            assert text.count(old) == 1, f"nats-{self.i}.conf: no '{old}'"
            text = text.replace(old, new)
        routes = ROUTE_RE.findall(text)
        assert sorted(routes) == ["1", "2", "3"], \
            f"nats-{self.i}.conf must route to all three nodes: {routes}"
        return ROUTE_RE.sub(lambda m: "nats-route://127.0.0.1:"
                            f"{self.ports[int(m[1])]['route']}", text)

    def start(self):
        self.runs += 1
        self.proc = Proc(f"{self.name}.{self.runs}",
                         ["nats-server", "-c", self.conf], self.dir)
        return self

    def healthy(self):
        url = f"http://127.0.0.1:{self.ports[self.i]['http']}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return json.load(r).get("status") == "ok"
        except (OSError, ValueError):
            return False

    def wait_ready(self, timeout=30):
        """Ready: the node's /healthz says ok (in the cluster, JetStream
        current with the metadata leader) and its MQTT port accepts."""
        for _ in bounded_polls(timeout):
            if not self.proc.running():
                pytest.fail(f"{self.name} exited\n" + self.proc.describe())
            if self.healthy() and port_accepts(self.mqtt_port):
                return
        pytest.fail(f"{self.name}: not healthy in {timeout} s\n"
                    + self.proc.describe())

    def stop(self):
        if self.proc is not None:
            self.proc.kill()

    def describe(self):
        return f"--- {self.name} log:\n{tail(self.proc.stderr_path)}" \
            if self.proc else ""


@pytest.fixture
def cluster(request, workdir):
    if shutil.which("nats-server") is None:
        pytest.fail("nats-server not installed (make deps installs it)")
    ports = {i: {k: free_port() for k in ("client", "route", "mqtt", "http")}
             for i in (1, 2, 3)}
    nodes = {i: NatsNode(workdir, i, ports) for i in (1, 2, 3)}
    for n in nodes.values():
        n.start()
    try:
        # A metadata leader first (some node logs its election), then
        # every node healthy.
        for _ in bounded_polls(30):
            if any(re.search(LEADER_RE, n.proc.stderr())
                   for n in nodes.values()):
                break
        for n in nodes.values():
            n.wait_ready()
        yield nodes
    finally:
        for n in nodes.values():
            n.stop()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            for n in nodes.values():
                print(n.describe())


def hosts(nodes, order):
    return ",".join(f"127.0.0.1:{nodes[i].mqtt_port}" for i in order)


def connected_port(proc, after=0):
    """The port of the last 'connected to' line after the first `after`."""
    lines = [l for l in proc.stderr_lines() if ": info: connected to " in l]
    if len(lines) <= after:
        return None
    return int(lines[-1].rsplit(":", 1)[1])


def wait_connected(proc, after, timeout=60):
    for _ in bounded_polls(timeout):
        port = connected_port(proc, after)
        if port is not None:
            return port
        if not proc.running():
            pytest.fail(f"{proc.name} exited\n" + proc.describe())
    pytest.fail(f"{proc.name}: no new connection in {timeout} s\n"
                + proc.describe())


def count_connected(proc):
    return sum(": info: connected to " in l for l in proc.stderr_lines())


def grow(out, by, timeout, alive):
    """Wait until the file has `by` more readings; fail if a process died."""
    start = len(text_lines(out))
    for _ in bounded_polls(timeout):
        if len(text_lines(out)) >= start + by:
            return
        for p in alive:
            if not p.running():
                pytest.fail(f"{p.name} exited early\n" + p.describe())
    pytest.fail(f"{out}: fewer than {by} new readings in {timeout} s\n"
                + "\n".join(p.describe() for p in alive))


@pytest.mark.slow
def test_nats_cluster_node_deaths_lose_nothing_store_nothing_twice(
        cluster, bins, procs, workdir):
    n = 2500
    out = workdir / "readings.txt"
    sink = procs.start("sink", [
        bins["sink"], "-h", hosts(cluster, (2, 3, 1)), "-C", "0",
        "-i", "cluster-sink", "-o", out])
    sink.wait_for_line(r"subscribed to pitemp/\+/temperature \(qos 1\)", 30)
    assert connected_port(sink) == cluster[2].mqtt_port
    sensor = procs.start("sensor", [
        bins["sensor"], "-h", hosts(cluster, (1, 2, 3)), "--rate", "100",
        "-C", str(n), "--device", "clu", "-i", "cluster-sensor"])
    assert wait_connected(sensor, 0) == cluster[1].mqtt_port
    grow(out, 300, 60, (sink, sensor))

    # 1. The sensor's node dies: the sensor fails over to node 2 or 3.
    k = count_connected(sensor)
    t0 = time.monotonic()
    kill9(cluster[1].proc)
    port = wait_connected(sensor, k)
    figure(workdir, f"cluster: sensor reconnected to :{port} "
           f"{time.monotonic() - t0:.1f} s after node 1 was killed")
    assert port != cluster[1].mqtt_port
    grow(out, 300, 60, (sink, sensor))

    # 2. Node 1 comes back (and rejoins); then the sink's node dies.
    cluster[1].start().wait_ready()
    grow(out, 200, 60, (sink, sensor))
    k = count_connected(sink)
    t0 = time.monotonic()
    kill9(cluster[2].proc)
    port = wait_connected(sink, k)
    figure(workdir, f"cluster: sink reconnected to :{port} "
           f"{time.monotonic() - t0:.1f} s after node 2 was killed")
    assert port != cluster[2].mqtt_port

    assert sensor.wait_exit(120) == 0, sensor.describe()
    for _ in bounded_polls(90):
        if len(text_lines(out)) >= n:
            break
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()
    s = parse_summary(sink)
    figure(workdir, f"cluster: {len(text_lines(out))} lines for {n} readings, "
           f"sink invalid={s['invalid']} duplicates={s['duplicates']}")
    assert_exactly_once(out, "clu", n)
    assert s["invalid"] == "0", sink.describe()
    assert re.search(rf"samples={n} published={n} delivered={n} failed=0 ",
                     sensor.stderr()), sensor.describe()


def test_mqttv5_client_on_nats_is_told_to_use_mqttv311(cluster, bins, procs):
    """nats-server speaks MQTT 3.1.1 only: a -V mqttv5 sensor is refused
    for good (exit 1) with a reason that says what to do."""
    sensor = procs.start("sensor", [
        bins["sensor"], "-h", hosts(cluster, (1,)), "-V", "mqttv5", "-C", "1",
        "--device", "v5"])
    assert sensor.wait_exit(30) == 1, sensor.describe()
    assert re.search(r"error: connection refused by .*: unacceptable protocol "
                     r"version: the broker does not speak MQTT 5 \(use "
                     r"--protocol-version mqttv311\)", sensor.stderr()), \
        sensor.describe()
