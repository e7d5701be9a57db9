"""The iio source end to end: pitemp-sensor reads a fake sysfs IIO tree
(the files the kernel's ti-ads1015 and mcp320x drivers expose), publishes
through a real mosquitto, and the sink stores readings whose temp_c, mv and
raw are what the fake raw value implies. No hardware needed.
"""

import json
import os

from conftest import sensor_argv, sink_argv

SUBSCRIBED = r"pitemp-sink: info: subscribed to pitemp/\+/temperature"
N = 20


def make_device(devices, dev, name, raw_files, scale_files=None):
    d = devices / dev
    d.mkdir(parents=True)
    (d / "name").write_text(name + "\n")
    for f, v in {**raw_files, **(scale_files or {})}.items():
        (d / f).write_text(v + "\n")
    return d


def run_pipeline(bins, broker, procs, workdir, source, device, env=None):
    """N readings from `source` through the broker into a jsonl file;
    returns the parsed payloads."""
    out = workdir / "readings.jsonl"
    sink = procs.start("sink", sink_argv(
        bins, broker.port, "--count", str(N), "--format", "jsonl",
        "--output", out, "--timeout", "30"))
    sink.wait_for_line(SUBSCRIBED)
    sensor = procs.start("sensor", sensor_argv(
        bins, broker.port, "--source", source, "--count", str(N),
        "--rate", "100", "--device", device), env=env)
    assert sensor.wait_exit(20) == 0, sensor.describe()
    assert sink.wait_exit(20) == 0, sink.describe()
    rows = [json.loads(l) for l in out.read_text().splitlines() if l.strip()]
    assert len(rows) == N, f"{len(rows)} readings, want {N}"
    assert [r["seq"] for r in rows] == list(range(N))
    return rows


def test_iio_path_source_publishes_raw_times_channel_scale(
        bins, broker, procs, workdir):
    # ti-ads1015 driving an ADS1115 at +-2.048 V: 0.0625 mV per count;
    # 12000 counts are 750 mV, the datasheet's 25 C.
    devices = workdir / "sys" / "bus" / "iio" / "devices"
    dev = make_device(devices, "iio:device0", "ads1115",
                      {"in_voltage0_raw": "12000"},
                      {"in_voltage0_scale": "0.062500000"})
    rows = run_pipeline(bins, broker, procs, workdir, f"iio:{dev}:0",
                        "itest-iio")
    for r in rows:
        assert r["device"] == "itest-iio"
        assert r["temp_c"] == 25.0, r
        assert r["mv"] == 750.0, r
        assert r["raw"] == 12000, r


def test_iio_name_lookup_with_vref_override_converts_mcp3008_codes(
        bins, broker, procs, workdir):
    # The Pi's mcp3008 overlay: no usable scale file, Vref given in the
    # spec; 233 * 3300 / 1024 = 750.88 mV = 25.09 C.
    root = workdir / "sys"
    devices = root / "bus" / "iio" / "devices"
    make_device(devices, "iio:device0", "ads1115", {"in_voltage0_raw": "1"},
                {"in_voltage_scale": "0.0625"})
    make_device(devices, "iio:device1", "mcp3008", {"in_voltage3_raw": "233"})
    env = dict(os.environ, PITEMP_SYSFS_ROOT=str(root))
    rows = run_pipeline(bins, broker, procs, workdir, "iio:mcp3008:3:3300",
                        "itest-mcp", env=env)
    mv = 233 * 3300 / 1024
    for r in rows:
        assert r["raw"] == 233, r
        assert r["mv"] == round(mv, 1), r
        assert r["temp_c"] == round((mv - 500) / 10, 2) == 25.09, r


def test_iio_source_with_missing_device_is_a_usage_error(bins, procs, workdir):
    p = procs.run("sensor", [bins["sensor"], "--source",
                             f"iio:{workdir}/iio:device7:0", "--count", "1"])
    assert p.returncode == 2, p.describe()
    assert "no such IIO device directory" in p.stderr(), p.describe()
