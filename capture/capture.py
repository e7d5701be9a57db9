#!/usr/bin/python3
"""capture.py: `make capture` -- the lab's Task 2 as one command.

Builds a two-host rig in network namespaces (tests/rig/netns.py: a sensor
host and a server host joined by a veth pair, a private /30 inside the
namespaces), runs mosquitto and pitemp-sink on the server host and
pitemp-sensor on the sensor host, and captures with tshark on the server's
veth one run of N readings, connect and clean disconnect included, for each
transport:

    socket      plain TCP, newline-delimited JSON        port 50007
    mqtt-qos0   MQTT, QoS 0, user name + password        port 1883
    mqtt-qos1   MQTT, QoS 1, user name + password        port 1883
    mqtts       MQTT over TLS, QoS 1, same credentials   port 8883

then writes report.md and report.png (capture/report.py) next to the
pcapng files in the output directory (default build/capture).

    /usr/bin/python3 capture/capture.py [--count N] [--build DIR] [--out DIR]

The MQTT broker is the secure profile (broker-config/mosquitto.secure.conf,
files made by broker-config/pitemp-secure-setup.sh) with one change: its
plain 1883 listener, loopback-only as shipped, listens on the rig's link
too. So the plain and the TLS runs carry the same user name and password,
and the captures show what TLS changes -- see report.md.

Root only (namespaces, capturing). Every wait is bounded; every process
started here is stopped by its PID; the namespaces are deleted on every
exit path (normal, error, SIGINT, SIGTERM, SIGHUP).
Exit status: 0 done, 1 a step failed, 2 usage error or not root.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "rig"))
sys.path.insert(0, str(HERE))

DEVICE = "pi-sensor-1"          # the sensor's device name and MQTT user
SINK_USER = "pitemp-sink"       # the sink user of broker-config/acl
RATE = 100                      # Hz, the product default
POLL_S = 0.05

# name, mode, port, qos, tls
RUNS = (
    ("socket", "socket", 50007, None, False),
    ("mqtt-qos0", "mqtt", 1883, 0, False),
    ("mqtt-qos1", "mqtt", 1883, 1, False),
    ("mqtts", "mqtt", 8883, 1, True),
)


class Failure(Exception):
    pass


class Incomplete(Failure):
    """tshark missed packets that crossed the interface: run again."""


ATTEMPTS = 3                    # per transport, when a capture is incomplete


def say(msg):
    print(f"capture: {msg}", flush=True)


def tail(path, n=15):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(f"    {l}" for l in lines[-n:])


def polls(timeout):
    """Yield every POLL_S until `timeout` s have passed (count bounded too)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / POLL_S) + 2):
        yield
        if time.monotonic() >= deadline:
            return
        time.sleep(POLL_S)


class Proc:
    """A program we started; output to LOGDIR/name.log; stopped by PID."""

    def __init__(self, name, argv, logdir, env=None, stdout_only=False):
        """stdout_only: stdout to name.log, stderr to name.stderr (tshark's
        packet lines apart from its messages); else both to name.log."""
        self.name = name
        self.log = logdir / f"{name}.log"
        self.err = logdir / f"{name}.stderr" if stdout_only else self.log
        with open(self.log, "wb") as f, open(self.err, "ab") as e:
            self.popen = subprocess.Popen([str(a) for a in argv],
                                          stdin=subprocess.DEVNULL, stdout=f,
                                          stderr=e if stdout_only else subprocess.STDOUT,
                                          env=env, start_new_session=True)
        self.pid = self.popen.pid

    def running(self):
        return self.popen.poll() is None

    def wait_line(self, text, timeout, stderr=False):
        path = self.err if stderr else self.log
        for _ in polls(timeout):
            exited = not self.running()
            if text in path.read_text(errors="replace"):
                return
            if exited:
                raise Failure(f"{self.name} exited (status {self.popen.returncode}) "
                              f"before printing '{text}':\n{tail(path)}")
        raise Failure(f"{self.name}: no '{text}' within {timeout} s:\n{tail(path)}")

    def wait_exit(self, timeout):
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"{self.name} still running after {timeout} s:\n"
                          f"{tail(self.log)}") from None

    def stop(self, sig=signal.SIGTERM, grace=5):
        """`sig`, then SIGKILL after `grace` s; by PID only."""
        if not self.running():
            return self.popen.returncode
        try:
            os.kill(self.pid, sig)
            return self.popen.wait(timeout=grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=grace)
        return self.popen.returncode


class Capture:
    def __init__(self, args):
        from netns import NetnsRig
        self.n = args.count
        self.bins = Path(args.build).resolve() / "bin"
        self.out = Path(args.out).resolve()
        self.logs = self.out / "logs"
        self.work = self.out / "work"
        self.secure = self.out / "secure"
        self.rig = NetnsRig()
        self.procs = []
        self.env = {k: v for k, v in os.environ.items() if k != "PITEMP_PASSWORD"}

    # -- processes ---------------------------------------------------------

    def start(self, name, ns, argv, stdout_only=False):
        p = Proc(name, self.rig.wrap(ns, argv), self.logs, env=self.env,
                 stdout_only=stdout_only)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop()

    # -- set-up ------------------------------------------------------------

    def prepare(self):
        self.out.mkdir(parents=True, exist_ok=True)
        for name, *_ in RUNS:
            (self.out / f"{name}.pcapng").unlink(missing_ok=True)
        for f in ("report.md", "report.png", "figures.json"):
            (self.out / f).unlink(missing_ok=True)
        for d in (self.logs, self.work):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
        for b in ("pitemp-sensor", "pitemp-sink"):
            if not os.access(self.bins / b, os.X_OK):
                raise Failure(f"{self.bins / b} not built (run make)")

    def make_pki(self):
        """CA, server certificate for the server host's address, passwords
        for the sensor and the sink, and the broker config with this rig's
        paths -- all by the secure profile's own setup script."""
        argv = ["sh", REPO / "broker-config" / "pitemp-secure-setup.sh",
                "-o", self.secure, "-s", self.rig.srv_ip, "-S", DEVICE,
                "-K", SINK_USER, "-b", self.rig.srv_ip, "-t", self.secure]
        r = subprocess.run([str(a) for a in argv], capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
        (self.logs / "secure-setup.log").write_text(r.stdout + r.stderr)
        if r.returncode != 0:
            raise Failure(f"pitemp-secure-setup.sh failed ({r.returncode}):\n"
                          f"{r.stdout}{r.stderr}")
        say(f"certificates and passwords by pitemp-secure-setup.sh in {self.secure}")

    def broker_conf(self):
        """The setup script's mosquitto.conf (the secure profile with this
        rig's paths and the TLS listener on the server's address), with the
        plain 1883 listener opened to the rig's link, a private persistence
        directory and the log to a file."""
        persist = self.work / "mosquitto"
        persist.mkdir()
        out = []
        for line in (self.secure / "mosquitto.conf").read_text().splitlines():
            words = line.split()
            if words[:2] == ["listener", "1883"]:
                out += ["# capture rig: plain MQTT reachable from the sensor host, to",
                        "# show on the wire what passwords without TLS are worth.",
                        "listener 1883"]
            elif words[:1] and (words[0] == "persistence_location"
                                or words[0].startswith("log_")):
                continue
            else:
                out.append(line)
        out += ["", "# capture rig: a throwaway broker inside the rig's namespace;",
                "# it keeps root so it can read the 0700 files in build/capture/secure.",
                "user root", f"persistence_location {persist}/",
                "log_dest stderr", "log_type all",
                "connection_messages true", "log_timestamp true"]
        conf = self.work / "mosquitto.conf"
        conf.write_text("\n".join(out) + "\n")
        return conf

    def start_broker(self):
        conf = self.broker_conf()
        b = self.start("mosquitto", self.rig.srv, ["mosquitto", "-c", conf])
        b.wait_line("Opening ipv4 listen socket on port 8883", 15)
        b.wait_line("mosquitto version", 15)
        # The listeners are open once the port accepts inside the namespace.
        for port in (1883, 8883):
            self.wait_listen(port, 15)
        return b

    def ss(self, ns, port):
        r = subprocess.run(self.rig.wrap(ns, ["ss", "-Htan", f"( sport = :{port} or dport = :{port} )"]),
                           capture_output=True, text=True, timeout=10)
        return [l.split()[0] for l in r.stdout.splitlines() if l.strip()]

    def wait_listen(self, port, timeout):
        for _ in polls(timeout):
            if "LISTEN" in self.ss(self.rig.srv, port):
                return
        raise Failure(f"nothing listening on port {port} in {self.rig.srv} after {timeout} s")

    def count_packets(self, port):
        """(Re)start counting the packets of `port` that cross the server's
        veth, with two rule-less iptables rules (counters only)."""
        ipt = ["iptables", "-w", "5"]
        chains = (("INPUT", "-i", "--dport"), ("OUTPUT", "-o", "--sport"))
        for chain, io, p in chains:
            rule = [chain, io, self.rig.if_srv, "-p", "tcp", p, str(port)]
            r = subprocess.run(self.rig.wrap(self.rig.srv, ipt + ["-C"] + rule),
                               capture_output=True, timeout=10)
            if r.returncode != 0:
                self.run_cmd(self.rig.srv, ipt + ["-A"] + rule)
        for chain, *_ in chains:
            self.run_cmd(self.rig.srv, ipt + ["-Z", chain])

    def counted_packets(self, port):
        r = self.run_cmd(self.rig.srv, ["iptables", "-w", "5", "-nvxL"])
        total = 0
        for line in r.stdout.splitlines():
            f = line.split()
            if f and f[0].isdigit() and (f"dpt:{port}" in f or f"spt:{port}" in f):
                total += int(f[0])
        return total

    def run_cmd(self, ns, argv):
        r = subprocess.run(self.rig.wrap(ns, argv), capture_output=True,
                           text=True, timeout=10)
        if r.returncode != 0:
            raise Failure(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
        return r

    def wait_captured(self, tshark, port, timeout):
        """Until tshark has printed (so written) as many packets as crossed
        the interface: dumpcap hands packets over in blocks, and a SIGINT
        too early loses the last block -- the tear-down, of all things."""
        want = self.counted_packets(port)
        for _ in polls(timeout):
            got = len(tshark.log.read_text(errors="replace").splitlines())
            if got >= want:
                return
        raise Incomplete(f"tshark has {got} of the {want} packets that crossed "
                         f"the interface after {timeout} s")

    def wait_closed(self, port, timeout):
        """Until the TCP connection on `port` is fully closed at both ends
        (FIN and last ACK exchanged): only LISTEN and TIME-WAIT remain."""
        done = {"LISTEN", "TIME-WAIT"}
        for _ in polls(timeout):
            states = self.ss(self.rig.srv, port) + self.ss(self.rig.sen, port)
            if set(states) <= done:
                return
        raise Failure(f"connection on port {port} not closed after {timeout} s: {states}")

    # -- one run -----------------------------------------------------------

    def run_one(self, name, *run):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self.attempt(name, attempt, *run)
            except Incomplete as e:
                if attempt == ATTEMPTS:
                    raise Failure(f"{name}: {e} (attempt {attempt} of {ATTEMPTS})") from None
                say(f"{name}: {e}; capturing again")

    def attempt(self, name, attempt, mode, port, qos, tls):
        srv_ip, n = self.rig.srv_ip, self.n
        tag = name if attempt == 1 else f"{name}.{attempt}"
        pcap = self.out / f"{name}.pcapng"
        limit = 20 + 2 * n / RATE
        readings = self.work / f"{name}.readings.txt"

        sink_argv = [self.bins / "pitemp-sink", "--mode", mode, "--count", n,
                     "--output", readings, "--timeout", int(limit)]
        sensor_argv = [self.bins / "pitemp-sensor", "--mode", mode,
                       "--host", srv_ip, "--port", port, "--count", n,
                       "--rate", RATE, "--device", DEVICE]
        if mode == "socket":
            sink_argv += ["--bind", srv_ip, "--port", port]
            ready = "listening on"
        else:
            # The sink is a local tool on the server host: the profile's
            # loopback listener, never on the captured link.
            sink_argv += ["--host", "127.0.0.1", "--port", 1883, "--qos", qos,
                          "--username", SINK_USER, "--password-file",
                          self.secure / "users" / f"{SINK_USER}.password"]
            sensor_argv += ["--qos", qos, "--username", DEVICE, "--password-file",
                            self.secure / "users" / f"{DEVICE}.password"]
            ready = "subscribed to"
        if tls:
            sensor_argv += ["--cafile", self.secure / "ca.crt"]

        sink = self.start(f"{tag}.sink", self.rig.srv, sink_argv)
        sink.wait_line(ready, 15)

        # tshark in the server namespace, on its end of the veth pair, with
        # a capture filter on the port: only the sensor <-> server traffic.
        # -P -l: one summary line per packet on stdout, flushed, so we can
        # tell when it has everything (see wait_captured).
        self.count_packets(port)
        tshark = self.start(f"{tag}.tshark", self.rig.srv,
                            ["tshark", "-n", "-l", "-P", "-i", self.rig.if_srv,
                             "-f", f"tcp port {port}", "-w", pcap],
                            stdout_only=True)
        # "Capturing on" is printed before dumpcap has opened the interface;
        # "Capture started." once it has (dumpcap's first report to tshark).
        # Waiting for the first alone loses the handshake now and then.
        tshark.wait_line("Capturing on", 20, stderr=True)
        tshark.wait_line("Capture started.", 20, stderr=True)

        sensor = self.start(f"{tag}.sensor", self.rig.sen, sensor_argv)
        rc = sensor.wait_exit(limit)
        if rc != 0:
            raise Failure(f"{name}: pitemp-sensor exited {rc}:\n{tail(sensor.log)}")
        rc = sink.wait_exit(limit)
        if rc != 0:
            raise Failure(f"{name}: pitemp-sink exited {rc}:\n{tail(sink.log)}")
        self.wait_closed(port, 15)
        try:
            self.wait_captured(tshark, port, 5)
        finally:
            rc = tshark.stop(signal.SIGINT, grace=15)
        if not pcap.is_file() or pcap.stat().st_size == 0:
            raise Failure(f"{name}: tshark (status {rc}) left no {pcap}:\n{tail(tshark.log)}")
        stored = len(readings.read_text().splitlines()) - 1
        if stored != n:
            raise Failure(f"{name}: the sink stored {stored} readings, not {n}")
        say(f"{name}: {n} readings delivered, {pcap.name} written")

    def run(self):
        self.prepare()
        say(f"rig: {self.rig.sen} {self.rig.sen_ip} <-> "
            f"{self.rig.srv} {self.rig.srv_ip} ({self.rig.if_srv})")
        self.rig.setup()
        self.make_pki()
        broker = self.start_broker()
        for run in RUNS:
            self.run_one(*run)
        broker.stop()


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Capture and compare the pitemp transports.")
    ap.add_argument("--count", "-n", default=os.environ.get("CAPTURE_N", "100"),
                    help="readings per capture (default 100, or $CAPTURE_N)")
    ap.add_argument("--build", default=str(REPO / "build"),
                    help="build directory holding bin/ (default build)")
    ap.add_argument("--out", default=None,
                    help="output directory (default BUILD/capture)")
    args = ap.parse_args(argv)
    try:
        args.count = int(str(args.count), 10)
    except ValueError:
        ap.error(f"--count: '{args.count}' is not a number")
    if not 1 <= args.count <= 100000:
        ap.error(f"--count: {args.count} is not in 1..100000")
    if args.out is None:
        args.out = str(Path(args.build) / "capture")
    return args


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("capture: error: must run as root (it creates network namespaces "
              "and captures on a veth interface): sudo make capture", file=sys.stderr)
        return 2
    missing = [t for t in ("ip", "ss", "tshark", "mosquitto", "mosquitto_passwd",
                           "openssl", "gnuplot") if shutil.which(t) is None]
    if missing:
        print(f"capture: error: not installed: {' '.join(missing)} (make deps)",
              file=sys.stderr)
        return 1
    # SIGINT too: started in the background by a shell, it would be ignored.
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    cap = Capture(args)
    t0 = time.monotonic()
    try:
        cap.run()
    except Failure as e:
        print(f"capture: error: {e}", file=sys.stderr)
        print(f"capture: logs in {cap.logs}", file=sys.stderr)
        return 1
    except SystemExit as e:
        print(f"capture: signal {e.code - 128}; stopping its processes, removing the rig",
              file=sys.stderr)
        return e.code
    finally:
        # A second signal must not cut the clean-up short.
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        cap.stop_all()
        cap.rig.teardown()
    say(f"captures done in {time.monotonic() - t0:.1f} s; writing the report")

    import report
    try:
        report.main([str(cap.out), "--count", str(args.count)])
    except report.ReportError as e:
        print(f"capture: error: report: {e}", file=sys.stderr)
        return 1
    say(f"wrote {cap.out}/report.md and {cap.out}/report.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
