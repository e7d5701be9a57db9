"""A user's first hour (issue #14): errors that say what to do. A
configuration mistake exits 2 at start with a message naming the option
and what to do (nothing received, nothing written); a runtime problem
says what is likely wrong.
"""

import os
import re

import pytest

from conftest import (TEXT_HEADER, free_port, parse_summary,
                      read_text_readings, sensor_argv, sink_argv)


# --------------------------------------------------------------------------
# Configuration mistakes: exit 2 at start, the option named

USAGE_CASES = {
    # name: (program, extra args, message regex)
    "sink-filter-hash-inside": (
        "sink", ["-t", "pitemp/#/x"],
        r"error: option --topic: 'pitemp/#/x' has '#' at byte 7: '#' must be "
        r"the whole last level"),
    "sink-filter-plus-in-level": (
        "sink", ["-t", "pitemp/a+/temperature"],
        r"option --topic: .* '\+' must be a whole level"),
    "sensor-topic-wildcard": (
        "sensor", ["-t", "pitemp/+/temperature"],
        r"option --topic: 'pitemp/\+/temperature' has the wildcard '\+'"),
    "sensor-topic-too-long": (
        "sensor", ["-t", "x" * 65536],
        r"option --topic: 'x+\.\.\.' is 65536 bytes long, longer than MQTT's 65535"),
    "sensor-topic-control-char": (
        "sensor", ["-t", "pitemp/a\tb"],
        r"option --topic: .* has a control character \(U\+0009"),
    "sink-cafile-missing": (
        "sink", ["--cafile", "/nonexistent/ca.crt"],
        r"error: option --cafile: cannot read '/nonexistent/ca.crt': "
        r"No such file or directory"),
    "sensor-cafile-missing": (
        "sensor", ["--cafile", "/nonexistent/ca.crt"],
        r"error: option --cafile: cannot read '/nonexistent/ca.crt'"),
    "sensor-key-missing": (
        "sensor", ["--cafile", "/dev/null", "--cert", "/dev/null",
                   "--key", "/nonexistent/k.pem"],
        r"error: option --key: cannot read '/nonexistent/k.pem'"),
    "sink-password-file-missing": (
        "sink", ["--password-file", "/nonexistent/pw"],
        r"error: option --password-file: cannot read '/nonexistent/pw'"),
    "sink-cafile-in-socket-mode": (
        "sink", ["--mode", "socket", "--cafile", "/dev/null"],
        r"error: option --cafile applies only to --mode mqtt, not to --mode "
        r"socket: remove it"),
    "sensor-username-in-socket-mode": (
        "sensor", ["--mode", "socket", "-u", "pi"],
        r"error: option --username applies only to --mode mqtt"),
    "sink-bind-in-mqtt-mode": (
        "sink", ["--bind", "127.0.0.1"],
        r"error: option --bind applies only to --mode socket, not to --mode mqtt"),
    "sink-max-clients-in-mqtt-mode": (
        "sink", ["--max-clients", "4"],
        r"error: option --max-clients applies only to --mode socket"),
    "sink-idle-timeout-in-mqtt-mode": (
        "sink", ["--idle-timeout", "4"],
        r"error: option --idle-timeout applies only to --mode socket"),
    "sensor-insecure-without-tls": (
        "sensor", ["--insecure"],
        r"error: option --insecure needs --cafile"),
}


@pytest.mark.parametrize("case", sorted(USAGE_CASES))
def test_configuration_mistake_exits_2_naming_the_option(bins, procs, workdir,
                                                         case):
    prog, extra, msg = USAGE_CASES[case]
    port = free_port()     # nothing listens: the run must not get that far
    out = workdir / "readings.txt"
    if prog == "sink":
        argv = sink_argv(bins, port, "-C", "1", "-W", "30", "-o", out, *extra)
        if "socket" in extra:
            argv = [bins["sink"], "-C", "1", "-W", "30", "-o", out, *extra]
    else:
        argv = sensor_argv(bins, port, "-C", "1", *extra)
    env = {k: v for k, v in os.environ.items() if k != "PITEMP_PASSWORD"}
    p = procs.start(prog, argv, env=env)
    assert p.wait_exit(10) == 2, p.describe()
    err = p.stderr()
    assert re.search(msg, err), p.describe()
    assert "(see --help)" in err
    assert len(err.splitlines()) == 1, p.describe()   # nothing else happened
    assert not out.exists()
