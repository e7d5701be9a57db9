#!/usr/bin/python3
"""report.py: report.md and report.png from the captures of `make capture`.

    /usr/bin/python3 capture/report.py DIR [--count N]

DIR holds socket.pcapng, mqtt-qos0.pcapng, mqtt-qos1.pcapng, mqtts.pcapng
(capture/capture.py writes them) and secure/users/ (the passwords, to show
whether they can be read on the wire). Every figure is read from the
captures with tshark (capture/pcap.py says how each one is counted); the
plot is drawn by gnuplot (capture/report.gp). Also writes figures.json,
the same figures for scripts and tests. Can be re-run on existing captures.
Exit status: 0 done, 1 a capture or tool failed, 2 usage error.
"""

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pcap  # noqa: E402
from pcap import ReportError  # noqa: E402,F401  (capture.py catches it)

DEVICE = "pi-sensor-1"

# name, kind, port, title
TRANSPORTS = (
    ("socket", "socket", 50007, "plain socket"),
    ("mqtt-qos0", "mqtt", 1883, "MQTT QoS 0"),
    ("mqtt-qos1", "mqtt", 1883, "MQTT QoS 1"),
    ("mqtts", "mqtts", 8883, "MQTT/TLS QoS 1"),
)


def ms(t):
    return f"{t * 1000:.3f}"


def fmt(x, nd=1):
    return "–" if x is None else f"{x:.{nd}f}"


def frame_table(a, fs):
    rows = ["| frame | time (ms) | direction | TCP flags | seq | ack | TCP payload | frame bytes | tshark says |",
            "|---:|---:|---|---|---:|---:|---:|---:|---|"]
    for f in fs:
        d = "sensor → server" if f["up"] else "server → sensor"
        info = f["info"].replace("|", "/")
        if len(info) > 90:
            info = info[:87] + "..."
        rows.append(f"| {f['no']} | {ms(f['t'])} | {d} | {pcap.flag_names(f['flags'])} | "
                    f"{f['seq']} | {f['ack']} | {f['tcp_len']} | {f['len']} | {info} |")
    return "\n".join(rows)


def read_password(out, user):
    try:
        return (out / "secure" / "users" / f"{user}.password").read_text().strip()
    except OSError:
        return None


def masked(pw):
    return f"`{pw[:4]}…{pw[-2:]}` ({len(pw)} characters)" if pw else "–"


# ---------------------------------------------------------------------------

def analyse_all(out, n):
    missing = [f"{name}.pcapng" for name, *_ in TRANSPORTS
               if not (out / f"{name}.pcapng").is_file()]
    if missing:
        raise ReportError(f"missing in {out}: {' '.join(missing)}")
    password = read_password(out, DEVICE)
    lengths = pcap.reading_publish_lengths(out / "mqtt-qos1.pcapng")
    res = {}
    for name, kind, port, title in TRANSPORTS:
        a = pcap.analyse(out / f"{name}.pcapng", kind, n, lengths, password)
        a.update(name=name, port=port, title=title)
        res[name] = a
    return res, password, lengths


def side_by_side(res):
    rows = [
        "| transport | port | total frames / bytes | set-up frames / bytes | per reading: frames / bytes (up + down) | per reading: TCP payload bytes | tear-down frames / bytes | PSH segments | pure TCP ACKs from the server (steady) | app-level acks | payload readable | password readable | inter-arrival p50 / p99 / max (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for name, a in res.items():
        c = a["counts"]
        psh = c["up"]["psh"] + c["down"]["psh"]
        if a["kind"] == "mqtt":
            acks = f"{a['mqtt'].get('down PUBACK', 0)} PUBACK"
        elif a["kind"] == "mqtts":
            acks = f"{a['tls']['down_records_puback_size']} PUBACK-sized records (encrypted)"
        else:
            acks = f"{a['acks']['lines']} `ack N` lines"
        readable = f"yes, frame {a['clear_frames'][0]}" if a["clear_frames"] else "no"
        if a["kind"] == "socket":
            pw = "no password (no authentication at all)"
        elif a["credentials"]:
            pw = f"yes, frame {a['credentials'][0][0]}"
        else:
            pw = "no" + (" (in 0 frames)" if not a["password_frames"] else "")
        g = a["gaps_ms"]
        rows.append(
            f"| {a['title']} | {a['port']} | {a['total']['frames']} / {a['total']['bytes']} | "
            f"{a['setup']['frames']} / {a['setup']['bytes']} | "
            f"{a['per_reading']['frames']:.2f} / **{a['per_reading']['bytes']:.1f}** "
            f"({a['up_per_reading']:.1f} + {a['down_per_reading']:.1f}) | "
            f"{a['per_reading']['payload']:.1f} | "
            f"{a['teardown']['frames']} / {a['teardown']['bytes']} | {psh} | "
            f"{a['steady_counts']['down']['pure_ack']} | {acks} | {readable} | {pw} | "
            f"{fmt(pcap.percentile(g, 50), 2)} / {fmt(pcap.percentile(g, 99), 2)} / "
            f"{fmt(max(g) if g else None, 2)} |")
    return "\n".join(rows)


def ack_cost(a):
    """Socket mode's acknowledgement on the wire, as rows of its own."""
    k, n, pr = a["acks"], a["n"], a["per_reading"]
    sc = a["steady_counts"]["down"]
    up = a["up_per_reading"]
    return "\n".join([
        "| socket mode, steady state | frames | bytes (frames) | TCP payload bytes | per reading: frames / bytes |",
        "|---|---:|---:|---:|---:|",
        f"| readings, sensor → sink | {a['steady_counts']['up']['frames']} | "
        f"{up * n:.0f} | – | {a['steady_counts']['up']['frames'] / n:.2f} / {up:.1f} |",
        f"| **acks, sink → sensor** (segments carrying `ack N` lines) | "
        f"{k['steady_data_frames']} | {k['steady_data_bytes']} | {k['steady_payload_bytes']} | "
        f"**{k['per_reading']['frames']:.2f} / {k['per_reading']['bytes']:.1f}** "
        f"({k['per_reading']['payload']:.1f} of it ack text) |",
        f"| pure TCP ACKs, sink → sensor | {sc['pure_ack']} | "
        f"{a['down_per_reading'] * n - k['steady_data_bytes']:.0f} | 0 | "
        f"{sc['pure_ack'] / n:.2f} / {a['down_per_reading'] - k['per_reading']['bytes']:.1f} |",
        f"| all | {a['steady']['frames']} | {a['steady']['bytes']} | {a['steady']['payload']} | "
        f"{pr['frames']:.2f} / {pr['bytes']:.1f} |",
    ])


def answers(res, password):
    s, q0, q1, t = (res[k] for k in ("socket", "mqtt-qos0", "mqtt-qos1", "mqtts"))
    hs = s["tcp_handshake"]
    syn, synack, ack = hs[0], hs[1], hs[2]
    cred = q1["credentials"][0] if q1["credentials"] else None
    pw_ok = bool(cred and password and cred[2] == password)
    tls_extra = t["per_reading"]["bytes"] - q1["per_reading"]["bytes"]
    lines = [
        "## The lab's questions, answered from the captures",
        "",
        "**Where is the 3-way handshake, and why is it needed?** It is the first three "
        f"frames of every capture (socket: frames {syn['no']}, {synack['no']}, {ack['no']}). "
        f"The sensor sends SYN with its initial sequence number (relative seq {syn['seq']}) "
        "and its options (MSS, SACK, window scale, timestamps); the server answers SYN/ACK "
        f"with its own initial sequence number and ack {synack['ack']} (the sensor's number + 1: "
        "a SYN counts as one byte); the sensor's ACK "
        f"(seq {ack['seq']}, ack {ack['ack']}) confirms the server's number. After it both "
        "ends know that the other is there and listening, agree on where each byte stream "
        "starts (so every later byte can be acknowledged, reordered and resent), and have "
        "agreed on segment size and windows. It costs one round trip and "
        f"{s['tcp_handshake_cost']['bytes']} bytes before the first reading can be sent. "
        "MQTT adds its own handshake on top (CONNECT/CONNACK, another round trip: "
        f"{q1['setup']['frames']} frames, {q1['setup']['bytes']} bytes before the first reading), "
        "TLS another one or two round trips and the certificate "
        f"({t['setup']['frames']} frames, {t['setup']['bytes']} bytes).",
        "",
        "**What do ACK and PSH signify?** ACK is set on every segment after the first SYN: "
        "it says the acknowledgement number is valid, i.e. \"I have every byte before this "
        "one\". It is cumulative and comes from the receiver's kernel: it means the bytes "
        "reached the server's TCP buffer, not that any program has read or stored them. "
        f"On the socket the server sent {s['steady_counts']['down']['pure_ack']} pure ACKs (no data) "
        f"for {s['n']} readings in steady state: one per reading, since each reading is its own segment 10 ms after "
        "the previous one. PSH (push) asks the receiver to hand the data to the application "
        "now instead of waiting for more; Linux sets it on the last segment of each write, "
        f"so every data segment carries it ({s['counts']['up']['psh']} PSH segments from the "
        "sensor on the socket). MQTT QoS 1 adds an acknowledgement of its own: PUBACK, "
        "sent by the broker once it has taken responsibility for the message, so the sensor "
        f"may forget it. The broker sent {q1['mqtt'].get('down PUBACK', 0)} PUBACKs "
        f"({q1['n']} readings + the retained online/offline status messages), and because each "
        "PUBACK segment also carries the TCP ACK, it sent "
        f"{q1['steady_counts']['down']['pure_ack']} pure TCP ACKs in steady state (QoS 0: "
        f"{q0['steady_counts']['down']['pure_ack']}). At QoS 0 nothing above TCP confirms a "
        "reading: the sensor knows its bytes reached the broker's kernel, not the broker.",
        "",
        "**Can the payload be read on the wire?** On the socket and on MQTT port 1883, yes: "
        f"the first frame containing `temp_c` is frame {s['clear_frames'][0]} (socket), "
        f"{q0['clear_frames'][0]} (QoS 0) and {q1['clear_frames'][0]} (QoS 1); "
        f"{len(s['clear_frames'])}, {len(q0['clear_frames'])} and {len(q1['clear_frames'])} "
        "frames hold readings in clear text, e.g.",
        "",
        f"    {s['clear_sample']}",
        "",
        f"Over TLS (8883) no frame contains `temp_c` ({len(t['clear_frames'])} frames): "
        f"after the handshake ({t['tls'].get('version')}, cipher suite "
        f"{t['tls'].get('suite')}) everything is encrypted application data.",
        "",
        "**Is the data safe?** Not without TLS. Anyone on the path (same Wi-Fi, a "
        "mirrored switch port, a router) reads every reading, and on 1883 also the MQTT "
        + (f"credentials: frame {cred[0]} is the CONNECT with user name `{cred[1]}` and "
           f"password {masked(cred[2])} in clear text"
           + (" — the sensor's real password" if pw_ok else "") + ". "
           if cred else "credentials. ")
        + "With them an attacker can connect as the sensor and publish fake readings "
        "(the ACL lets that user write its own topics). The socket mode has no "
        "authentication at all: anyone who reaches port 50007 can inject readings. "
        "The dev broker profile (mosquitto.dev.conf) is anonymous, so there is no "
        "password to steal there — and none is needed to read or publish. These captures "
        "use the secure profile's passwords on 1883 on purpose, to show that a password "
        "without TLS protects nothing. Over TLS the readings and the password are not in "
        f"the capture (the password string occurs in {len(t['password_frames'])} frames of "
        "mqtts.pcapng), and the sensor checked the broker's certificate against its CA, so "
        "it cannot be talked into sending them to an impostor. What TLS does not hide: "
        "addresses, ports, timing and sizes. The capture still shows a device sending "
        f"{t['n']} records of reading size about every 10 ms and {t['tls']['down_records_puback_size']} "
        f"{4 + t['tls']['overhead']}-byte records back (the size of an encrypted PUBACK), so "
        "an observer learns the rate and the protocol's rhythm, but not one value. "
        f"The price: {t['setup']['bytes'] - q1['setup']['bytes']} more bytes to set up "
        f"and {tls_extra:.1f} more bytes per reading than plain MQTT QoS 1 "
        f"({t['tls']['overhead']} bytes of TLS per record each way, and the records "
        "make some segments bigger).",
    ]
    return "\n".join(lines)


def section(a, password):
    c, sc = a["counts"], a["steady_counts"]
    out = [f"## {a['title']} (port {a['port']}): `{a['name']}.pcapng`", ""]
    out += [f"{a['total']['frames']} frames, {a['total']['bytes']} bytes in "
            f"{a['duration']:.3f} s; sensor {a['sensor']}. "
            f"Set-up: frames 1–{a['window'][0] - 1}; steady state: frames "
            f"{a['window'][0]}–{a['window'][1] - 1}; tear-down: frames "
            f"{a['window'][1]}–{a['total']['frames']}.", ""]
    out += ["**TCP handshake** (relative sequence numbers, as tshark shows them):", "",
            frame_table(a, a["tcp_handshake"]), ""]
    setup_note = {
        "socket": "nothing but the TCP handshake: the first reading follows at once.",
        "mqtt": "the TCP handshake, then MQTT CONNECT (with user name and password) and "
                "CONNACK, each acknowledged by TCP.",
        "mqtts": "the TCP handshake, the TLS handshake (ClientHello; ServerHello and, "
                 "encrypted in TLS 1.3, the certificate and Finished; the client's Finished), "
                 "the server's session tickets, then the encrypted MQTT CONNECT/CONNACK.",
    }[a["kind"]]
    out += [f"**Connection set-up**: {a['setup']['frames']} frames, "
            f"{a['setup']['bytes']} bytes ({a['tcp_handshake_cost']['bytes']} of them the TCP "
            f"handshake) — {setup_note}", ""]
    if a["kind"] != "socket":
        out += [frame_table(a, a["setup_frames"]), ""]
    pr = a["per_reading"]
    out += [f"**Steady state**: {a['steady']['frames']} frames, {a['steady']['bytes']} bytes "
            f"for {a['n']} readings: **{pr['frames']:.2f} frames and {pr['bytes']:.1f} bytes "
            f"per reading** ({a['up_per_reading']:.1f} sensor → server, "
            f"{a['down_per_reading']:.1f} server → sensor; {pr['payload']:.1f} bytes of TCP "
            f"payload). {a['reading_frames']} frames carry the {a['n']} readings.", ""]
    if a["kind"] == "mqtt":
        m = a["mqtt"]
        kinds = ", ".join(f"{k} {v}" for k, v in m.items()
                          if k not in ("shared_segments", "max_per_segment"))
        out += [f"MQTT packets (counted per message, `mqtt.msgtype`): {kinds}. "
                f"{m['shared_segments']} segments carried more than one PUBLISH (up to "
                f"{m['max_per_segment']}).", ""]
    if a["kind"] == "mqtts":
        tl = a["tls"]
        out += [f"TLS: {tl['version']}, cipher suite {tl['suite']} (ServerHello in frame "
                f"{tl['server_hello_frame']}); each record carries {tl['overhead']} bytes of "
                "TLS beyond its content, plus its 5-byte header. The readings are the "
                f"sensor's records of {tl['reading_band'][0]}–{tl['reading_band'][1]} bytes "
                "(a reading PUBLISH of the plain QoS 1 run plus that overhead; exactly "
                f"{a['n']} found, out of {tl['up_records']} encrypted records from the "
                f"sensor); up to {tl['max_per_segment']} shared one segment.", ""]
    g = a["gaps_ms"]
    timing = [f"**Timing at the server**: inter-arrival p50 {fmt(pcap.percentile(g, 50), 2)} ms, "
              f"p99 {fmt(pcap.percentile(g, 99), 2)} ms, max {fmt(max(g) if g else None, 2)} ms."]
    if a["burst_at_start"]:
        timing.append(f"The first {a['burst_at_start'] + 1} readings arrived back to back: the "
                      "sensor samples from the moment it starts, and what it sampled while the "
                      "connection was being set up waits in its buffer and goes out in a burst "
                      "once the connection is up (longer set-up, longer burst).")
    nagle = False
    for st in a["stalls"]:
        held = st["after_ack_us"] is not None and st["after_ack_us"] < 1000
        nagle = nagle or held
        timing.append(f"Frame {st['frame']} came {st['gap_ms']:.1f} ms after the previous "
                      f"reading frame and carried {st['readings']} readings"
                      + (f", {st['after_ack_us']:.0f} µs after the server's ACK in frame "
                         f"{st['ack_frame']}." if held else "."))
    if nagle:
        timing.append("Data leaving microseconds after an ACK arrives is Nagle's algorithm: "
                      "the sensor's TCP holds small writes back while a segment is "
                      "unacknowledged, and the broker, with nothing to send back (no PUBACK "
                      "at QoS 0), delays its ACK (Linux's delayed ACK, up to 40 ms). The "
                      "socket mode sets TCP_NODELAY; at QoS 1 each PUBACK carries the ACK "
                      "at once.")
    out += [" ".join(timing), ""]
    out += ["**PSH and ACK** (whole capture / steady state):", "",
            "| direction | frames | with data | PSH | ACK flag | pure ACKs |",
            "|---|---:|---:|---:|---:|---:|"]
    for d, label in (("up", "sensor → server"), ("down", "server → sensor")):
        out.append(f"| {label} | {c[d]['frames']} / {sc[d]['frames']} | "
                   f"{c[d]['data']} / {sc[d]['data']} | {c[d]['psh']} / {sc[d]['psh']} | "
                   f"{c[d]['ack']} / {sc[d]['ack']} | {c[d]['pure_ack']} / {sc[d]['pure_ack']} |")
    out += [""]
    out += [f"**Tear-down**: {a['teardown']['frames']} frames, {a['teardown']['bytes']} bytes:", "",
            frame_table(a, a["teardown_frames"]), ""]
    flags = [pcap.flag_names(f["flags"]) for f in a["fins"]]
    if any("RST" in x for x in flags):
        out += ["The connection ends with a RST, not only FINs: one end closed its socket "
                "while data from the other (here the TLS close_notify alerts crossing each "
                "other) was still arriving, and a kernel answers data for a closed socket "
                "with RST. The readings were all acknowledged before.", ""]
    out += ["**Readable?** "
            + (f"The payload: yes, {len(a['clear_frames'])} frames contain `temp_c`, the "
               f"first is frame {a['clear_frames'][0]}. " if a["clear_frames"]
               else "The payload: no frame contains `temp_c`. ")
            + (f"The credentials: yes, frame {a['credentials'][0][0]} (MQTT CONNECT) shows "
               f"user `{a['credentials'][0][1]}` and password {masked(a['credentials'][0][2])}"
               + (", equal to the sensor's password file." if a['credentials'][0][2] == password
                  else ".")
               if a["credentials"] else
               ("No credentials on this transport." if a["kind"] == "socket" else
                f"The credentials: no MQTT packet can be decoded, and the password occurs in "
                f"{len(a['password_frames'])} frames.")), ""]
    out += ["<details><summary>tshark -z conv,tcp and -z io,stat,0</summary>", "", "```",
            a["conv_tcp"], "", a["io_stat"], "```", "", "</details>", ""]
    return "\n".join(out)


def how_counted(lengths):
    return "\n".join([
        "## How the figures are counted",
        "",
        "- Bytes are `frame.len`: whole Ethernet frames as captured on the server's veth "
        "(14 bytes Ethernet + 20 IP + 32 TCP with timestamps = 66 bytes for an empty "
        "segment), no preamble or FCS.",
        "- A *reading frame* carries at least one reading from the sensor. Socket: its "
        "payload contains `\"temp_c\"` (counted per occurrence). MQTT: the PUBLISH messages "
        "(`mqtt.msgtype == 3`) to `pitemp/<device>/temperature`, counted per message from "
        "tshark's fields, not per frame: several PUBLISH can share one TCP segment "
        "(Nagle's algorithm holds small writes back while an ACK is outstanding). "
        "TLS: nothing can be decoded, so a reading is an encrypted record from the sensor "
        f"whose length is that of a reading PUBLISH in the plain QoS 1 run ({lengths[0]}–"
        f"{lengths[1]} bytes) plus the record overhead, ±4 bytes; the count must come out "
        "at exactly N or the report fails.",
        "- *Set-up* is every frame before the first reading frame; *tear-down* starts at "
        "the first frame after the last reading frame that carries anything else from the "
        "sensor (the MQTT \"offline\" status, DISCONNECT, TLS close_notify) or a FIN/RST. "
        "*Steady state* is what lies between, so it includes the ACKs and PUBACKs of the "
        "readings and the sensor's retained \"online\" status message; per reading = "
        "steady state / N.",
        "- Inter-arrival: time between consecutive reading frames at the server "
        "(`frame.time_relative`); a reading that arrived in the same segment as the "
        "previous one counts 0.",
        "- The totals are checked against `tshark -z io,stat,0`, and each capture must "
        "hold exactly one TCP conversation (`-z conv,tcp`).",
    ])


def reproduce(out):
    d = out
    return "\n".join([
        "## Check it yourself", "",
        "```sh",
        f"tshark -r {d}/socket.pcapng -Y 'tcp.flags.syn==1 || tcp.flags.fin==1 || tcp.flags.reset==1'",
        f"tshark -r {d}/mqtt-qos1.pcapng -Y mqtt -T fields -e frame.number -e mqtt.msgtype -e mqtt.topic",
        f"tshark -r {d}/mqtt-qos1.pcapng -Y 'mqtt.msgtype==1' -T fields -e frame.number -e mqtt.username -e mqtt.passwd",
        f"tshark -r {d}/mqtts.pcapng -Y 'frame contains \"temp_c\"'      # nothing",
        f"tshark -r {d}/socket.pcapng -q -z follow,tcp,ascii,0",
        f"tshark -r {d}/mqtts.pcapng -q -z conv,tcp -z io,stat,0",
        "```",
    ])


def write_plot(out, res, n):
    pd = out / "plot"
    pd.mkdir(exist_ok=True)
    with open(pd / "bars.dat", "w") as f:
        f.write("# label bytes_per_reading setup_bytes up_per_reading down_per_reading\n")
        for a in res.values():
            label = a["title"].replace("plain ", "").replace(" ", "\\n", 1)
            f.write(f"\"{label}\" {a['per_reading']['bytes']:.2f} {a['setup']['bytes']} "
                    f"{a['up_per_reading']:.2f} {a['down_per_reading']:.2f}\n")
    for name, a in res.items():
        with open(pd / f"gaps-{name}.dat", "w") as f:
            f.write("# reading inter_arrival_ms\n")
            for i, g in enumerate(a["gaps_ms"], start=1):
                f.write(f"{i} {g:.4f}\n")
    argv = ["gnuplot", "-e", f"dir='{out}'; n={n}", str(HERE / "report.gp")]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise ReportError("gnuplot: no answer in 60 s") from None
    if r.returncode != 0 or not (out / "report.png").is_file():
        raise ReportError(f"gnuplot failed ({r.returncode}): {r.stderr.strip()[-800:]}")


def figures(res):
    keep = ("total", "setup", "steady", "teardown", "per_reading", "up_per_reading",
            "down_per_reading", "window", "clear_frames", "password_frames", "mqtt",
            "tls", "acks", "tcp_handshake_cost", "counts", "reading_frames", "port", "n")
    fig = {}
    for name, a in res.items():
        d = {k: a[k] for k in keep}
        d["tcp_handshake"] = [f["no"] for f in a["tcp_handshake"]]
        d["credentials_frames"] = [c[0] for c in a["credentials"]]
        g = a["gaps_ms"]
        d["gaps_ms"] = {"p50": pcap.percentile(g, 50), "p99": pcap.percentile(g, 99),
                        "max": max(g) if g else None}
        fig[name] = d
    return fig


def main(argv):
    ap = argparse.ArgumentParser(description="Write report.md and report.png from the captures.")
    ap.add_argument("dir", help="directory with the .pcapng files (build/capture)")
    ap.add_argument("--count", "-n", type=int, default=100,
                    help="readings per capture (default 100)")
    args = ap.parse_args(argv)
    out = Path(args.dir).resolve()
    n = args.count

    res, password, lengths = analyse_all(out, n)
    version = pcap.tshark("--version").splitlines()[0]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    s = res["socket"]
    md = [
        "# pitemp on the wire: plain socket, MQTT QoS 0 and 1, MQTT over TLS",
        "",
        f"Generated by `capture/report.py` on {now} from the captures in this directory "
        f"({version}). Each capture is one run of {n} readings at 100 Hz from "
        f"`pitemp-sensor` (sensor host, {s['sensor']}) to the server host, connect and "
        "clean disconnect included, captured on the server's end of the veth pair that "
        "joins the two network namespaces of the rig (`make capture`; docs/capture.md). "
        "MQTT runs go to mosquitto with the secure profile (user name + password for every "
        "client, per-device ACL), plain on 1883 and TLS on 8883.",
        "",
        "## Side by side",
        "",
        side_by_side(res),
        "",
        "Per reading = steady-state bytes / N, both directions, all headers (see below). "
        "App-level acks: MQTT PUBACKs from the broker; over TLS they can only be counted by "
        "their size; on the socket the sink's `ack N` lines (socket mode's own "
        "acknowledgement: the sensor says `pitemp-sensor 1`, the sink greets it with "
        "`pitemp-sink 1` and answers for what it stored; docs/spec.md).",
        "",
        "### The socket's acknowledgement, as a row of its own",
        "",
        ack_cost(s),
        "",
        f"The sink answers each batch of lines it stored with one cumulative `ack N`; at "
        f"100 Hz each reading comes alone, so there is about one ack per reading, and it "
        f"rides in the segment that acknowledges the reading at TCP level anyway: what it "
        f"costs is its text, not a frame. {s['acks']['lines']} ack lines in all, the last "
        f"`{s['acks']['last']}`; hello seen: {'yes' if s['acks']['hello'] else 'no'}, "
        f"greeting seen: {'yes' if s['acks']['greeting'] else 'no'}.",
        "",
        "![bytes per reading, set-up cost and inter-arrival times](report.png)",
        "",
        answers(res, password),
        "",
        how_counted(lengths),
        "",
    ]
    for a in res.values():
        md += [section(a, password), ""]
    md += [reproduce(out), ""]
    (out / "report.md").write_text("\n".join(md))
    (out / "figures.json").write_text(json.dumps(figures(res), indent=1) + "\n")
    write_plot(out, res, n)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ReportError as e:
        print(f"report: error: {e}", file=sys.stderr)
        sys.exit(1)
