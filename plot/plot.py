#!/usr/bin/python3
"""plot/plot.py: a sink output file to a PNG of temperature against time,
one line per device (gnuplot, plot/temperature.gp). `make plot` runs it.

    /usr/bin/python3 plot/plot.py FILE PNG [--title TEXT] [--mean S]

Over the readings it draws, per device, the mean of each S-second window
aligned on the clock (default 1 s; 0 = none), computed as the sensor's
summary stream computes it: what Home Assistant shows with --ha-discovery.
The means are left out when the file spans fewer than three windows.

FILE is any pitemp-sink output: text (`# seq ts device temp_c` header),
csv (`device,boot,seq,ts,temp_c,...` header), jsonl (one payload per
line) or an SQLite database (`-F sqlite`, table readings, opened read-only
so a running sink is not disturbed); the format is recognised from the
first bytes. Time is UTC. A line
that is not a reading of that format (a torn last line, a stray header) is
skipped and counted. Exit status: 0 PNG written, 1 gnuplot failed or the
file holds no reading, 2 usage error or unreadable/unknown file.
"""
import argparse
import csv
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
TEXT_HEADER = "# seq ts device temp_c"
CSV_HEADER = "device,boot,seq,ts,temp_c"


def fail(status, msg):
    print(f"plot: {msg}", file=sys.stderr)
    sys.exit(status)


def epoch(ts):
    d = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
    return d.replace(tzinfo=timezone.utc).timestamp()


def sniff(first):
    if first.startswith(TEXT_HEADER):
        return "text"
    if first.startswith(CSV_HEADER):
        return "csv"
    if first.lstrip().startswith("{"):
        return "jsonl"
    return None


def rows_text(lines):
    for line in lines[1:]:
        seq, ts, device, temp = line.split(" ")
        yield device, epoch(ts), float(temp)


def rows_csv(lines):
    rd = csv.DictReader(lines)
    for r in rd:
        yield r["device"], epoch(r["ts"]), float(r["temp_c"])


def rows_jsonl(lines):
    for line in lines:
        r = json.loads(line)
        yield r["device"], epoch(r["ts"]), float(r["temp_c"])


def readings_sqlite(path):
    by_dev, skipped = {}, 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            for dev, ts, temp in db.execute(
                    "SELECT device, ts, temp_c FROM readings"):
                try:
                    by_dev.setdefault(dev, []).append((epoch(ts), float(temp)))
                except (ValueError, TypeError):
                    skipped += 1
        finally:
            db.close()
    except sqlite3.Error as e:
        fail(2, f"{path}: not a pitemp-sink database ({e})")
    return by_dev, "sqlite", skipped


def readings(path):
    """({device: [(t, temp), ...]}, fmt, skipped)."""
    try:
        with open(path, "rb") as f:
            if f.read(16) == b"SQLite format 3\0":
                return readings_sqlite(path)
    except OSError as e:
        fail(2, f"{path}: {e.strerror}")
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [l.rstrip("\r\n") for l in f if l.strip()]
    except OSError as e:
        fail(2, f"{path}: {e.strerror}")
    if not lines:
        fail(1, f"{path}: empty, no reading to plot")
    fmt = sniff(lines[0])
    if fmt is None:
        fail(2, f"{path}: not a pitemp-sink file (the first line is neither "
                f"'{TEXT_HEADER}', a csv header '{CSV_HEADER},...' nor a JSON object)")
    parse = {"text": rows_text, "csv": rows_csv, "jsonl": rows_jsonl}[fmt]
    by_dev, skipped = {}, 0
    # Line by line, so one bad line costs one reading, not the file.
    body = lines if fmt == "jsonl" else lines[1:]
    head = [] if fmt == "jsonl" else lines[:1]
    for line in body:
        try:
            for dev, t, temp in parse(head + [line]):
                by_dev.setdefault(dev, []).append((t, temp))
        except (ValueError, KeyError, TypeError, AttributeError):
            skipped += 1
    return by_dev, fmt, skipped


def time_format(span):
    if span >= 2 * 86400:
        return "%m-%d\\n%H:%M"
    if span >= 600:
        return "%H:%M"
    if span >= 10:
        return "%H:%M:%S"
    return "%H:%M:%.1S"


def window_means(points, period):
    """[(window middle, mean)] of the clock-aligned windows [k*P, (k+1)*P),
    in hundredths like the sensor's summaries."""
    sums = {}
    for t, temp in points:
        k = int(t // period)
        s = sums.setdefault(k, [0, 0])
        s[0] += round(temp * 100)
        s[1] += 1
    return [((k + 0.5) * period, s / n / 100) for k, (s, n) in sorted(sums.items())]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", help="pitemp-sink output (text, csv, jsonl or sqlite)")
    ap.add_argument("png", help="PNG to write")
    ap.add_argument("--title", help="plot title (default: the file name)")
    ap.add_argument("--mean", type=float, default=1.0, metavar="S",
                    help="also draw the mean of each S-second window (default 1; 0 = no)")
    a = ap.parse_args()
    if a.mean < 0:
        ap.error(f"--mean {a.mean:g}: must be 0 or more")

    by_dev, fmt, skipped = readings(a.file)
    n = sum(len(v) for v in by_dev.values())
    if n == 0:
        fail(1, f"{a.file}: no reading to plot ({skipped} lines skipped)")
    devices = sorted(by_dev)
    t0 = min(t for v in by_dev.values() for t, _ in v)
    t1 = max(t for v in by_dev.values() for t, _ in v)
    out_dir = os.path.dirname(os.path.abspath(a.png))
    os.makedirs(out_dir, exist_ok=True)
    means = a.mean > 0 and (t1 - t0) >= 3 * a.mean
    with tempfile.NamedTemporaryFile("w", dir=out_dir, prefix=".plot-",
                                     suffix=".dat", delete=False) as f:
        data = f.name
        # Per device one gnuplot data block (index 2i) of readings and one
        # (2i+1) of window means, empty when there are none.
        for dev in devices:
            f.write(f"# {dev}\n")
            for t, temp in sorted(by_dev[dev]):
                f.write(f"{t:.6f} {temp:.2f}\n")
            f.write(f"\n\n# {dev} means\n")
            for t, m in window_means(by_dev[dev], a.mean) if means else []:
                f.write(f"{t:.6f} {m:.4f}\n")
            if not means:
                f.write("NaN NaN\n")
            f.write("\n\n")
    title = a.title or os.path.basename(a.file)
    start = datetime.fromtimestamp(t0, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    subtitle = (f"{n} readings, {len(devices)} device{'s' * (len(devices) > 1)}, "
                f"{t1 - t0:.1f} s from {start} ({fmt})")
    q = lambda s: s.replace("\\", "\\\\").replace('"', '\\"')
    setup = (f'data="{q(data)}"; out="{q(a.png)}"; title="{q(title)}"; '
             f'subtitle="{q(subtitle)}"; names="{" ".join(devices)}"; '
             f'ndev={len(devices)}; xfmt="{time_format(t1 - t0)}"; '
             f'means={1 if means else 0}; mean_s="{a.mean:g}"')
    try:
        r = subprocess.run(["gnuplot", "-e", setup,
                            os.path.join(HERE, "temperature.gp")],
                           capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        fail(1, "gnuplot not found (make deps installs gnuplot-nox)")
    except subprocess.TimeoutExpired:
        fail(1, "gnuplot: no answer in 120 s")
    finally:
        os.unlink(data)
    if r.returncode != 0 or not os.path.getsize(a.png):
        fail(1, f"gnuplot failed ({r.returncode}): {r.stderr.strip()[-800:]}")
    print(f"plot: {a.png}: {subtitle}"
          + (f"; {skipped} line{'s' * (skipped != 1)} skipped" if skipped else ""))


if __name__ == "__main__":
    main()
