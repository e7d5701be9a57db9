"""Helpers of the pitemp socket-mode tests: the programs in socket mode,
Python clients standing in for sensors, and readers of what the sink wrote
and logged.
"""

import re
import signal
import socket
import time
from pathlib import Path

import pytest

from harness import TEXT_HEADER, bounded_polls, parse_summary, read_text_readings

LINE_MAX = 1024                 # SPEC.md: a payload over 1024 bytes is invalid
SENSOR_CONNECTED = r"pitemp-sensor: info: connected to 127\.0\.0\.1:{port}$"
SENSOR_SUMMARY_RE = re.compile(
    r"samples=(?P<samples>\d+) published=(?P<published>\d+) "
    r"delivered=(?P<delivered>\d+) failed=(?P<failed>\d+) "
    r"dropped=(?P<dropped>\d+) .*connects=(?P<connects>\d+)")


def socket_sink(procs, bins, port, *extra, name="sink"):
    """Start pitemp-sink --mode socket on 127.0.0.1:port; return it once it
    logs that it listens."""
    sink = procs.start(name, [bins["sink"], "--mode", "socket",
                              "--bind", "127.0.0.1", "--port", str(port),
                              *extra])
    sink.wait_for_line(
        rf"^pitemp-sink: info: listening on 127\.0\.0\.1:{port}$")
    return sink


def socket_sensor(procs, bins, port, *extra, name="sensor"):
    return procs.start(name, [bins["sensor"], "--mode", "socket",
                              "--host", "127.0.0.1", "--port", str(port),
                              *extra])


def sensor_summary(proc):
    for line in reversed(proc.stderr_lines()):
        m = SENSOR_SUMMARY_RE.search(line)
        if m:
            return {k: int(v) for k, v in m.groupdict().items()}
    pytest.fail(f"{proc.name}: no summary line\n" + proc.describe())


def summary_ints(proc):
    s = parse_summary(proc)
    return {k: int(s[k]) for k in ("stored", "invalid", "duplicates", "gaps")}


def rows_of(path):
    """[(device, seq), ...] of a text-format file, in file order; checks the
    single header and the line format."""
    header, rows = read_text_readings(path)
    assert header == TEXT_HEADER, f"{path}: header {header!r}"
    text = Path(path).read_text()
    assert text.count("\n#") == 0, f"{path}: more than one header line"
    return [(r["device"], int(r["seq"])) for r in rows]


def reading_rows(path):
    """Number of reading lines (not the header) now in the file; 0 when it
    does not exist yet."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return 0
    return sum(1 for l in data.split(b"\n") if l and not l.startswith(b"#"))


def wait_rows(path, n, timeout, alive=()):
    for _ in bounded_polls(timeout):
        if reading_rows(path) >= n:
            return
        for p in alive:
            if not p.running():
                pytest.fail(f"{p.name} exited early\n" + p.describe())
    pytest.fail(f"{path}: fewer than {n} readings after {timeout} s "
                f"({reading_rows(path)})")


def wait_until(cond, timeout, what):
    for _ in bounded_polls(timeout):
        if cond():
            return
    pytest.fail(f"not within {timeout} s: {what}")


def count_lines(proc, pattern):
    rx = re.compile(pattern)
    return sum(1 for l in proc.stderr_lines() if rx.search(l))


def wait_count(proc, pattern, n, timeout=10):
    """Wait until `pattern` has appeared at least n times in proc's log."""
    for _ in bounded_polls(timeout):
        if count_lines(proc, pattern) >= n:
            return
    pytest.fail(f"{proc.name}: /{pattern}/ not seen {n} times within "
                f"{timeout} s\n" + proc.describe())


def payload(device, boot, seq, t0):
    """A valid reading as the schema has it (no optional fields)."""
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + seq // 100))
    ts += ".%06dZ" % ((seq % 100) * 10000)
    temp = 20.0 + (seq % 500) / 100.0
    return (f'{{"device":"{device}","boot":"{boot}","seq":{seq},'
            f'"ts":"{ts}","temp_c":{temp:.2f}}}').encode()


def client(port):
    """A connected plain TCP client."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def peer(sock):
    """How the sink names this client: "127.0.0.1:PORT"."""
    host, port = sock.getsockname()[:2]
    return f"{host}:{port}"


def sees_close(sock, timeout):
    """True when the sink closed this connection (EOF or reset) within
    `timeout` s. The sink never sends data in socket mode."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    assert data == b"", f"the sink sent data: {data!r}"
    return True


def proc_state(pid):
    """The one-letter state of a process from /proc (T: stopped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def freeze(proc):
    proc.signal(signal.SIGSTOP)
    wait_until(lambda: proc_state(proc.pid) in ("T", "t"), 5,
               f"{proc.name} stopped")


def rx_queued(port):
    """Bytes waiting, unread, in the receive queues of the sink's
    established connections on local port `port` (/proc/net/tcp)."""
    total = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            f = line.split()
            local, state, queues = f[1], f[3], f[4]
            if int(local.rsplit(":", 1)[1], 16) != port:
                continue
            if state not in ("01", "08"):     # ESTABLISHED, CLOSE_WAIT
                continue
            total += int(queues.split(":")[1], 16)
    return total


def segments(seqs, cuts):
    """Split a file's seqs at the row counts `cuts` (one per sink instance
    that ended) into per-instance lists."""
    out, start = [], 0
    for c in list(cuts) + [len(seqs)]:
        out.append(seqs[start:c])
        start = c
    return out
