#!/usr/bin/env python3
"""bench/persist_cost.py: what `pitemp-sensor --persistent` costs the disk
(issue 15), on an ext4 filesystem of its own (a loop image, so that its
block device counts exactly what reaches the "card"). Root only.

For each case it runs the sensor at --rate HZ for --seconds S with its
--state-dir on the image and reports, per reading:
  - the syscalls paho's file persistence adds (strace -c, against a run
    without --persistent), fsyncs among them;
  - the bytes the filesystem wrote to its device (/sys/block/loopN/stat,
    journal and metadata included), after a sync;
and the files left on disk while the broker is away.

  cases: online  (broker up: each reading's file is made and removed
                  within milliseconds)
         outage  (no broker: the files stay, one per reading)

Usage: sudo bench/persist_cost.py [--rate 100] [--seconds 30]
Prints everything; asserts nothing.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import broker  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("PITEMP_BUILD", os.path.join(REPO, "build"))
SENSOR = os.path.join(BUILD, "bin", "pitemp-sensor")


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def sectors_written(dev):
    # /sys/block/<dev>/stat: field 7 is sectors written (512 bytes each).
    return int(open(f"/sys/block/{dev}/stat").read().split()[6])


def strace_counts(path):
    """{syscall: calls} from strace -c output."""
    out = {}
    for line in open(path):
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
        if m and m.group(2) != "total":
            out[m.group(2)] = int(m.group(1))
    return out


def sensor(port, n, rate, state, trace=None, timeout=600):
    argv = [SENSOR, "-h", "127.0.0.1", "-p", str(port), "-C", str(n),
            "--rate", str(rate), "--summary-period", "0", "--device", "bench"]
    if state:
        argv += ["--persistent", "--state-dir", state]
    if trace:
        argv = ["strace", "-f", "-c", "-o", trace] + argv
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--seconds", type=float, default=30)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("persist_cost.py: needs root (a loop-mounted ext4 image)")
    for tool in ("strace", "mkfs.ext4", "losetup"):
        if shutil.which(tool) is None:
            sys.exit(f"persist_cost.py: {tool} not installed")
    n = int(a.rate * a.seconds)
    work = tempfile.mkdtemp(prefix="pitemp-persist-")
    img, mnt = os.path.join(work, "card.img"), os.path.join(work, "card")
    os.mkdir(mnt)
    run(["truncate", "-s", "256M", img])
    run(["mkfs.ext4", "-q", "-F", img])        # the Pi's root fs defaults
    dev = run(["losetup", "--show", "-f", img]).stdout.strip()
    run(["mount", dev, mnt])
    bdev = os.path.basename(dev)
    proc, port = broker.start(work, "max_queued_messages 60000\n")
    try:
        print(f"persist_cost: {n} readings at {a.rate:g} Hz per run, ext4 on "
              f"{dev}, mosquitto on 127.0.0.1:{port}")
        # Syscalls: the same run without and with --persistent.
        counts = {}
        for label, state in (("plain", None), ("persistent", os.path.join(mnt, "s0"))):
            t = os.path.join(work, f"strace.{label}")
            r = sensor(port, n, a.rate, state, trace=t)
            if r.returncode != 0:
                sys.exit(f"sensor failed:\n{r.stderr[-2000:]}")
            counts[label] = strace_counts(t)
        print("\nsyscalls per reading added by --persistent (strace -f -c):")
        added = 0.0
        for name in sorted(set(counts["persistent"]) | set(counts["plain"])):
            d = (counts["persistent"].get(name, 0) - counts["plain"].get(name, 0)) / n
            if abs(d) >= 0.05:
                print(f"  {name:<12} {d:+.2f}")
                added += d
        print(f"  {'all':<12} {added:+.2f}   fsync: "
              f"{counts['persistent'].get('fsync', 0)}, fdatasync: "
              f"{counts['persistent'].get('fdatasync', 0)} in the whole run")

        # Bytes to the device, broker up.
        for label, state in (("plain", None), ("online", os.path.join(mnt, "s1"))):
            os.sync()
            before = sectors_written(bdev)
            t0 = time.monotonic()
            r = sensor(port, n, a.rate, state)
            os.sync()
            wrote = (sectors_written(bdev) - before) * 512
            print(f"\n{label}: {n} readings in {time.monotonic() - t0:.1f} s, "
                  f"device writes {wrote} bytes = {wrote / n:.1f} bytes per reading, "
                  f"{wrote / (n / a.rate):.0f} bytes/s "
                  f"({wrote / (n / a.rate) * 86400 / 1e6:.0f} MB/day at this rate)")
    finally:
        broker.stop(proc)
    # An outage: no broker on the port; the files stay.
    try:
        state = os.path.join(mnt, "s2")
        os.sync()
        before = sectors_written(bdev)
        p = subprocess.Popen([SENSOR, "-h", "127.0.0.1", "-p", str(broker.free_port()),
                              "-C", str(n), "--rate", str(a.rate), "--summary-period",
                              "0", "--device", "bench", "--persistent",
                              "--state-dir", state],
                             stderr=subprocess.DEVNULL)
        time.sleep(n / a.rate + 1)
        p.kill()
        p.wait()
        os.sync()
        wrote = (sectors_written(bdev) - before) * 512
        files = [os.path.join(d, f) for d, _, fs in os.walk(state) for f in fs]
        size = sum(os.path.getsize(f) for f in files)
        used = int(run(["du", "-sb", state]).stdout.split()[0])
        print(f"\noutage: {n} readings kept in {len(files)} files, {size} bytes of "
              f"content, {used} bytes on disk (du); device writes {wrote} bytes = "
              f"{wrote / n:.1f} bytes per reading")
    finally:
        run(["umount", mnt])
        run(["losetup", "-d", dev])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
