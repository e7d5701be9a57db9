"""`make capture` (issue #6): the two-host namespace rig, tshark on the
server's veth, one capture per transport, report.md and report.png.

Runs capture/capture.py with a small N into the test's own directory (so
build/capture/ of a `make capture` is left alone), then checks the
captures with tshark directly -- not through capture/pcap.py -- so the
report's figures are compared with an independent reading of the pcaps:
the TCP handshake in each capture, the payload readable on the socket and
MQTT and never over TLS, and the per-reading byte counts of report.md.
Root only (network namespaces, capturing); skipped otherwise. Bounded:
the capture run has 90 s, each tshark call 30 s.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import BUILD, REPO

N = 50
RUN_TIMEOUT = 90
TSHARK_TIMEOUT = 30
DEVICE = "pi-sensor-1"
# pcap name, the transport's title in report.md, port
TRANSPORTS = (
    ("socket", "plain socket", 50007),
    ("mqtt-qos0", "MQTT QoS 0", 1883),
    ("mqtt-qos1", "MQTT QoS 1", 1883),
    ("mqtts", "MQTT/TLS QoS 1", 8883),
)
TLS13_OVERHEAD = 17     # inner content type + AEAD tag, per record
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tshark(pcap, display_filter, *fields):
    argv = ["tshark", "-n", "-r", str(pcap), "-Y", display_filter,
            "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;"]
    for f in fields or ("frame.number",):
        argv += ["-e", f]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=TSHARK_TIMEOUT)
    assert r.returncode == 0, f"{' '.join(argv)}: {r.stderr}"
    return [line.split("\t") for line in r.stdout.splitlines() if line]


def frame_numbers(pcap, display_filter):
    return [int(r[0]) for r in tshark(pcap, display_filter)]


def frame_bytes(pcap, display_filter):
    return sum(int(r[0]) for r in tshark(pcap, display_filter, "frame.len"))


@pytest.fixture(scope="module")
def capture_dir(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("make capture needs root (network namespaces, tshark on a "
                    "veth): run the integration tests as root")
    missing = [t for t in ("tshark", "gnuplot", "mosquitto", "ip", "iptables", "ss")
               if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {' '.join(missing)} (make deps installs them)")
    for b in ("pitemp-sensor", "pitemp-sink"):
        if not os.access(BUILD / "bin" / b, os.X_OK):
            pytest.fail(f"{BUILD / 'bin' / b} not built (run make, or set PITEMP_BUILD)")
    out = BUILD / "test-tmp" / "test_capture"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    argv = [sys.executable, str(REPO / "capture" / "capture.py"), "--count", str(N),
            "--build", str(BUILD), "--out", str(out)]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"capture.py still running after {RUN_TIMEOUT} s\n{e.stdout}\n{e.stderr}")
    (out / "capture.out").write_text(r.stdout + r.stderr)
    assert r.returncode == 0, f"{' '.join(argv)}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return out


def report_rows(out):
    """{title: (total frames, total bytes, set-up bytes, per-reading bytes,
    (window start, window end))} from report.md."""
    md = (out / "report.md").read_text()
    rows = {}
    for _, title, port in TRANSPORTS:
        m = re.search(
            rf"^\| {re.escape(title)} \| {port} \| (\d+) / (\d+) \| \d+ / (\d+) \| "
            r"[\d.]+ / \*\*([\d.]+)\*\*", md, re.M)
        assert m, f"report.md: no side-by-side row for {title}"
        w = re.search(rf"^## {re.escape(title)} \(port {port}\).*?steady state: frames "
                      r"(\d+)–(\d+);", md, re.M | re.S)
        assert w, f"report.md: no steady-state window for {title}"
        rows[title] = (int(m.group(1)), int(m.group(2)), int(m.group(3)),
                       float(m.group(4)), (int(w.group(1)), int(w.group(2))))
    return rows


def test_capture_writes_every_file(capture_dir):
    for name, _, _ in TRANSPORTS:
        p = capture_dir / f"{name}.pcapng"
        assert p.is_file() and p.stat().st_size > 0, f"{p} missing or empty"
    assert (capture_dir / "report.md").stat().st_size > 0
    png = (capture_dir / "report.png").read_bytes()
    assert png[:8] == PNG_MAGIC, "report.png is not a PNG"
    # No namespace of the rig is left behind.
    r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    rig = re.search(r"rig: (pt-sen-\w+) .* (pt-srv-\w+) ",
                    (capture_dir / "capture.out").read_text())
    assert rig, "capture.py did not name its rig"
    assert rig.group(1) not in r.stdout and rig.group(2) not in r.stdout, r.stdout


@pytest.mark.parametrize("name", [t[0] for t in TRANSPORTS])
def test_capture_holds_the_three_way_handshake(capture_dir, name):
    pcap = capture_dir / f"{name}.pcapng"
    syn = frame_numbers(pcap, "tcp.flags.syn==1 && tcp.flags.ack==0")
    synack = frame_numbers(pcap, "tcp.flags.syn==1 && tcp.flags.ack==1")
    assert len(syn) == 1 and len(synack) == 1, f"{name}: SYN {syn}, SYN/ACK {synack}"
    ack = frame_numbers(pcap, f"frame.number > {synack[0]} && tcp.flags.syn==0 && "
                              "tcp.flags.ack==1 && tcp.seq==1 && tcp.ack==1 && tcp.len==0")
    assert syn[0] < synack[0] < ack[0], f"{name}: SYN {syn}, SYN/ACK {synack}, ACK {ack}"
    assert syn == [1], f"{name}: the capture does not start with the SYN"


def test_payload_is_readable_except_over_tls(capture_dir):
    for name, _, _ in TRANSPORTS:
        clear = frame_numbers(capture_dir / f"{name}.pcapng", 'frame contains "temp_c"')
        if name == "mqtts":
            assert clear == [], f"mqtts: temp_c readable in frames {clear}"
        else:
            assert clear, f"{name}: no frame contains temp_c"


def test_password_is_readable_on_1883_and_not_on_8883(capture_dir):
    pw = (capture_dir / "secure" / "users" / f"{DEVICE}.password").read_text().strip()
    for name in ("mqtt-qos0", "mqtt-qos1"):
        rows = tshark(capture_dir / f"{name}.pcapng", "mqtt.msgtype == 1",
                      "mqtt.username", "mqtt.passwd")
        assert rows == [[DEVICE, pw]], f"{name}: CONNECT fields {rows}"
    assert frame_numbers(capture_dir / "mqtts.pcapng", f'frame contains "{pw}"') == []


def reading_window(pcap, reading_filter, sensor):
    """(first reading frame, first tear-down frame) by the report's rule,
    recomputed here from tshark's display filters."""
    frames = frame_numbers(pcap, reading_filter)
    first, last = frames[0], frames[-1]
    after = frame_numbers(pcap, f"frame.number > {last} && (tcp.flags.fin==1 || "
                                f"tcp.flags.reset==1 || (ip.src=={sensor} && tcp.len>0))")
    return first, after[0]


def test_report_figures_match_the_pcaps(capture_dir):
    rows = report_rows(capture_dir)
    # Reading PUBLISH sizes of the plain QoS 1 run, for finding the
    # readings among the TLS records: per message, from its Remaining
    # Length (a frame's tcp.len may hold several, or part of one).
    pub = []
    for types, topics, rls in tshark(capture_dir / "mqtt-qos1.pcapng", "mqtt.msgtype == 3",
                                     "mqtt.msgtype", "mqtt.topic", "mqtt.len"):
        pub_rl = [int(r) for t, r in zip(types.split(";"), rls.split(";")) if t == "3"]
        for topic, rl in zip(topics.split(";"), pub_rl):
            if topic.endswith("/temperature"):
                pub.append(1 + (1 if rl < 128 else 2) + rl)
    for name, title, port in TRANSPORTS:
        pcap = capture_dir / f"{name}.pcapng"
        total_frames, total_bytes, setup_bytes, per_reading, window = rows[title]
        lens = [int(r[0]) for r in tshark(pcap, "frame", "frame.len")]
        assert (len(lens), sum(lens)) == (total_frames, total_bytes), \
            f"{name}: report total {total_frames}/{total_bytes}, pcap {len(lens)}/{sum(lens)}"
        sensor = tshark(pcap, "tcp.flags.syn==1 && tcp.flags.ack==0", "ip.src")[0][0]
        if name == "socket":
            first, tear = reading_window(pcap, 'frame contains "temp_c"', sensor)
        elif name.startswith("mqtt-"):
            first, tear = reading_window(pcap, 'mqtt.topic contains "/temperature"', sensor)
        else:
            # Over TLS: the sensor's records as long as a reading PUBLISH
            # plus the TLS 1.3 record overhead (a few bytes of slack).
            lo, hi = min(pub) - 4 + TLS13_OVERHEAD, max(pub) + 4 + TLS13_OVERHEAD
            recs = tshark(pcap, f"ip.src=={sensor} && tls.record.length", "frame.number",
                          "tls.record.length")
            readings = [int(no) for no, ls in recs for ln in ls.split(";")
                        if lo <= int(ln) <= hi]
            assert len(readings) == N, f"mqtts: {len(readings)} reading-size records, not {N}"
            first, tear = reading_window(
                pcap, " || ".join(f"frame.number=={no}" for no in sorted(set(readings))), sensor)
        assert (first, tear - 1) == window, \
            f"{name}: report's steady state {window}, recomputed {first}-{tear - 1}"
        steady = frame_bytes(pcap, f"frame.number >= {first} && frame.number < {tear}")
        assert abs(steady / N - per_reading) <= 0.051, \
            f"{name}: report {per_reading} bytes/reading, pcap {steady} / {N} = {steady / N:.2f}"
        assert frame_bytes(pcap, f"frame.number < {first}") == setup_bytes, \
            f"{name}: set-up bytes differ from the report"


def test_socket_acks_match_the_pcap(capture_dir):
    """Socket mode's own acknowledgement on the wire: the sensor's hello
    opens the stream, the sink greets and answers with cumulative acks
    ending at `ack N`, and the report's row for them holds what tshark
    counts in the steady state."""
    pcap = capture_dir / "socket.pcapng"
    up = tshark(pcap, "tcp.dstport == 50007 && tcp.len > 0 && "
                      "!tcp.analysis.retransmission", "tcp.payload")
    first = bytes.fromhex(up[0][0].replace(":", ""))
    assert first.startswith(b"pitemp-sensor 1\n"), first[:40]
    down = tshark(pcap, "tcp.srcport == 50007 && tcp.len > 0 && "
                        "!tcp.analysis.retransmission",
                  "frame.number", "frame.len", "tcp.len", "tcp.payload")
    text = b"".join(bytes.fromhex(r[3].replace(":", "")) for r in down)
    lines = text.decode("ascii").splitlines()
    assert lines[0] == "pitemp-sink 1", lines[:3]
    acked = [int(re.fullmatch(r"ack (\d+)", l).group(1)) for l in lines[1:]]
    assert acked == sorted(acked) and acked[-1] == N, acked

    # Retransmitted segments (spurious ones happen on a busy host) cost
    # wire bytes too: the report counts every segment that carries acks.
    first_f, last_f = report_rows(capture_dir)["plain socket"][4]
    steady = [r for r in tshark(pcap, "tcp.srcport == 50007 && tcp.len > 0",
                                "frame.number", "frame.len", "tcp.len")
              if first_f <= int(r[0]) <= last_f]
    md = (capture_dir / "report.md").read_text()
    m = re.search(r"^\| \*\*acks, sink → sensor\*\* \(segments carrying `ack N` "
                  r"lines\) \| (\d+) \| (\d+) \| (\d+) \|", md, re.M)
    assert m, "report.md: no row for the socket's acks"
    assert (int(m.group(1)), int(m.group(2)), int(m.group(3))) == \
        (len(steady), sum(int(r[1]) for r in steady),
         sum(int(r[2]) for r in steady))
