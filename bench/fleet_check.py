"""bench/fleet_check.py: what arrived, read from the sink's own file.

check(csv_path, bench, prefix) reads a pitemp-sink --format csv file
(device,boot,seq,ts,temp_c,mv,raw,recv_ts) and holds it against what
pitemp-bench says it sampled: per device one boot, its seq 0..k-1 each
exactly once (k: that device's share of the bench's samples), the holes
(lost), the repeats (duplicates in the file), devices the bench never ran,
the gaps the sink should have counted, and the latency from each reading's
ts to its recv_ts (p50, p99, max). Used by bench/fleet.py; no state.
"""
import csv
import math
from datetime import datetime, timezone

EPOCH_CACHE = {}


def ts_us(s):
    """Microseconds since the epoch of "YYYY-MM-DDTHH:MM:SS.ffffffZ" (the
    one form pitemp writes); the whole-second part is cached."""
    head, frac = s[:19], s[20:26]
    sec = EPOCH_CACHE.get(head)
    if sec is None:
        sec = int(datetime.strptime(head, "%Y-%m-%dT%H:%M:%S")
                  .replace(tzinfo=timezone.utc).timestamp())
        if len(EPOCH_CACHE) > 100000:
            EPOCH_CACHE.clear()
        EPOCH_CACHE[head] = sec
    return sec * 1000000 + int(frac)


def percentile(sorted_vals, q):
    """Nearest rank, as the sink's summary computes it."""
    if not sorted_vals:
        return None
    k = max(1, min(len(sorted_vals), math.ceil(q * len(sorted_vals))))
    return sorted_vals[k - 1]


def expected_counts(samples, n):
    """Readings the bench sampled per sensor index: send j is sensor j mod n."""
    return [samples // n + (1 if i < samples % n else 0) for i in range(n)]


def check(csv_path, bench, prefix):
    """Figures of one run (a dict). bench: pitemp-bench's JSON totals."""
    n, first = bench["sensors"], bench["first"]
    want = {f"{prefix}{first + i:04d}": c
            for i, c in enumerate(expected_counts(bench["samples"], n))}
    seqs, boots = {}, {}
    lat = []
    rows = bad_rows = 0
    with open(csv_path, newline="") as f:
        r = csv.reader(f)
        header = next(r, None)
        if header != ["device", "boot", "seq", "ts", "temp_c", "mv", "raw", "recv_ts"]:
            raise ValueError(f"{csv_path}: not a pitemp-sink csv file (header {header})")
        for row in r:
            if len(row) != 8:
                bad_rows += 1
                continue
            rows += 1
            dev, boot, seq = row[0], row[1], int(row[2])
            seqs.setdefault(dev, []).append(seq)
            boots.setdefault(dev, set()).add(boot)
            lat.append(ts_us(row[7]) - ts_us(row[3]))
    lost = dup = holes_devices = 0
    # As the sink counts gaps: per stream, the seqs missing below the
    # highest one seen (a boot starts at seq 0), holes filled later not.
    sink_gaps = 0
    for dev, k in want.items():
        got = seqs.get(dev, [])
        distinct = set(got)
        dup += len(got) - len(distinct)
        missing = k - len(distinct & set(range(k)))
        lost += missing
        holes_devices += missing > 0
        if distinct:
            sink_gaps += max(distinct) + 1 - len(distinct)
    extra = sorted(d for d in seqs if d not in want)
    lat.sort()
    return {
        "rows": rows, "bad_rows": bad_rows, "devices": len(seqs),
        "devices_expected": len(want), "devices_unexpected": extra[:5],
        "devices_with_holes": holes_devices,
        "several_boots": sum(len(b) > 1 for b in boots.values()),
        "expected": sum(want.values()), "lost": lost, "duplicates": dup,
        "gaps_as_sink_counts": sink_gaps,
        "lat_p50_ms": percentile(lat, 0.50) / 1000.0 if lat else None,
        "lat_p99_ms": percentile(lat, 0.99) / 1000.0 if lat else None,
        "lat_max_ms": lat[-1] / 1000.0 if lat else None,
    }
