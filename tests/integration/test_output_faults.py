"""The sink's output under the faults a logger meets over months (issue
15): the output's filesystem fills up, and logrotate moves the file away.

Full disk: a small tmpfs mounted by the test under build/ (root only),
holding the output and paho's session files, as it would by default; the
test fills it with another file, later grows it with `mount -o
remount,size=`. Rotation: rename + SIGHUP while 100 Hz QoS 1 flows, and
the shipped /etc/logrotate.d/pitemp-sink run by the real logrotate. The
two longest are marked slow (left out of the sanitizer pass); the start
on a full disk and the logrotate run cover the same code there.
"""

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import (REPO, TEXT_HEADER, TEXT_LINE_RE, bounded_polls,
                      sensor_argv, sink_argv)
from faults import figure, wait_for_count

SUBSCRIBED = r"pitemp-sink: info: subscribed to "
CONNECTED = r"pitemp-sensor: info: connected to "
HOLDING = r"pitemp-sink: error: cannot store in .*: No space left on device; " \
          r"taking no more readings"
RESUMED = r"pitemp-sink: info: .* takes readings again after"


def seqs_of(path):
    """The seqs in a text-format file: header first, every line whole."""
    data = Path(path).read_bytes()
    assert data.endswith(b"\n"), f"{path}: torn last line {data[-80:]!r}"
    lines = data.decode().split("\n")[:-1]
    assert lines[0] == TEXT_HEADER, f"{path}: {lines[0]!r}"
    out = []
    for i, line in enumerate(lines[1:], start=2):
        m = TEXT_LINE_RE.match(line)
        assert m, f"{path}:{i}: malformed or torn line {line!r}"
        out.append(int(m["seq"]))
    return out


def count_lines(paths):
    n = 0
    for p in paths:
        try:
            with open(p, "rb") as f:
                n += sum(1 for line in f if not line.startswith(b"#"))
        except FileNotFoundError:
            pass
    return n


def wait_lines(paths, n, timeout, alive=()):
    return wait_for_count(lambda: count_lines(paths), n, timeout, alive)


def assert_once(seqs, n):
    dup = len(seqs) - len(set(seqs))
    missing = sorted(set(range(n)) - set(seqs))
    assert dup == 0 and not missing and len(seqs) == n, (
        f"{len(seqs)} readings, {dup} duplicate, {len(missing)} missing "
        f"(first missing: {missing[:20]})")


def matching(proc, pattern):
    rx = re.compile(pattern)
    return [l for l in proc.stderr_lines() if rx.search(l)]


# --------------------------------------------------------------------------
# Full disk

@pytest.fixture
def small_fs(workdir):
    """A 512 KiB tmpfs at workdir/disk; lazily unmounted at the end (the
    sink may still have it open while the procs fixture stops it)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = workdir / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755",
                    "pitemp-test", str(mnt)], check=True, timeout=10)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], timeout=10)


def fill(mnt):
    """Fill the filesystem with another file until ENOSPC."""
    block = b"x" * 4096
    with open(mnt / "filler", "wb", buffering=0) as f:
        for _ in range(100000):
            try:
                f.write(block)
            except OSError:
                break
    for small in (512, 64, 1):
        with open(mnt / "filler", "ab", buffering=0) as f:
            for _ in range(4096):
                try:
                    f.write(b"x" * small)
                except OSError:
                    break


def grow(mnt, size="8m"):
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mnt)],
                   check=True, timeout=10)


@pytest.mark.slow
def test_full_disk_holds_the_readings_at_the_broker_and_resumes(
        bins, broker, procs, workdir, small_fs):
    """The logger's filesystem fills while 400 Hz QoS 1 flows. The sink
    writes what it holds room for, says once that it is full, takes
    nothing more (the broker keeps it), and goes on by itself once the
    filesystem grows. Then it fills up again and the sink is killed -9
    while it holds: restarted once there is room (as systemd would), it
    has lost nothing either (the reading in hand when the disk filled was
    written from space held for it: paho had acknowledged it already).
    Every reading in the file once."""
    n = 6000
    out = small_fs / "readings.txt"
    argv = sink_argv(bins, broker.port, "-C", "0", "-i", "faults-disk", "-o", out)
    sink = procs.start("sink.1", argv)
    sink.wait_for_line(SUBSCRIBED)
    fill(small_fs)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "400", "-C", str(n), "--device", "disk"))
    sensor.wait_for_line(CONNECTED)
    sink.wait_for_line(HOLDING, timeout=60)
    held_at = count_lines([out])
    # Held: the sink stays up, the file does not grow.
    for _ in bounded_polls(2):
        assert sink.running(), sink.describe()
        assert count_lines([out]) == held_at
    grow(small_fs, "1m")
    sink.wait_for_line(RESUMED, timeout=30)
    assert len(matching(sink, HOLDING)) == 1, sink.stderr()     # said once
    assert len(matching(sink, RESUMED)) == 1, sink.stderr()

    # Again, and this time a kill -9 while it holds.
    assert wait_lines([out], held_at + 200, 30, (sink, sensor)) > held_at
    (small_fs / "filler").rename(small_fs / "filler.1")
    fill(small_fs)
    for _ in bounded_polls(60):
        if len(matching(sink, HOLDING)) == 2:
            break
    assert len(matching(sink, HOLDING)) == 2, sink.describe()
    second = count_lines([out])
    os.kill(sink.pid, signal.SIGKILL)
    sink.popen.wait(timeout=10)
    grow(small_fs, "8m")
    sink = procs.start("sink.2", argv)
    sink.wait_for_line(SUBSCRIBED)
    assert sensor.wait_exit(60) == 0, sensor.describe()
    assert wait_lines([out], n, 60, (sink,)) >= n, sink.describe()
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()
    assert_once(seqs_of(out), n)
    figure(workdir, f"full disk: held at {held_at} lines, resumed by itself; "
           f"held again at {second}, killed -9, restarted: {n} once")


def test_full_disk_at_start_waits_before_subscribing(
        bins, broker, procs, workdir, small_fs):
    """A logger started on a full filesystem takes no reading until it
    can write one: it says so, and subscribes once there is room."""
    out = small_fs / "readings.txt"
    fill(small_fs)
    sink = procs.start("sink", sink_argv(bins, broker.port, "-C", "0", "-i",
                                         "faults-disk-start", "-o", out))
    sink.wait_for_line(r"No space left on device|cannot open", timeout=20)
    assert not matching(sink, SUBSCRIBED), sink.stderr()
    grow(small_fs)
    sink.wait_for_line(SUBSCRIBED, timeout=30)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "200", "-C", "200", "--device", "disk0"))
    assert sensor.wait_exit(30) == 0, sensor.describe()
    assert wait_lines([out], 200, 30, (sink,)) >= 200
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()
    assert_once(seqs_of(out), 200)


# --------------------------------------------------------------------------
# Log rotation

@pytest.mark.slow
def test_rename_and_sighup_split_the_readings_over_the_files_once(
        bins, broker, procs, workdir):
    """logrotate's habit, by hand: rename the file, then SIGHUP; twice,
    while 100 Hz QoS 1 flows. The files together hold every reading once;
    each new file starts with its header."""
    out = workdir / "readings.txt"
    files = [workdir / "readings.txt.2", workdir / "readings.txt.1", out]
    sink = procs.start("sink", sink_argv(bins, broker.port, "-C", "0", "-i",
                                         "faults-rotate", "-o", out))
    sink.wait_for_line(SUBSCRIBED)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "100", "-C", "900", "--device", "rot"))
    sensor.wait_for_line(CONNECTED)
    for k, at in enumerate((300, 600), start=1):
        assert wait_lines(files, at, 30, (sink, sensor)) >= at
        if k == 2:
            os.rename(workdir / "readings.txt.1", workdir / "readings.txt.2")
        os.rename(out, workdir / "readings.txt.1")
        sink.signal(signal.SIGHUP)
        for _ in bounded_polls(10):
            if len(matching(sink, r"SIGHUP: reopened ")) == k:
                break
        assert len(matching(sink, r"SIGHUP: reopened ")) == k, sink.describe()
    assert sensor.wait_exit(30) == 0, sensor.describe()
    assert wait_lines(files, 900, 30, (sink,)) >= 900, sink.describe()
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()
    parts = [seqs_of(f) for f in files]
    assert all(parts), [len(p) for p in parts]
    assert_once(sum(parts, []), 900)
    # In order across the files: rotation moves on, never back.
    assert max(parts[0]) < min(parts[1]) and max(parts[1]) < min(parts[2])
    figure(workdir, "rotation: " + " + ".join(str(len(p)) for p in parts))


def test_shipped_logrotate_config_rotates_a_running_logger(
        bins, broker, procs, workdir):
    """/etc/logrotate.d/pitemp-sink as `make install` ships it, run by the
    real logrotate (forced), with the path and the postrotate command
    pointed at this test's sink."""
    if not os.path.exists("/usr/sbin/logrotate"):
        pytest.fail("logrotate not installed (make deps installs it)")
    out = workdir / "readings.txt"
    sink = procs.start("sink", sink_argv(bins, broker.port, "-C", "0", "-i",
                                         "faults-logrotate", "-o", out))
    sink.wait_for_line(SUBSCRIBED)
    shipped = (REPO / "sink" / "pitemp-sink.logrotate").read_text()
    assert "systemctl reload pitemp-sink.service" in shipped
    conf = workdir / "logrotate.conf"
    conf.write_text(shipped
                    .replace("/var/lib/pitemp/readings.txt", str(out))
                    .replace("systemctl reload pitemp-sink.service",
                             f"kill -HUP {sink.pid}"))
    os.chmod(conf, 0o644)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--rate", "100", "-C", "500", "--device", "lr"))
    sensor.wait_for_line(CONNECTED)
    assert wait_lines([out], 200, 30, (sink, sensor)) >= 200
    r = subprocess.run(["logrotate", "-f", "-s", str(workdir / "lr.state"),
                        str(conf)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    sink.wait_for_line(r"SIGHUP: reopened ")
    assert sensor.wait_exit(30) == 0, sensor.describe()
    rotated = workdir / "readings.txt.1"     # delaycompress: not yet .gz
    assert wait_lines([rotated, out], 500, 30, (sink,)) >= 500
    sink.signal(signal.SIGTERM)
    assert sink.wait_exit(15) == 0, sink.describe()
    assert oct(out.stat().st_mode & 0o777) == oct(rotated.stat().st_mode & 0o777)
    assert_once(seqs_of(rotated) + seqs_of(out), 500)
