"""A sensor killed during a broker outage (issue 15): with --persistent it
keeps on disk (paho's file persistence, in --state-dir) what it sampled and
the broker has not acknowledged, and sends it after a restart with its
original boot and seq, before the new boot's readings.

Real mosquitto started late on a port chosen up front, the real programs,
real files; bounded waits; processes stopped by PID.
"""

import csv
import re
import signal

import pytest

from conftest import bounded_polls, sensor_argv, sink_argv

SUBSCRIBED = r"pitemp-sink: info: subscribed to "


def kept(state):
    """The messages paho keeps for the sensor: c-N.msg (queued commands)
    and s-N.msg (sent, not acknowledged) under state/<id>-<host>-<port>/."""
    return sorted(p for p in state.glob("*/*.msg"))


def boots_in_order(path):
    """[(boot, [seq, ...]), ...] in file order, one entry per run of a boot."""
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if not out or out[-1][0] != row["boot"]:
                out.append((row["boot"], []))
            out[-1][1].append(int(row["seq"]))
    return out


def test_sensor_killed_during_an_outage_sends_its_readings_after_a_restart(
        bins, broker_factory, procs, workdir):
    n_old, n_new = 500, 100
    broker = broker_factory()           # not started: the outage
    state = workdir / "state"
    argv = sensor_argv(bins, broker.port, "--persistent", "--state-dir", state,
                       "--rate", "200", "--summary-period", "0",
                       "--device", "crashy")
    s1 = procs.start("sensor.1", argv + ["-C", str(n_old)])
    s1.wait_for_line(rf"readings not yet acknowledged are kept in "
                     rf"{re.escape(str(state))} \(--persistent\)$")
    boot1 = re.search(r"boot ([0-9a-f]{16})", s1.wait_for_line(
        r"device crashy boot [0-9a-f]{16}")).group(1)
    for _ in bounded_polls(30):
        if len(kept(state)) >= n_old:
            break
    assert len(kept(state)) == n_old, f"{len(kept(state))} kept, not {n_old}"
    s1.signal(signal.SIGKILL)
    s1.wait_exit(10)

    broker.start()
    out = workdir / "readings.csv"
    sink = procs.start("sink", sink_argv(bins, broker.port, "-C",
                                         str(n_old + n_new), "-F", "csv",
                                         "-o", out, "-W", "60"))
    sink.wait_for_line(SUBSCRIBED)
    s2 = procs.start("sensor.2", argv + ["-C", str(n_new)])
    s2.wait_for_line(rf"{n_old} message\(s\) an earlier run left there go "
                     r"out first$")
    assert s2.wait_exit(60) == 0, s2.describe()
    assert sink.wait_exit(60) == 0, sink.describe()

    runs = boots_in_order(out)
    boot2 = re.search(r"boot ([0-9a-f]{16})", s2.wait_for_line(
        r"device crashy boot [0-9a-f]{16}")).group(1)
    assert [b for b, _ in runs] == [boot1, boot2], runs
    assert runs[0][1] == list(range(n_old)), "the old boot's readings"
    assert runs[1][1] == list(range(n_new)), "the new boot's readings"
    assert kept(state) == [], "acknowledged readings left on disk"


@pytest.mark.parametrize("args,why", [
    (["-q", "0"], r"option --persistent: QoS 0 readings are never kept"),
    (["--mode", "socket", "-p", "50007"], r"option --persistent applies only "
                                          r"to --mode mqtt"),
])
def test_persistent_sensor_refuses_what_it_cannot_keep(bins, procs, workdir,
                                                       args, why):
    p = procs.run("sensor", [bins["sensor"], "--persistent", "--state-dir",
                             workdir / "state", "-C", "1", *args])
    assert p.returncode == 2, p.describe()
    assert re.search(why, p.stderr()), p.describe()
    assert not (workdir / "state").exists()
