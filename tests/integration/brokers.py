"""Brokers for the pitemp integration tests: mosquitto configs generated
from the shipped profiles (broker-config/), a real mosquitto per test on a
free port (Broker), and the secure profile with files made by
broker-config/pitemp-secure-setup.sh (SecureBroker). conftest.py makes
fixtures of them.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import (DEV_CONF, REPO, Proc, bounded_polls, free_port,
                     port_accepts, tail)

# Appended to every generated broker config: log everything useful to the
# broker's stderr, which the fixtures keep in a file.
TEST_LOG_SETTINGS = [
    "",
    "# Added by tests/integration/brokers.py",
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "log_type notice",
    "log_type information",
    "log_type subscribe",
    "log_type unsubscribe",
    "connection_messages true",
    "log_timestamp true",
    "log_timestamp_format %H:%M:%S",
]


def generated_settings(persist_dir):
    """What a generated standalone config adds to a shipped profile: the
    persistence directory (which a profile leaves to the main config) and
    TEST_LOG_SETTINGS."""
    return ["", "# Added by tests/integration/brokers.py",
            f"persistence_location {persist_dir}/"] + TEST_LOG_SETTINGS[2:]


def generate_broker_conf(port, persist_dir, out_path, bind="127.0.0.1"):
    """Write a mosquitto config derived from the shipped dev profile: its
    listener becomes `listener <port> <bind>` (mosquitto ignores -p once a
    config has a listener), its persistence goes to `persist_dir` (the
    profile leaves persistence_location to the main config, as Debian's
    sets it), and the log goes to stderr (captured to a file) with
    timestamps and subscribe/connect events. Every other option is kept as
    shipped, so the tests run against the real queue and persistence
    limits."""
    lines = DEV_CONF.read_text().splitlines()
    listeners = [l for l in lines if l.split()[:1] == ["listener"]]
    assert len(listeners) == 1, \
        f"{DEV_CONF}: expected exactly one listener line, got {listeners}"
    out = []
    for line in lines:
        key = line.split()[:1]
        if key == ["listener"]:
            out.append(f"listener {port} {bind}")
        elif key == ["persistence_location"] or (key and key[0].startswith("log_")):
            continue
        else:
            out.append(line)
    out += generated_settings(persist_dir)
    Path(out_path).write_text("\n".join(out) + "\n")


def make_broker_writable(persist_dir):
    """Started as root, mosquitto 2.x drops privileges to the user
    `mosquitto` before it writes its database. We hand the persistence
    directory to that user rather than adding `user root` to the test
    config: the broker then runs exactly as in production, and a
    persistence setup that only works as root fails here first. The log
    is not affected: it goes to stderr, a file we opened."""
    if os.geteuid() != 0:
        return
    import pwd
    try:
        pw = pwd.getpwnam("mosquitto")
    except KeyError:
        return   # no such user: mosquitto stays root (it warns)
    os.chown(persist_dir, pw.pw_uid, pw.pw_gid)


class Broker:
    """A real mosquitto on `port` (127.0.0.1). start()/stop() may be
    called several times; the persistence directory stays, so a restart
    keeps sessions and queued messages, as a real restart does."""

    def __init__(self, workdir, port=None, name="mosquitto"):
        self.port = port or free_port()
        self.name = name
        self.dir = workdir / name
        self.persist_dir = self.dir / "persist"
        self.persist_dir.mkdir(parents=True)
        make_broker_writable(self.persist_dir)
        self.conf = self.dir / "mosquitto.conf"
        generate_broker_conf(self.port, self.persist_dir, self.conf)
        self.proc = None
        self.runs = 0
        self.logs = []

    @property
    def log_path(self):
        return self.logs[-1] if self.logs else None

    def start(self, timeout=10):
        assert self.proc is None or not self.proc.running()
        self.runs += 1
        self.proc = Proc(f"{self.name}.{self.runs}",
                         ["mosquitto", "-c", self.conf], self.dir)
        self.logs.append(self.proc.stderr_path)
        return self._wait_listening(self.port, "", timeout)

    def _wait_listening(self, port, what, timeout):
        """Wait until the broker accepts on port; fail if it exits first."""
        for _ in bounded_polls(timeout):
            if not self.proc.running():
                pytest.fail("mosquitto exited during startup\n"
                            + self.proc.describe())
            if port_accepts(port):
                return self
        self.proc.kill()
        pytest.fail(f"mosquitto not accepting {what}on port {port} "
                    f"within {timeout} s\n" + self.proc.describe())

    def stop(self, timeout=10):
        """SIGTERM (mosquitto saves its database), SIGKILL after timeout."""
        if self.proc is not None:
            self.proc.kill(grace=timeout)

    def log(self):
        return "".join(Path(p).read_text(errors="replace") for p in self.logs)

    def describe(self):
        return "\n".join(
            f"--- broker log {p}:\n{tail(p)}" for p in self.logs)


SECURE_CONF = REPO / "broker-config" / "mosquitto.secure.conf"
SECURE_SETUP = REPO / "broker-config" / "pitemp-secure-setup.sh"


SECURE_FILES = ("ca.crt", "server.crt", "server.key", "passwd", "acl")


def secure_setup(out_dir, sans, sensors=(), sinks=(), clients=(), timeout=60):
    """Run pitemp-secure-setup.sh into out_dir (CA, server certificate for
    `sans`, users with random passwords in out_dir/users/NAME.password);
    fail with its output if it fails. Returns out_dir as a Path."""
    argv = ["sh", str(SECURE_SETUP), "-o", str(out_dir)]
    for opt, names in (("-s", sans), ("-S", sensors), ("-K", sinks),
                       ("-C", clients)):
        for n in names:
            argv += [opt, n]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, \
        f"{' '.join(argv)}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return Path(out_dir)


def generate_secure_broker_conf(port, tls_port, persist_dir, files_dir,
                                out_path, bind="127.0.0.1"):
    """A mosquitto config derived from the shipped secure profile: its
    plain listener (1883) becomes `listener <port> <bind>`, its TLS listener
    (8883) `listener <tls_port> <bind>`, the files under
    /etc/mosquitto/pitemp/ are taken from files_dir, persistence goes to
    persist_dir and the log to stderr (as generate_broker_conf does).
    Everything else is kept as shipped."""
    lines = SECURE_CONF.read_text().splitlines()
    listeners = sorted(l.split()[1] for l in lines
                       if l.split()[:1] == ["listener"])
    assert listeners == ["1883", "8883"], \
        f"{SECURE_CONF}: expected listeners 1883 and 8883, got {listeners}"
    out = []
    for line in lines:
        words = line.split()
        key = words[:1]
        if key == ["listener"]:
            p = port if words[1] == "1883" else tls_port
            out.append(f"listener {p} {bind}")
        elif key == ["persistence_location"] or (key and key[0].startswith("log_")):
            continue
        else:
            out.append(line.replace("/etc/mosquitto/pitemp/", f"{files_dir}/"))
    out += generated_settings(persist_dir)
    Path(out_path).write_text("\n".join(out) + "\n")


class SecureBroker(Broker):
    """A real mosquitto with the secure profile: plain MQTT on `port`
    (the profile's loopback listener) and MQTT over TLS on `tls_port`, both
    on 127.0.0.1, users/ACL/certificates from `secure_dir` (the output of
    secure_setup). The files are installed into the broker's directory the
    way docs/security.md says: readable by the broker's user only."""

    def __init__(self, workdir, secure_dir, port=None, tls_port=None,
                 name="mosquitto-secure"):
        super().__init__(workdir, port=port, name=name)
        self.tls_port = tls_port or free_port()
        self.files = self.dir / "etc"
        self.files.mkdir(mode=0o700)
        for f in SECURE_FILES:
            shutil.copyfile(Path(secure_dir) / f, self.files / f)
            os.chmod(self.files / f, 0o600)
        self._give_to_broker_user()
        generate_secure_broker_conf(self.port, self.tls_port, self.persist_dir,
                                    self.files, self.conf)

    def _give_to_broker_user(self):
        # As root, mosquitto reads the password file after dropping to the
        # user `mosquitto` (see make_broker_writable).
        if os.geteuid() != 0:
            return
        import pwd
        try:
            pw = pwd.getpwnam("mosquitto")
        except KeyError:
            return
        for p in [self.files] + [self.files / f for f in SECURE_FILES]:
            os.chown(p, pw.pw_uid, pw.pw_gid)

    def start(self, timeout=10):
        super().start(timeout)
        return self._wait_listening(self.tls_port, "TLS ", timeout)


class NsBroker:
    """mosquitto on the server host of the rig, listening on its veth
    address, from the same generated config as every other test."""

    def __init__(self, rig, procs, workdir):
        self.rig, self.procs = rig, procs
        self.port = 1883     # a namespace of its own: the real port is free
        d = workdir / "mosquitto"
        (d / "persist").mkdir(parents=True)
        make_broker_writable(d / "persist")
        self.conf = d / "mosquitto.conf"
        generate_broker_conf(self.port, d / "persist", self.conf,
                             bind=rig.srv_ip)
        self.proc = procs.start("mosquitto", rig.wrap(
            rig.srv, ["mosquitto", "-c", self.conf]))
        self.proc.wait_for_line(r"mosquitto version \S+ running")
