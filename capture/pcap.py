"""pcap.py: what capture/report.py measures in one capture, read with tshark.

analyse(path, kind, n, reading_lengths=None) runs tshark over one pcapng and
returns a dict of figures: the TCP handshake and tear-down frames, the
set-up / steady-state / tear-down split, per-reading cost, PSH and ACK
counts, where the payload and the credentials can be read, and the
inter-arrival times of the readings at the server. Every figure comes from
tshark's own fields (-T fields), and the totals are checked against
tshark's -z io,stat and -z conv,tcp; a disagreement raises ReportError.

How a frame is attributed:
  - a "reading frame" carries at least one reading from the sensor: on the
    socket, a payload containing "temp_c" (one per line); in MQTT, the
    PUBLISH messages (mqtt.msgtype == 3) to .../temperature, counted from
    tshark's per-message fields, not per frame, because several PUBLISH
    can share one TCP segment; over TLS, where nothing can be read, the
    sensor's encrypted records whose length is a reading PUBLISH's length
    (taken from the plain MQTT capture) plus the TLS record overhead.
  - set-up: every frame before the first reading frame (TCP handshake,
    TLS handshake, MQTT CONNECT/CONNACK).
  - tear-down: from the first frame after the last reading frame that
    carries anything but a reading from the sensor (MQTT "offline" status,
    DISCONNECT, close_notify) or a FIN/RST, to the end.
  - steady state: the frames in between, including the ACKs and PUBACKs
    of the readings and whatever else the sensor sends while publishing
    (its retained "online" status message), and on the socket the sink's
    "ack N" lines. Per reading = steady / N.
Bytes are frame.len: the Ethernet frame as captured (headers included,
no preamble or FCS).
"""

import re
import subprocess

TSHARK_TIMEOUT = 60
SEP = "\t"
AGG = ";"

FIELDS = ("frame.number", "frame.time_relative", "frame.len", "ip.src",
          "tcp.flags", "tcp.seq", "tcp.ack", "tcp.len", "tcp.payload",
          "mqtt.msgtype", "mqtt.topic", "mqtt.len",
          "tls.record.content_type", "tls.record.opaque_type",
          "tls.record.length", "tcp.analysis.retransmission", "_ws.col.Info")

MQTT_TYPES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK",
              8: "SUBSCRIBE", 9: "SUBACK", 12: "PINGREQ", 13: "PINGRESP",
              14: "DISCONNECT"}
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
TLS_APPDATA = 23


class ReportError(Exception):
    pass


def tshark(*args):
    argv = ["tshark", "-n", *args]
    try:
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=TSHARK_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ReportError(f"{' '.join(argv)}: no answer in {TSHARK_TIMEOUT} s") from None
    if r.returncode != 0:
        raise ReportError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()[-500:]}")
    return r.stdout


def fields(path, names, display_filter=None):
    """tshark -T fields rows as lists of strings (multi-valued fields
    joined by AGG)."""
    args = ["-r", str(path), "-T", "fields", "-E", f"separator={SEP}",
            "-E", "occurrence=a", "-E", f"aggregator={AGG}"]
    if display_filter:
        args += ["-Y", display_filter]
    for f in names:
        args += ["-e", f]
    out = tshark(*args)
    return [line.split(SEP) for line in out.splitlines() if line]


def ints(s):
    return [int(x, 0) for x in s.split(AGG) if x != ""]


def flag_names(flags):
    names = [n for bit, n in ((SYN, "SYN"), (FIN, "FIN"), (RST, "RST"),
                              (PSH, "PSH"), (ACK, "ACK")) if flags & bit]
    return ", ".join(names)


def packet_len(remaining):
    varint = 1
    r = remaining
    while r > 127:
        r //= 128
        varint += 1
    return 1 + varint + remaining


def read_frames(path):
    frames = []
    for row in fields(path, FIELDS):
        row += [""] * (len(FIELDS) - len(row))
        f = dict(zip(FIELDS, row))
        content = ints(f["tls.record.content_type"])
        opaque = ints(f["tls.record.opaque_type"])
        frames.append({
            "no": int(f["frame.number"]),
            "t": float(f["frame.time_relative"]),
            "len": int(f["frame.len"]),
            "src": f["ip.src"],
            "flags": int(f["tcp.flags"], 16) if f["tcp.flags"] else 0,
            "seq": int(f["tcp.seq"] or 0),
            "ack": int(f["tcp.ack"] or 0),
            "tcp_len": int(f["tcp.len"] or 0),
            "payload": bytes.fromhex(f["tcp.payload"].replace(":", "")),
            "mqtt": ints(f["mqtt.msgtype"]),
            "topics": [t for t in f["mqtt.topic"].split(AGG) if t],
            "mqtt_len": ints(f["mqtt.len"]),
            # Plaintext records (handshake, CCS) precede the encrypted ones
            # within a frame, so the two lists concatenate in wire order.
            "records": list(zip(content + opaque, ints(f["tls.record.length"]))),
            # A retransmitted segment carries readings already counted
            # (a spurious one: the peer's ACK came late on a busy host).
            "retrans": f["tcp.analysis.retransmission"] != "",
            "info": f["_ws.col.Info"],
        })
    if not frames:
        raise ReportError(f"{path}: no frames")
    return frames


def io_stat_totals(path):
    out = tshark("-r", str(path), "-q", "-z", "io,stat,0")
    m = re.search(r"\|\s*[\d.]+\s*<>\s*\S+\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", out)
    if not m:
        raise ReportError(f"{path}: cannot read tshark -z io,stat,0:\n{out}")
    return int(m.group(1)), int(m.group(2)), out.strip()


def conv_tcp(path):
    out = tshark("-r", str(path), "-q", "-z", "conv,tcp")
    convs = [l for l in out.splitlines() if "<->" in l]
    return convs, out.strip()


def percentile(xs, p):
    if not xs:
        return None
    s = sorted(xs)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def analyse(path, kind, n, reading_lengths=None, password=None):
    """kind: socket | mqtt | mqtts. reading_lengths: (min, max) bytes of a
    reading PUBLISH in the plain MQTT capture (needed for mqtts)."""
    frames = read_frames(path)
    syn = next((f for f in frames if f["flags"] & SYN and not f["flags"] & ACK), None)
    if syn is None:
        raise ReportError(f"{path}: no SYN: the capture misses the connection set-up")
    sensor = syn["src"]
    for f in frames:
        f["up"] = f["src"] == sensor          # sensor -> server
        f["readings"] = 0

    tls = {}
    if kind == "socket":
        for f in frames:
            if f["up"] and not f["retrans"]:
                f["readings"] = f["payload"].count(b'"temp_c"')
    elif kind == "mqtt":
        for f in frames:
            if f["up"] and not f["retrans"]:
                f["readings"] = sum(t.endswith("/temperature") for t in f["topics"])
    else:
        tls = tls_params(path)
        lo, hi = reading_lengths
        # A few bytes of slack: the temperature and mV of this run's
        # readings may have a digit more or less than the plain run's.
        band = (lo - 4 + tls["overhead"], hi + 4 + tls["overhead"])
        tls["reading_band"] = band
        for f in frames:
            if f["up"] and not f["retrans"]:
                f["readings"] = sum(1 for ty, ln in f["records"]
                                    if ty == TLS_APPDATA and band[0] <= ln <= band[1])

    total_readings = sum(f["readings"] for f in frames)
    if total_readings != n:
        raise ReportError(f"{path}: found {total_readings} readings, expected {n}")
    rf = [f for f in frames if f["readings"]]
    first, last = rf[0]["no"], rf[-1]["no"]
    after = [f for f in frames if f["no"] > last and
             (f["flags"] & (FIN | RST) or (f["up"] and f["tcp_len"] > 0))]
    tear = after[0]["no"] if after else frames[-1]["no"] + 1
    setup = [f for f in frames if f["no"] < first]
    steady = [f for f in frames if first <= f["no"] < tear]
    teardown = [f for f in frames if f["no"] >= tear]

    def cost(fs):
        return {"frames": len(fs), "bytes": sum(f["len"] for f in fs),
                "payload": sum(f["tcp_len"] for f in fs)}

    # TCP's own handshake: SYN, SYN/ACK, then the client's first ACK.
    synack = next((f for f in frames if f["flags"] & SYN and f["flags"] & ACK), None)
    ack3 = next((f for f in frames if synack and f["no"] > synack["no"] and f["up"]
                 and f["flags"] & ACK and not f["flags"] & (SYN | FIN | RST)), None)
    handshake = [f for f in (syn, synack, ack3) if f]
    fins = [f for f in frames if f["flags"] & (FIN | RST)]

    # PSH and ACK: what they are, counted per direction.
    def counts(fs):
        c = {}
        for d, name in ((True, "up"), (False, "down")):
            ds = [f for f in fs if f["up"] == d]
            c[name] = {
                "frames": len(ds),
                "data": sum(1 for f in ds if f["tcp_len"] > 0),
                "psh": sum(1 for f in ds if f["flags"] & PSH),
                "ack": sum(1 for f in ds if f["flags"] & ACK),
                "pure_ack": sum(1 for f in ds if f["tcp_len"] == 0 and
                                f["flags"] & ACK and not f["flags"] & (SYN | FIN | RST)),
            }
        return c

    # Socket mode's own acknowledgement (lib/pt_ack.h): the sensor's hello,
    # the sink's greeting, then "ack N" lines from the sink.
    acks = {}
    if kind == "socket":
        def lines_of(fs, up):
            return [l for f in fs if f["up"] == up and f["tcp_len"] > 0
                    for l in f["payload"].split(b"\n") if l]
        down_data = [f for f in steady if not f["up"] and f["tcp_len"] > 0]
        ack_lines = [l for l in lines_of(frames, False) if l.startswith(b"ack ")]
        acks = {
            "hello": any(l == b"pitemp-sensor 1" for l in lines_of(frames, True)),
            "greeting": any(l == b"pitemp-sink 1" for l in lines_of(frames, False)),
            "lines": len(ack_lines),
            "steady_lines": sum(1 for l in lines_of(steady, False)
                                if l.startswith(b"ack ")),
            "last": ack_lines[-1].decode("ascii", "replace") if ack_lines else None,
            "steady_data_frames": len(down_data),
            "steady_data_bytes": sum(f["len"] for f in down_data),
            "steady_payload_bytes": sum(f["tcp_len"] for f in down_data),
        }
        acks["per_reading"] = {
            "frames": len(down_data) / n,
            "bytes": acks["steady_data_bytes"] / n,
            "payload": acks["steady_payload_bytes"] / n,
        }

    mqtt = {}
    if kind == "mqtt":
        for f in frames:
            for m in f["mqtt"]:
                key = ("up " if f["up"] else "down ") + MQTT_TYPES.get(m, str(m))
                mqtt[key] = mqtt.get(key, 0) + 1
        mqtt["shared_segments"] = sum(1 for f in frames if f["up"] and f["mqtt"].count(3) > 1)
        mqtt["max_per_segment"] = max((f["mqtt"].count(3) for f in frames), default=0)
    if kind == "mqtts":
        ack_len = 4 + tls["overhead"]           # a PUBACK is 4 bytes of MQTT
        tls["down_records_puback_size"] = sum(
            1 for f in steady if not f["up"]
            for ty, ln in f["records"] if ty == TLS_APPDATA and ln == ack_len)
        tls["up_records"] = sum(1 for f in frames if f["up"]
                                for ty, _ in f["records"] if ty == TLS_APPDATA)
        tls["max_per_segment"] = max(f["readings"] for f in frames)

    # Inter-arrival of readings at the server: several readings in one
    # segment arrive together (gap 0).
    gaps, prev = [], None
    for f in rf:
        if prev is not None:
            gaps.append((f["t"] - prev) * 1000.0)
        gaps += [0.0] * (f["readings"] - 1)
        prev = f["t"]

    # Stalls: a reading frame more than 2 sample periods (20 ms) after the
    # previous one, with the time since the server's last segment before
    # it. Microseconds mean the sensor's TCP was waiting for that ACK to
    # send (Nagle's algorithm), not the sensor being late.
    stalls, prev, last_down = [], None, None
    for f in frames:
        if not f["up"]:
            last_down = f
        elif f["readings"]:
            if prev is not None and (f["t"] - prev["t"]) * 1000.0 > 20.0:
                after = (f["t"] - last_down["t"]) * 1e6 if last_down else None
                stalls.append({"frame": f["no"], "gap_ms": (f["t"] - prev["t"]) * 1000.0,
                               "readings": f["readings"], "after_ack_us": after,
                               "ack_frame": last_down["no"] if last_down else None})
            prev = f

    # Can it be read? The first frame whose bytes contain "temp_c" (what
    # `tshark -Y 'frame contains "temp_c"'` finds) and the credentials.
    clear = [int(r[0]) for r in fields(path, ["frame.number"], 'frame contains "temp_c"')]
    sample = None
    if clear:
        f = frames[clear[0] - 1]
        m = re.search(rb'\{[^{}]*"temp_c"[^{}]*\}', f["payload"])
        sample = m.group(0).decode("ascii", "replace") if m else None
    creds = [(int(r[0]), r[1], r[2]) for r in
             fields(path, ["frame.number", "mqtt.username", "mqtt.passwd"], "mqtt.msgtype == 1")]
    pw_frames = []
    if password:
        pw_frames = [int(r[0]) for r in
                     fields(path, ["frame.number"], f'frame contains "{password}"')]

    # Cross-checks against tshark's own statistics.
    total = cost(frames)
    io_frames, io_bytes, io_text = io_stat_totals(path)
    if (io_frames, io_bytes) != (total["frames"], total["bytes"]):
        raise ReportError(f"{path}: io,stat says {io_frames} frames {io_bytes} bytes, "
                          f"the frames add up to {total['frames']} / {total['bytes']}")
    convs, conv_text = conv_tcp(path)
    if len(convs) != 1:
        raise ReportError(f"{path}: {len(convs)} TCP conversations, expected one")
    parts = cost(setup)["bytes"] + cost(steady)["bytes"] + cost(teardown)["bytes"]
    assert parts == total["bytes"]

    return {
        "kind": kind, "n": n, "sensor": sensor, "frames": frames,
        "total": total, "setup": cost(setup), "steady": cost(steady),
        "teardown": cost(teardown),
        "setup_frames": setup, "teardown_frames": teardown,
        "window": (first, tear), "last_reading_frame": last,
        "tcp_handshake": handshake, "tcp_handshake_cost": cost(handshake),
        "fins": fins,
        "counts": counts(frames), "steady_counts": counts(steady),
        "per_reading": {k: v / n for k, v in cost(steady).items()},
        "up_per_reading": sum(f["len"] for f in steady if f["up"]) / n,
        "down_per_reading": sum(f["len"] for f in steady if not f["up"]) / n,
        "gaps_ms": gaps, "reading_frames": len(rf), "stalls": stalls,
        "burst_at_start": next((i for i, g in enumerate(gaps) if g > 1.0), len(gaps)),
        "clear_frames": clear, "clear_sample": sample,
        "credentials": creds, "password_frames": pw_frames,
        "mqtt": mqtt, "tls": tls, "acks": acks,
        "io_stat": io_text, "conv_tcp": conv_text, "duration": frames[-1]["t"],
    }


# Bytes a TLS record adds to what it carries (header not counted: that is
# tls.record.length's convention). TLS 1.3 AEAD: 1 byte inner content type
# + 16 byte tag (8 with CCM_8); TLS 1.2 GCM: 8 byte explicit nonce + 16 byte
# tag; TLS 1.2 ChaCha20-Poly1305: 16 byte tag.
TLS12_GCM = {0x009c, 0x009d, 0x009e, 0x009f, 0xc02b, 0xc02c, 0xc02f, 0xc030}
TLS12_CHACHA = {0xcca8, 0xcca9, 0xccaa}
TLS_VERSIONS = {0x0304: "TLS 1.3", 0x0303: "TLS 1.2"}


def tls_params(path):
    """Version, cipher suite and per-record overhead of the TLS session,
    from the ServerHello (which is never encrypted)."""
    rows = fields(path, ["frame.number", "tls.handshake.extensions.supported_version",
                         "tls.handshake.version", "tls.handshake.ciphersuite"],
                  "tls.handshake.type == 2")
    if not rows:
        raise ReportError(f"{path}: no TLS ServerHello")
    no, sv, hv, cs = (rows[0] + ["", "", "", ""])[:4]
    version = ints(sv)[-1] if sv else ints(hv)[-1]
    suite = ints(cs)[-1]
    if version == 0x0304:
        overhead = 9 if suite == 0x1305 else 17
    elif version == 0x0303 and suite in TLS12_GCM:
        overhead = 24
    elif version == 0x0303 and suite in TLS12_CHACHA:
        overhead = 16
    else:
        raise ReportError(f"{path}: TLS version 0x{version:04x} suite 0x{suite:04x}: "
                          "record overhead unknown")
    return {"server_hello_frame": int(no), "version": TLS_VERSIONS[version],
            "suite": f"0x{suite:04x}", "overhead": overhead}


def reading_publish_lengths(path):
    """(min, max) bytes of the reading PUBLISH packets in a plain MQTT
    capture: Remaining Length + fixed header."""
    lens = []
    for no, types, topics, rl in fields(path, ["frame.number", "mqtt.msgtype",
                                               "mqtt.topic", "mqtt.len"], "mqtt.msgtype == 3"):
        types, rls = ints(types), ints(rl)
        tps = [t for t in topics.split(AGG) if t]
        # Only PUBLISH here carry topics; zip by position among PUBLISH.
        pub_rl = [r for t, r in zip(types, rls) if t == 3]
        for t, r in zip(tps, pub_rl):
            if t.endswith("/temperature"):
                lens.append(packet_len(r))
    if not lens:
        raise ReportError(f"{path}: no reading PUBLISH")
    return min(lens), max(lens)
