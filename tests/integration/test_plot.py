"""`make plot`: a pitemp-sink output file of each format (text, csv,
jsonl, sqlite), written by the real sink from two real sensors through a real
mosquitto, becomes a non-empty PNG with one line per device. A file that
is not a sink's output is refused naming it (exit 2).
"""

import re
import struct
import subprocess

import pytest

from conftest import REPO, sensor_argv, sink_argv

FORMATS = ("text", "csv", "jsonl", "sqlite")
N_EACH = 150


def make_plot(file, png, timeout=120):
    return subprocess.run(
        ["make", "-s", "-C", str(REPO), "plot", f"FILE={file}", f"PNG={png}"],
        capture_output=True, text=True, timeout=timeout)


def png_size(path):
    """(width, height) from the PNG's IHDR, or fail."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def sink_files(bins, broker, procs, workdir):
    """One file per format, each with the same 2 x N_EACH readings."""
    files, sinks = {}, []
    for fmt in FORMATS:
        files[fmt] = workdir / f"readings.{fmt}"
        sinks.append(procs.start(f"sink-{fmt}", sink_argv(
            bins, broker.port, "-C", str(2 * N_EACH), "-F", fmt,
            "-o", files[fmt], "-i", f"plot-sink-{fmt}", "-W", "60")))
    for s in sinks:
        s.wait_for_line(r"subscribed to pitemp/\+/temperature")
    sensors = [procs.start(f"sensor-{d}", sensor_argv(
        bins, broker.port, "--device", d, "-C", str(N_EACH),
        "--source", f"sim:{seed}"))
        for d, seed in (("plot-a", 1), ("plot-b", 2))]
    for p in sensors + sinks:
        assert p.wait_exit(60) == 0, p.describe()
    return files


def test_make_plot_draws_every_sink_format(sink_files, workdir):
    # One sensor run for all three formats: the files hold the same readings.
    for fmt in FORMATS:
        png = workdir / "plots" / f"{fmt}.png"
        r = make_plot(sink_files[fmt], png)
        assert r.returncode == 0, r.stdout + r.stderr
        assert png.stat().st_size > 5000
        w, h = png_size(png)
        assert w >= 640 and h >= 320
        assert re.search(rf"{2 * N_EACH} readings, 2 devices, .*\({fmt}\)",
                         r.stdout), r.stdout

    # A torn last line (a sink killed mid-write) costs that line only.
    torn = workdir / "torn.csv"
    torn.write_text(sink_files["csv"].read_text() + "plot-a,abc,12,2026-1")
    r = make_plot(torn, workdir / "torn.png")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{2 * N_EACH} readings" in r.stdout
    assert "1 line skipped" in r.stdout

    # Not a sink's file: refused, naming it; no PNG.
    foreign = workdir / "foreign.txt"
    foreign.write_text("hello\n")
    r = make_plot(foreign, workdir / "foreign.png")
    assert r.returncode != 0
    assert re.search(r"plot: .*foreign\.txt: not a pitemp-sink file", r.stderr), \
        r.stderr
    assert not (workdir / "foreign.png").exists()
