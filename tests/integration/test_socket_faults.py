"""Socket mode under faults: a sensor refused over --max-clients, and sink
restarts (SIGTERM, kill -9, kill -9 of a stalled sink with bytes unread)
under a running sensor; every reading the sensor counts as delivered is
stored exactly once. The real programs on free ports of 127.0.0.1.
Figures go to $PITEMP_BUILD/test-tmp/<test>/figures.txt.
"""

import re
import signal

import pytest

from conftest import free_port
from faults import figure
from sockets import (client, count_lines, freeze, peer, reading_rows, rows_of,
                     rx_queued, segments, sensor_summary, socket_sensor,
                     socket_sink, wait_count, wait_rows, wait_until)


def _restart_run(bins, procs, workdir, kill_sig, stall_bytes=0):
    """Sink logger (--count 0, append) and a sensor --count 1500 at 100 Hz;
    after 300 and after 800 stored readings the sink is ended with
    kill_sig and started again on the same file once the sensor has failed
    to reconnect. Returns (sensor, last sink, file seqs, cuts, rx) where
    cuts[i] is the number of readings in the file when instance i ended
    and rx[i] the bytes unread in its socket buffers at that moment
    (SIGKILL only: both programs are frozen first so that it is exact).
    With stall_bytes, the sink is frozen alone first until that many bytes
    wait unread for it: a sink stalled (disk, scheduling) when it dies."""
    port = free_port()
    out = workdir / "readings.txt"
    sink = socket_sink(procs, bins, port, "--count", "0", "--output", out,
                       name="sink.1")
    sensor = socket_sensor(procs, bins, port, "--count", "1500",
                           "--rate", "100", "--device", "r1")
    refused = (rf"cannot connect to 127\.0\.0\.1:{port}: "
               r"Connection refused; retrying")
    cuts, rx = [], []
    for i, at in enumerate((300, 800), start=1):
        wait_rows(out, at, 20, alive=(sink, sensor))
        if kill_sig == signal.SIGKILL:
            if stall_bytes:
                freeze(sink)
                wait_until(lambda: rx_queued(port) >= stall_bytes, 10,
                           f"{stall_bytes} bytes queued for the frozen sink")
            # Freeze the sensor, then the sink: nothing moves while we
            # read how much the sink's kernel holds for it, unread.
            freeze(sensor)
            freeze(sink)
            rx.append(rx_queued(port))
            sink.signal(signal.SIGKILL)
            sink.wait_exit(10)
            cuts.append(reading_rows(out))
            sensor.signal(signal.SIGCONT)
        else:
            sink.signal(kill_sig)
            assert sink.wait_exit(10) == 0, sink.describe()
            cuts.append(reading_rows(out))
            rx.append(0)
        # Down until the sensor has found the port closed (and holds on to
        # its readings), then back on the same file.
        wait_count(sensor, refused, i, 10)
        assert sensor.running(), sensor.describe()
        sink = socket_sink(procs, bins, port, "--count", "0", "--output",
                           out, name=f"sink.{i + 1}")
    assert sensor.wait_exit(40) == 0, sensor.describe()
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(10) == 0, sink.describe()
    rows = rows_of(out)         # one header, every line well formed
    assert {d for d, _ in rows} == {"r1"}
    return sensor, sink, [s for _, s in rows], cuts, rx


def _boundaries(seqs, cuts):
    """Per restart: (last seq of the old instance, first of the new one)."""
    segs = segments(seqs, cuts)
    for i, seg in enumerate(segs):
        assert seg, f"instance {i + 1} stored nothing"
        # One connection per instance: in order, nothing skipped.
        assert seg == list(range(seg[0], seg[0] + len(seg))), \
            f"instance {i + 1}: seqs not contiguous"
    assert segs[0][0] == 0 and segs[-1][-1] == 1499
    return [(a[-1], b[0]) for a, b in zip(segs, segs[1:])]


def test_sink_sigterm_restarts_lose_nothing(bins, procs, workdir):
    """SIGTERM is the orderly stop: the sink sends every client a FIN and
    reads until each has closed, so whatever a sensor wrote before it saw
    the FIN is stored; what the sink's TCP had not acknowledged when the
    sensor closed is sent again to the next instance. Every seq 0..1499
    is in the file.

    Duplicates: dedup state lives in one sink process, so a reading the
    new instance gets again (stored by the old one, its acknowledgement
    not yet seen by the sensor when the connection ended) is written a
    second time. With the FIN acknowledging everything received before it,
    that window is a reading or two at most; recovering the dedup state
    from the file's tail (sink/recover.c, in progress) closes it. Until
    then the test reports the count and asserts only that every duplicate
    sits at a restart boundary."""
    sensor, sink, seqs, cuts, _ = _restart_run(bins, procs, workdir,
                                               signal.SIGTERM)
    assert set(seqs) == set(range(1500)), \
        f"missing: {sorted(set(range(1500)) - set(seqs))[:50]}"
    dups = 0
    for last, first in _boundaries(seqs, cuts):
        assert first <= last + 1, f"lost {first - last - 1} after seq {last}"
        dups += last + 1 - first
    assert len(seqs) == 1500 + dups
    k = sensor_summary(sensor)
    assert (k["published"], k["delivered"], k["connects"]) == (1500, 1500, 3)
    assert count_lines(sensor, r"warning: connection to .* lost: closed by "
                       r"the peer; \d+ reading\(s\) kept to send again|"
                       r"info: connection to .* ended: closed by the peer") == 2
    figure(workdir, f"sigterm x2: lines={len(seqs)} distinct={len(set(seqs))}"
                    f" duplicates={dups} lost=0 cuts={cuts}")


@pytest.mark.parametrize("stall_bytes", [0, 6000],
                         ids=["running", "stalled"])
def test_sink_sigkill_restarts_lose_nothing(bins, procs, workdir, stall_bytes):
    """SIGKILL gives the sink no drain. The sensor keeps each reading until
    the sink answers that it stored it (lib/pt_ack.h): bytes the sink's
    kernel acknowledged but the sink never read, or held in its line
    buffer, are not answered, so the sensor sends them again, oldest
    first, to the next instance; what the old one stored but could not
    answer is dropped there by the dedup from the file's tail.

    Asserted: each instance's readings are contiguous (one TCP connection,
    in order), the file holds every seq 0..1499 exactly once, and the
    sensor exits 0 with all 1500 answered.

    "stalled": the sink is frozen before each kill until some 6000 bytes
    (about 45 readings) wait unread for it, as when a sink stalls on its
    disk and then dies. With the kernel's TCP acknowledgement as the
    sensor's proof (SIOCOUTQ, before application acks), each such kill
    lost those ~45 readings."""
    sensor, sink, seqs, cuts, rx = _restart_run(bins, procs, workdir,
                                                signal.SIGKILL, stall_bytes)
    for (last, first), q in zip(_boundaries(seqs, cuts), rx):
        figure(workdir, f"sigkill after seq {last}: unread bytes={q} "
                        f"next instance started at seq {first}")
        assert first == last + 1, \
            f"after seq {last} the next instance started at {first}"
    assert seqs == list(range(1500)), \
        f"missing: {sorted(set(range(1500)) - set(seqs))[:20]}"
    k = sensor_summary(sensor)
    assert (k["published"], k["delivered"]) == (1500, 1500)
    figure(workdir, f"sigkill x2 ({'stalled' if stall_bytes else 'running'}"
                    f" sink): unread bytes at the kills={rx} lost=0 "
                    f"duplicated=0")


def test_sensor_refused_over_max_clients_loses_nothing(bins, procs, workdir):
    """A sensor that finds the sink full (--max-clients) must keep its
    readings until it is served: once the slot frees, every reading it
    counts as delivered is in the file.

    TCP completes the handshake and takes data before accept(), so by the
    time the sink refuses a connection the sensor may have written readings
    on it that the sink's kernel acknowledged (and the sensor retired).
    The sink therefore refuses in order: a FIN at once, then it reads and
    stores what the sensor had sent until the sensor closes; the sensor
    keeps the rest and retries."""
    port = free_port()
    out = workdir / "readings.txt"
    sink = socket_sink(procs, bins, port, "--count", "0", "--output", out,
                       "--max-clients", "1")
    holder = client(port)
    sink.wait_for_line(rf"client {re.escape(peer(holder))} connected$")
    sensor = socket_sensor(procs, bins, port, "--count", "50",
                           "--rate", "100", "--device", "late")
    # Refused twice: the second time it had readings queued to write.
    wait_count(sensor, r"connection to 127\.0\.0\.1:\d+ (lost|ended)", 2)
    holder.close()
    assert sensor.wait_exit(30) == 0, sensor.describe()
    k = sensor_summary(sensor)
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(10) == 0, sink.describe()
    stored = sorted(s for _, s in rows_of(out))
    figure(workdir, f"refused sensor: delivered={k['delivered']} "
                    f"connects={k['connects']} stored={len(stored)}")
    assert k["delivered"] == 50
    assert stored == list(range(50)), \
        f"{50 - len(stored)} of 50 'delivered' readings not stored"
