"""Long runs (issue 15): 1,000,000 readings at --rate 0 through both
programs, in MQTT mode (QoS 1; the broker keeps nothing on disk) and in
socket mode.
The resident memory of each program is sampled from /proc/PID/status all
along: its peak after the first 100,000 readings must not pass its peak
during them (by more than allocator noise), and the file must hold every
reading once.

Slow (about a minute or two per mode here); bounded: every wait has a
deadline. Figures go to $PITEMP_BUILD/test-tmp/<test>/figures.txt.
"""

import time
from pathlib import Path

import pytest

from conftest import free_port, sensor_argv, sink_argv
from faults import figure

N = 1_000_000
WARM = 100_000
RUN_S = 900                 # the whole run, whatever the machine's load
SLACK_KIB = 512             # allocator noise allowed on top of the warm peak


def rss_kib(pid):
    """VmRSS of pid in KiB, or None once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


class Progress:
    """Readings written so far, counted from the newlines appended since
    the last look (the whole file is read once over the run). The sink
    writes a --count N run under a temporary name beside the output and
    renames it at the end; the open file follows the rename."""

    def __init__(self, out):
        self.out, self.f, self.lines = out, None, -1     # -1: the header

    def count(self):
        if self.f is None:
            names = [p for p in self.out.parent.glob(f".{self.out.name}.*")
                     if p.is_file()] + ([self.out] if self.out.exists() else [])
            if not names:
                return 0
            self.f = open(names[0], "rb")
        while True:
            chunk = self.f.read(1 << 20)
            if not chunk:
                return max(self.lines, 0)
            self.lines += chunk.count(b"\n")

    def close(self):
        if self.f is not None:
            self.f.close()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["mqtt", "socket"])
def test_a_million_readings_in_flat_memory_each_stored_once(
        bins, broker_factory, procs, workdir, mode):
    out = workdir / "readings.txt"
    if mode == "mqtt":
        # The dev profile saves its database after every change (a file
        # write and rename per message): that caps a busy host at a few
        # hundred readings a second. What is measured here is the two
        # programs, so this broker keeps nothing on disk.
        broker = broker_factory()
        broker.conf.write_text(broker.conf.read_text().replace(
            "persistence true", "persistence false"))
        broker.start()
        port = broker.port
        sink = procs.start("sink", sink_argv(bins, port, "-C", str(N), "-o", out,
                                             "-W", str(RUN_S)))
        sink.wait_for_line(r"subscribed to ")
        sensor = procs.start("sensor", sensor_argv(
            bins, port, "-C", str(N), "--rate", "0", "--summary-period", "0",
            "--device", "long"))
    else:
        port = free_port()
        sink = procs.start("sink", [bins["sink"], "--mode", "socket", "--bind",
                                    "127.0.0.1", "--port", str(port), "-C",
                                    str(N), "-o", out, "-W", str(RUN_S)])
        sink.wait_for_line(r"listening on ")
        sensor = procs.start("sensor", [bins["sensor"], "--mode", "socket",
                                        "-h", "127.0.0.1", "-p", str(port),
                                        "-C", str(N), "--rate", "0",
                                        "--device", "long"])
    warm = {"sink": 0, "sensor": 0}
    late = {"sink": 0, "sensor": 0}
    samples = 0
    progress = Progress(out)
    t0 = time.monotonic()
    while time.monotonic() - t0 < RUN_S + 30:
        n = progress.count()
        for name, p in (("sink", sink), ("sensor", sensor)):
            r = rss_kib(p.pid)
            if r is not None:
                bucket = warm if n < WARM else late
                bucket[name] = max(bucket[name], r)
        samples += 1
        if not sink.running() and not sensor.running():
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - t0
    progress.close()
    assert sensor.wait_exit(30) == 0, sensor.describe()
    assert sink.wait_exit(30) == 0, sink.describe()

    for name in ("sensor", "sink"):
        figure(workdir, f"{mode}: {name} peak RSS {warm[name]} KiB in the first "
                        f"{WARM} readings, {late[name]} KiB after "
                        f"({late[name] - warm[name]:+d} KiB)")
    figure(workdir, f"{mode}: {N} readings in {elapsed:.0f} s "
                    f"({N / elapsed:.0f}/s), {samples} memory samples")
    for name in ("sensor", "sink"):
        assert warm[name] > 0 and late[name] > 0, f"{name}: no samples"
        assert late[name] <= warm[name] + SLACK_KIB, \
            f"{name}: RSS grew from {warm[name]} to {late[name]} KiB"

    seen = bytearray(N)
    count = 0
    with open(out, "rb") as f:
        assert f.readline() == b"# seq ts device temp_c\n"
        for line in f:
            seq = int(line.split(b" ", 1)[0])
            assert seen[seq] == 0, f"seq {seq} stored twice"
            seen[seq] = 1
            count += 1
    assert count == N, f"{count} readings in the file, not {N}"
