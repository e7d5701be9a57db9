"""Delivery under network faults (issue #4): QoS 1 end to end through the
two-host rig of tests/rig/netns.py (sensor host and server host in network
namespaces, one veth pair): a 30 s link cut and 5 % packet loss, every
reading in the sink's file exactly once. Root only (the rig says why it
cannot run otherwise). Figures go to $PITEMP_BUILD/test-tmp/<test>/figures.txt.
"""

import signal
import time

import pytest

from conftest import NsBroker, bounded_polls
from faults import assert_exactly_once, counters, figure, text_lines, wait_lines

SUBSCRIBED = r"pitemp-sink: info: subscribed to "
CONNECTED = r"pitemp-sensor: info: connected to "


def _ns_pair(rig, procs, workdir, bins, device, count, rate, sink_id):
    broker = NsBroker(rig, procs, workdir)
    out = workdir / "readings.txt"
    sink = procs.start("sink", rig.wrap(rig.srv, [
        bins["sink"], "--host", rig.srv_ip, "--port", str(broker.port),
        "--count", "0", "--id", sink_id, "--output", out]))
    sink.wait_for_line(SUBSCRIBED)
    sensor = procs.start("sensor", rig.wrap(rig.sen, [
        bins["sensor"], "--host", rig.srv_ip, "--port", str(broker.port),
        "--rate", str(rate), "--count", str(count), "--device", device,
        "--id", "ns-" + device]))
    sensor.wait_for_line(CONNECTED)
    return broker, sink, sensor, out


@pytest.mark.slow
def test_netns_30s_link_cut_loses_nothing(rig, bins, procs, workdir):
    n = 5000
    broker, sink, sensor, out = _ns_pair(rig, procs, workdir, bins,
                                         "ns-cut", n, 100, "ns-sink-cut")
    wait_lines(out, 500, 30, (sink, sensor))
    rig.link_down()
    t_down = time.monotonic()
    try:
        time.sleep(30)    # the fault itself: a 30 s outage
    finally:
        rig.link_up()
    t_up = time.monotonic()
    figure(workdir, f"link down for {t_up - t_down:.1f} s")
    before = len(text_lines(out))
    for _ in bounded_polls(120):
        if len(text_lines(out)) > before:
            break
    figure(workdir, f"link cut: readings flowing again "
           f"{time.monotonic() - t_up:.1f} s after the link came back")
    assert sensor.wait_exit(150) == 0, sensor.describe()
    assert wait_lines(out, n, 30, (sink,)) >= n, sink.describe()
    figure(workdir, f"link cut: everything stored {time.monotonic() - t_up:.1f} s "
           f"after the link came back; sensor {counters(sensor)}")
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(10) == 0, sink.describe()
    assert_exactly_once(out, "ns-cut", n)
    c = counters(sensor)
    assert c["dropped"] == "0", c


def test_netns_5pct_packet_drop_loses_nothing(rig, bins, procs, workdir):
    n = 1500
    rig.drop(0.05)
    t0 = time.monotonic()
    broker, sink, sensor, out = _ns_pair(rig, procs, workdir, bins,
                                         "ns-drop", n, 100, "ns-sink-drop")
    assert sensor.wait_exit(120) == 0, sensor.describe()
    assert wait_lines(out, n, 60, (sink,)) >= n, sink.describe()
    figure(workdir, f"5% drop: {n} readings at 100 Hz stored in "
           f"{time.monotonic() - t0:.1f} s; {rig.dropped_packets()} packets "
           f"dropped; sensor {counters(sensor)}")
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(10) == 0, sink.describe()
    assert_exactly_once(out, "ns-drop", n)
