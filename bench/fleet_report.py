"""bench/fleet_report.py: the words and tables of bench/fleet.py: console
lines per run, the checks that the sink's summary and the bench's totals
agree with the file, the pass rule, and bench/results/fleet.md, fleet.json
and fleet.png (drawn by bench/fleet.gp)."""
import json, os, re, subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SERIES_DESC = {
    "shipped": "as shipped: pitemp-sink --sync normal (a write per reading, an "
               "fsync a second: a stored reading survives a kill of the sink, a "
               "power cut loses at most the last second) and the dev broker "
               "profile (its database saved at every change: autosave_on_changes "
               "true, autosave_interval 1)",
    "relaxed": "the same sink and the broker saving every 30 min (mosquitto's "
               "default: a broker kill -9 loses what it held since)",
    "sync-full": "pitemp-sink --sync full (a write and an fsync per reading), "
                 "broker as shipped",
}
SUMMARY_RE = re.compile(
    r"stored=(\d+) invalid=(\d+) duplicates=(\d+) gaps=(-?\d+) "
    r"latency_p50_ms=(\S+) latency_p99_ms=(\S+)")


def sink_summary(path):
    """The sink's exit summary line, as a dict, or None."""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        m = SUMMARY_RE.search(line)
        if m:
            k = ("stored", "invalid", "duplicates", "gaps")
            out = {key: int(v) for key, v in zip(k, m.groups()[:4])}
            out["p50_ms"], out["p99_ms"] = m.group(5), m.group(6)
            return out
    return None


def disagreements(row):
    """Where the sink's summary or the bench's totals do not match the file
    (each a sentence); empty when they all agree."""
    b, c, s = row["bench"], row["check"], row.get("sink_summary")
    out = []
    if s is None:
        out.append("the sink printed no summary line")
    else:
        if s["stored"] != c["rows"]:
            out.append(f"the sink says stored={s['stored']}, its file holds {c['rows']}")
        if s["gaps"] != c["gaps_as_sink_counts"]:
            out.append(f"the sink says gaps={s['gaps']}, the file shows "
                       f"{c['gaps_as_sink_counts']}")
        if s["invalid"]:
            out.append(f"the sink rejected {s['invalid']} payloads as invalid")
    if b["sent"] != b["samples"] - b["dropped"] - b["errors"]:
        out.append(f"bench: sent {b['sent']} != samples {b['samples']} - dropped "
                   f"{b['dropped']} - errors {b['errors']}")
    if b["acked"] + b["failed"] + b["unacked"] != b["sent"]:
        out.append("bench: acked + failed + unacked != sent")
    if row["qos"] == 1 and c["rows"] < b["acked"] and row.get("sink_caught_up"):
        out.append(f"QoS 1: the broker acknowledged {b['acked']}, the file holds {c['rows']}")
    if c["bad_rows"]:
        out.append(f"{c['bad_rows']} malformed lines in the file")
    if c["several_boots"]:
        out.append(f"{c['several_boots']} devices with more than one boot")
    if c["devices_unexpected"]:
        out.append(f"devices the bench did not run: {c['devices_unexpected']}")
    return out


def passes(row, p99_limit, late_limit):
    """0 lost, 0 duplicates, p99 within the limit, the generator on time
    (nothing left unsent, lateness p99 within late_limit), and the sink's
    summary and the bench's totals agreeing with the file."""
    c, b = row.get("check"), row.get("bench")
    return bool(c and b and c["lost"] == 0 and c["duplicates"] == 0 and
                c["bad_rows"] == 0 and c["lat_p99_ms"] is not None and
                c["lat_p99_ms"] <= p99_limit and b["behind"] == 0 and
                b["late_ms"]["p99"] <= late_limit and
                not row.get("problems"))


def fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def gen_line(row):
    b = row.get("bench")
    if not b:
        return f"generator q{row['qos']} n{row['n']}: {row['error']}"
    rate = b["sent"] / b["send_s"] if b["send_s"] else 0
    return (f"generator q{row['qos']} n{row['n']}: {rate:,.0f} readings/s sent "
            f"(scheduled {b['scheduled']}, behind {b['behind']}), late p50/p99/max "
            f"{b['late_ms']['p50']:.2f}/{b['late_ms']['p99']:.2f}/{b['late_ms']['max']:.2f} ms, "
            f"bench CPU {b['send_cpu_pct']:.0f}% ({us_per(b):.0f} us/reading), broker CPU "
            f"{fmt(row.get('broker_cpu_pct'), '.0f')}%, connect {b['connect_s']:.2f} s, "
            f"load {row['load']}: {'on schedule' if row['on_schedule'] else 'NOT on schedule'}")


def us_per(b):
    """The bench's CPU per reading while sending, in microseconds."""
    return b["send_cpu_pct"] / 100 * b["send_s"] / b["sent"] * 1e6 if b["sent"] else 0


def saturated(row):
    """What gave out first, from the figures. A reading's ts is taken as it
    is sent, so its latency is the path after the generator (paho's queue
    in the bench, the broker, the sink). When the generator's lateness is
    the larger figure it fell behind and is named; else the path is, and
    CPU figures say which of broker and sink (high CPU), or that they wait
    on the disk (low CPU, a disk wait in the series), or both on a busy
    machine."""
    b, c = row["bench"], row["check"]
    gen_ms = float("inf") if b["behind"] else b["late_ms"]["p99"]
    path_ms = (c["lat_p99_ms"] or 0) - b["late_ms"]["p99"]
    if not row.get("sink_caught_up"):
        path_ms = float("inf")
    bcpu, scpu = row.get("broker_cpu_pct") or 0, row.get("sink_cpu_pct") or 0
    held = (f"{c['rows']:,} of {b['sent']:,} held"
            + ("" if row.get("sink_caught_up") else ", not caught up"))
    if path_ms > gen_ms:
        if scpu >= 90:
            why = f"the sink's CPU ({scpu:.0f}%; {held})"
        elif bcpu >= 90:
            why = f"the broker's CPU ({bcpu:.0f}%)"
        elif BROKER_SAVES in waits_on_disk(row) and bcpu >= scpu:
            # mosquitto writes (and fsyncs) its whole database at each
            # change: CPU and disk both, growing with what it holds.
            why = (f"{BROKER_SAVES} (its whole database written each time; "
                   f"CPU broker {bcpu:.0f}%, sink {scpu:.0f}%; {held})")
        elif waits_on_disk(row) and max(scpu, bcpu) < 50:
            why = (f"waits on the disk: {' and '.join(waits_on_disk(row))} ({held}; "
                   f"CPU sink {scpu:.0f}%, broker {bcpu:.0f}%)")
        else:
            why = (f"broker and sink together (CPU broker {bcpu:.0f}%, sink {scpu:.0f}%, "
                   f"machine load {row['load'].split()[0]})")
        why += (f": latency p99 {c['lat_p99_ms']:.0f} ms against the generator's "
                f"lateness p99 {b['late_ms']['p99']:.0f} ms")
    else:
        why = (f"the generator (late p99 {b['late_ms']['p99']:.0f} ms, {b['behind']:,} "
               f"not sent in time; bench CPU {b['send_cpu_pct']:.0f}%)")
    if row.get("problems"):
        why += "; the counts disagree: " + "; ".join(row["problems"])
    if c["lost"]:
        why += (f"; {c['lost']:,} lost (mosquitto drops what a slow subscriber has not "
                "taken beyond max_queued_messages; see the broker's log)")
    return why


BROKER_SAVES = "the broker's database save at every change"


def waits_on_disk(row):
    """What in this run waits for the disk for each reading."""
    w = []
    if row["series"] == "sync-full":
        w.append("the sink's fsync per reading")
    if row["series"] != "relaxed" and row["qos"] > 0:
        w.append(BROKER_SAVES)
    return w


def fleet_block(row):
    head = f"fleet {row['series']} q{row['qos']} n{row['n']} (load {row['load']})"
    if not row.get("bench") or not row.get("check"):
        return f"{head}: {row.get('error')}"
    b, c = row["bench"], row["check"]
    lines = [
        f"{head}: {'PASS' if row['ok'] else 'FAIL'}",
        f"  bench: sent {b['sent']} of {b['scheduled']} (behind {b['behind']}, dropped "
        f"{b['dropped']}), acked {b['acked']}, connect {b['connect_s']:.2f} s, late p99 "
        f"{b['late_ms']['p99']:.2f} ms, CPU {b['send_cpu_pct']:.0f}%, RSS {b['max_rss_kib'] // 1024} MiB",
        "  per second (sent/acked): " + " ".join(
            f"{t['sent']}/{t['acked']}" for t in b["per_second"]),
        f"  file: {c['rows']} readings from {c['devices']} of {c['devices_expected']} "
        f"devices; lost {c['lost']} ({c['devices_with_holes']} devices with holes), "
        f"duplicates {c['duplicates']}; latency p50/p99/max {fmt(c['lat_p50_ms'], '.2f')}/"
        f"{fmt(c['lat_p99_ms'], '.2f')}/{fmt(c['lat_max_ms'], '.2f')} ms",
        f"  sink summary: {row.get('sink_summary')}; held the last reading "
        f"{row['sink_lag_s']:.1f} s after the bench exited"
        f"{'' if row['sink_caught_up'] else ' (had NOT caught up when stopped)'}",
        f"  CPU (% of one core, first send to last reading held): broker "
        f"{fmt(row['broker_cpu_pct'], '.0f')}%, sink {fmt(row['sink_cpu_pct'], '.0f')}%; "
        f"peak RSS broker {fmt(kib_mib(row['broker_rss_kib']))} MiB, sink "
        f"{fmt(kib_mib(row['sink_rss_kib']))} MiB",
    ]
    if not row["ok"]:
        lines.append(f"  saturated first: {saturated(row)}")
    for p in row["problems"]:
        lines.append(f"  DISAGREE: {p}")
    return "\n".join(lines)


def kib_mib(k):
    return None if k is None else k / 1024


def conclusions(report):
    """One sentence per series and QoS: the largest N that passed, what
    gave out first; and one per QoS on the generator's ceiling."""
    out = []
    for sr in report["plan"]["series"]:
        for q in report["plan"]["qos"]:
            runs = [r for r in report["fleet"] if r["qos"] == q and r["series"] == sr]
            if runs:
                out.append(f"{sr}: " + conclusion(report, runs))
    for q in report["plan"]["qos"]:
        gen = [r for r in report["generator"] if r["qos"] == q]
        if not gen:
            continue
        gen_ok = [r["n"] for r in gen if r.get("on_schedule")]
        best = max(gen_ok) if gen_ok else None
        s = (f"generator alone, QoS {q}: on schedule up to N = {best}"
             if best else f"generator alone, QoS {q}: on schedule at no N tried")
        if best and len(gen_ok) == len(gen):
            s += " (the largest tried)"
        elif gen_ok or gen:
            first_bad = next(r for r in gen if not r.get("on_schedule"))
            b = first_bad.get("bench")
            if b:
                s += (f"; at N = {first_bad['n']}: late p99 {b['late_ms']['p99']:.0f} ms, "
                      f"{b['behind']} not sent, bench CPU {b['send_cpu_pct']:.0f}%, "
                      f"{us_per(b):.0f} us per reading")
        out.append(s + ".")
    return out


def conclusion(report, runs):
    p = report["plan"]
    ok = [r["n"] for r in runs if r.get("ok")]
    bad = [r for r in runs if not r.get("ok") and r.get("bench") and r.get("check")]
    s = f"QoS {runs[0]['qos']}: "
    if ok:
        s += (f"largest N with 0 lost and p99 <= {p['p99_limit_ms']:.0f} ms: {max(ok)} "
              f"sensors x {p['rate_hz']} Hz ({max(ok) * p['rate_hz']:,} readings/s)")
    else:
        s += f"no N passed (smallest tried: {runs[0]['n']})"
    if bad:
        s += f"; at N = {bad[0]['n']} saturated first: {saturated(bad[0])}"
    elif ok and max(ok) == max(p["sensors"]):
        s += " (the largest tried)"
    return s + "."


def summary(report):
    lines = ["", "summary:"] + ["  " + c for c in conclusions(report)]
    lines.append(f"  elapsed {report['elapsed_s']:.0f} s")
    return "\n".join(lines)


def write(report, results, plotdir):
    os.makedirs(results, exist_ok=True)
    os.makedirs(plotdir, exist_ok=True)
    # One line per run: readable in a diff, small enough to keep in git.
    with open(os.path.join(results, "fleet.json"), "w") as f:
        f.write("{\n")
        keys = list(report)
        for i, k in enumerate(keys):
            v = report[k]
            sep = "," if i < len(keys) - 1 else ""
            if isinstance(v, list):
                f.write(f' "{k}": [\n' + ",\n".join(
                    "  " + json.dumps(x, default=str) for x in v) + f"\n ]{sep}\n")
            else:
                f.write(f' "{k}": {json.dumps(v, default=str)}{sep}\n')
        f.write("}\n")
    for sr in SERIES_DESC:
        for q in (0, 1):
            with open(os.path.join(plotdir, f"fleet-{sr}-q{q}.dat"), "w") as f:
                f.write("# n broker_cpu sink_cpu bench_cpu lat_p50 lat_p99 lat_max\n")
                for r in report["fleet"]:
                    if r["series"] == sr and r["qos"] == q and r.get("check"):
                        c = r["check"]
                        f.write(f"{r['n']} {fmt(r['broker_cpu_pct'])} {fmt(r['sink_cpu_pct'])} "
                                f"{r['bench']['send_cpu_pct']:.1f} {fmt(c['lat_p50_ms'], '.3f')} "
                                f"{fmt(c['lat_p99_ms'], '.3f')} {fmt(c['lat_max_ms'], '.3f')}\n")
    png = os.path.join(results, "fleet.png")
    done = [r for r in report["fleet"] if r.get("check")]
    if not done:
        print("fleet.py: no fleet run to plot")
        return write_md(report, results)
    ns = [r["n"] for r in done]
    series = " ".join(sr for sr in SERIES_DESC if any(r["series"] == sr for r in done))
    r = subprocess.run(["gnuplot", "-e", f"dir='{plotdir}'; out='{png}'; "
                        f"xmin={min(ns) / 1.5}; xmax={max(ns) * 1.5}; series='{series}'",
                        os.path.join(HERE, "fleet.gp")], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        print(f"fleet.py: gnuplot failed: {r.stderr.strip()[-500:]}")
    write_md(report, results)


def write_md(report, results):
    with open(os.path.join(results, "fleet.md"), "w") as f:
        f.write(markdown(report))


def markdown(report):
    m, p = report["machine"], report["plan"]
    out = [
        "# Fleet capacity: one mosquitto and one pitemp-sink",
        "",
        f"Generated by `make bench-fleet` (bench/fleet.py) on {m['date']}: "
        f"{m['cpus']} CPUs ({m['model']}), Linux {m['kernel']}, {m['mosquitto']}, "
        f"paho.mqtt.c {m['paho']}; load average at start {m['load_at_start']}; "
        f"{report['elapsed_s']:.0f} s in all. How to read it: "
        "[docs/fleet.md](../../docs/fleet.md).",
        "",
        "## Conclusions", ""] + [f"- {c}" for c in conclusions(report)] + [
        "",
        "![N against CPU and latency](fleet.png)",
        "",
        "## The generator alone (pitemp-bench, no subscriber)",
        "",
        f"{p['generator_duration_s']:g} s per N at {p['rate_hz']} Hz; on schedule = sends "
        f"leaving at most {p['generator_late_limit_ms']:.0f} ms after their deadline at p99, "
        "and every reading sent in time.",
        "",
        "| QoS | N | readings/s | behind | late p50 / p99 / max ms | bench CPU % | "
        "bench us/reading | broker CPU % | connect s | load | on schedule |",
        "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["generator"]:
        b = r.get("bench")
        if not b:
            out.append(f"| {r['qos']} | {r['n']} | {r['error']} |||||||||")
            continue
        out.append(
            f"| {r['qos']} | {r['n']} | {b['sent'] / b['send_s']:,.0f} | {b['behind']} | "
            f"{b['late_ms']['p50']:.2f} / {b['late_ms']['p99']:.2f} / {b['late_ms']['max']:.2f} | "
            f"{b['send_cpu_pct']:.0f} | {us_per(b):.0f} | {fmt(r.get('broker_cpu_pct'), '.0f')} | "
            f"{b['connect_s']:.2f} | {r['load']} | {'yes' if r['on_schedule'] else 'no'} |")
    out += [
        "",
        "## The fleet (pitemp-bench -> mosquitto -> pitemp-sink --count 0 --format csv)",
        "",
        "Series: " + "; ".join(f"**{k}**: {v}" for k, v in SERIES_DESC.items()) + ". "
        f"{p['duration_s']:g} s of sending per N at {p['rate_hz']} Hz. lost, duplicates and "
        "latency (ts to recv_ts) come from the sink's file, checked per device. CPU is % of "
        "one core from the first send until the sink held its last reading (bench: while "
        "sending); sink lag: how long after the bench exited (its drain and clean stop "
        "included) the sink held its last reading.",
        "",
        "| series | QoS | N | sent | in file | lost | dup | latency p50 / p99 / max ms | "
        "broker CPU % | sink CPU % | bench CPU % | sink lag s | peak RSS MiB broker / sink / bench | "
        "load | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["fleet"]:
        b, c = r.get("bench"), r.get("check")
        if not b or not c:
            out.append(f"| {r['series']} | {r['qos']} | {r['n']} | {r.get('error')} ||||||||||||")
            continue
        out.append(
            f"| {r['series']} | {r['qos']} | {r['n']} | {b['sent']:,} | {c['rows']:,} | {c['lost']:,} | "
            f"{c['duplicates']} | {fmt(c['lat_p50_ms'], '.2f')} / {fmt(c['lat_p99_ms'], '.2f')} / "
            f"{fmt(c['lat_max_ms'], '.2f')} | {fmt(r['broker_cpu_pct'], '.0f')} | "
            f"{fmt(r['sink_cpu_pct'], '.0f')} | {b['send_cpu_pct']:.0f} | {r['sink_lag_s']:.1f} | "
            f"{fmt(kib_mib(r['broker_rss_kib']), '.0f')} / {fmt(kib_mib(r['sink_rss_kib']), '.0f')} / "
            f"{b['max_rss_kib'] / 1024:.0f} | {r['load']} | "
            f"{'pass' if r['ok'] else 'FAIL: ' + saturated(r)} |")
    probs = [(r, p) for r in report["fleet"] for p in r.get("problems", [])]
    out += ["", "## Do the counts agree?", ""]
    if probs:
        out += [f"- {r['series']}, QoS {r['qos']}, N {r['n']}: {p}" for r, p in probs]
    else:
        out.append("In every run the sink's summary (stored, gaps) matched its file, and "
                   "the bench's totals added up (sent = samples - dropped - errors; "
                   "acked + failed + unacked = sent).")
    out += ["", "Raw data: `fleet.json` next to this file; each run's logs, csv and the "
            "bench's JSON under build/bench-fleet/.", ""]
    return "\n".join(out)
