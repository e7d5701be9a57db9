"""Helpers of the pitemp delivery tests: inject a fault by PID, wait for
readings to land, and check a text-format file holds each reading exactly
once; measured figures are printed and kept beside the logs.
"""

import os
import signal
from pathlib import Path

import pytest

from harness import TEXT_HEADER, TEXT_LINE_RE, bounded_polls


def figure(workdir, text):
    """Record a measured figure: printed, and kept beside the logs."""
    print(f"FIGURE: {text}")
    with open(workdir / "figures.txt", "a") as f:
        f.write(text + "\n")


def text_lines(path):
    """The reading lines of a text-format file (header excluded); [] when
    the file does not exist yet. A torn last line is returned as is."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [l for l in lines if not l.startswith("#")]


def wait_for_count(count, n, timeout, alive=()):
    """Poll count() until it reaches n; return the count reached. Fails
    early when a process in `alive` (which must stay up) exited."""
    got = 0
    for _ in bounded_polls(timeout):
        got = count()
        if got >= n:
            return got
        for p in alive:
            if not p.running():
                pytest.fail(f"{p.name} exited early\n" + p.describe())
    return got


def wait_lines(path, n, timeout, procs_alive=()):
    """Wait until the file holds at least n reading lines; return the
    count reached. Fails early when a process that must stay up died."""
    return wait_for_count(lambda: len(text_lines(path)), n, timeout,
                          procs_alive)


def assert_exactly_once(path, device, n):
    """The file is a header and n readings of `device`, seq 0..n-1 each
    exactly once (any order), every line complete and well formed."""
    data = Path(path).read_bytes()
    assert data.endswith(b"\n"), f"{path}: torn last line {data[-80:]!r}"
    lines = data.decode().split("\n")[:-1]
    assert lines[0] == TEXT_HEADER, lines[0]
    seqs = []
    for i, line in enumerate(lines[1:], start=2):
        m = TEXT_LINE_RE.match(line)
        assert m, f"{path}:{i}: malformed or torn line {line!r}"
        assert m["device"] == device, line
        seqs.append(int(m["seq"]))
    dup = len(seqs) - len(set(seqs))
    missing = sorted(set(range(n)) - set(seqs))
    assert dup == 0 and not missing and len(seqs) == n, (
        f"{path}: {len(seqs)} lines, {dup} duplicate, {len(missing)} missing "
        f"(first missing: {missing[:20]})")


def kill9(proc):
    """SIGKILL by PID and reap it."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.popen.wait(timeout=10)


def counters(proc):
    """The sensor's last `counters:` line as a dict."""
    for line in reversed(proc.stderr_lines()):
        if "counters:" in line:
            return dict(kv.split("=") for kv in line.split("counters:")[1].split())
    pytest.fail(f"{proc.name}: no counters line\n" + proc.describe())


def patch_conf(conf, **settings):
    """Replace (or add) `key value` lines of a generated broker config."""
    lines = Path(conf).read_text().splitlines()
    for key, value in settings.items():
        lines = [l for l in lines if l.split()[:1] != [key]]
        lines.append(f"{key} {value}")
    Path(conf).write_text("\n".join(lines) + "\n")
