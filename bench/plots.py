"""bench/plots.py: distributions the benchmarks measure, drawn with gnuplot.

    histograms(png, title, panels)

panels: a list of dicts, one panel each, stacked top to bottom:
  title   the panel's heading
  xlabel  the unit of the values
  series  [(label, [value, ...]), ...]: overlaid on one panel
  logy    counts on a log scale (long tails), default False
Each series is binned over the 0.5th to 99.5th percentile of all the
panel's values (60 bins); the values outside are counted in the legend
with the extreme, so one stall does not squash the picture. Returns the PNG's path, or None
(with a line on stderr) when gnuplot is missing or fails: a benchmark
prints figures and does not fail on a picture.
"""
import os
import subprocess
import sys
import tempfile

BINS = 60


def _quantile(sorted_vals, q):
    return sorted_vals[min(len(sorted_vals) - 1, int(q * (len(sorted_vals) - 1)))]


def _bins(values, lo, hi):
    width = (hi - lo) / BINS or 1.0
    counts = [0] * BINS
    under = over = 0
    for v in values:
        if v < lo:
            under += 1
        elif v > hi:
            over += 1
        else:
            counts[min(BINS - 1, int((v - lo) / width))] += 1
    return ([(lo + (i + 0.5) * width, c) for i, c in enumerate(counts)], width,
            under, over)


def histograms(png, title, panels):
    os.makedirs(os.path.dirname(os.path.abspath(png)), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pitemp-plot-") as d:
        gp = [f'set terminal pngcairo size 960,{300 * len(panels) + 40} font "sans,10"',
              f'set output "{png}"',
              f'set multiplot layout {len(panels)},1 title "{title}"',
              "set termoption noenhanced",
              "set style fill solid 0.35 border", "set grid", "set key top right",
              "set ylabel \"readings\""]
        for p_i, p in enumerate(panels):
            allv = sorted(v for _, vals in p["series"] for v in vals)
            if not allv:
                continue
            lo, hi = _quantile(allv, 0.005), _quantile(allv, 0.995)
            if hi <= lo:
                hi = lo + 1e-9
            plots = []
            for s_i, (label, vals) in enumerate(p["series"]):
                rows, width, under, over = _bins(vals, lo, hi)
                path = os.path.join(d, f"p{p_i}s{s_i}.dat")
                with open(path, "w") as f:
                    f.writelines(f"{x:.9g} {c}\n" for x, c in rows)
                extra = "".join(
                    [f", {under} below (min {min(vals):.4g})" if under else "",
                     f", {over} beyond (max {max(vals):.4g})" if over else ""])
                plots.append(f'"{path}" using 1:($2>0?$2:1/0) with boxes '
                             f'title "{label}: n={len(vals)}{extra}"')
            gp += [f'set title "{p["title"]}"', f'set xlabel "{p["xlabel"]}"',
                   "set logscale y" if p.get("logy") else "unset logscale y",
                   f"set boxwidth {width:.9g}", "set xrange [*:*]",
                   "plot " + ", ".join(plots)]
        gp.append("unset multiplot")
        try:
            r = subprocess.run(["gnuplot"], input="\n".join(gp) + "\n",
                               capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            print(f"plots: gnuplot: {e}", file=sys.stderr)
            return None
        if r.returncode != 0:
            print(f"plots: gnuplot failed: {r.stderr.strip()[-600:]}", file=sys.stderr)
            return None
    return png
