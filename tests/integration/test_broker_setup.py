"""The broker set-up steps as a user follows them (issue #14): the shipped
profiles dropped into a copy of Debian's mosquitto layout, the secure
set-up script's options and its output started as it is, and the two
profiles agreeing on persistence.

"Debian's layout" is the real /etc/mosquitto/mosquitto.conf of the
installed package (persistence_location, pid_file, log_dest file,
include_dir conf.d), every absolute path in it moved under the test's
directory, and the directories made as the package and its
mosquitto.service make them (owned by the user mosquitto when we are
root). mosquitto is started from that main config, as systemd starts it.
"""

import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import (REPO, SECURE_SETUP, Broker, bounded_polls, free_port,
                      parse_summary, port_accepts, read_text_readings, sensor_argv,
                      sink_argv, tail)

DEBIAN_CONF = Path("/etc/mosquitto/mosquitto.conf")
DEV_PROFILE = REPO / "broker-config" / "mosquitto.dev.conf"
SECURE_PROFILE = REPO / "broker-config" / "mosquitto.secure.conf"
BRIDGE_PROFILE = REPO / "broker-config" / "mosquitto.bridge.conf"
SUBSCRIBED = r"pitemp-sink: info: subscribed to "
SENSOR, SINK_USER = "pi-sensor-1", "pitemp-sink"


def broker_user():
    """(uid, gid) of mosquitto when we are root (mosquitto drops to it),
    else None: the broker stays our user."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam("mosquitto")
    except KeyError:
        return None
    return pw.pw_uid, pw.pw_gid


def give_to_broker(path):
    ids = broker_user()
    if ids is not None:
        os.chown(path, *ids)


def debian_layout(root):
    """Copy Debian's mosquitto.conf under root with its paths moved there;
    returns (main config, conf.d, persistence dir, log file or None)."""
    if not DEBIAN_CONF.exists():
        pytest.fail(f"{DEBIAN_CONF} missing: Debian's mosquitto package "
                    "is a dependency (make deps)")
    moved = {}
    out = []
    for line in DEBIAN_CONF.read_text().splitlines():
        words = line.split()
        if words and not words[0].startswith("#"):
            for w in words[1:]:
                if w.startswith("/"):
                    moved.setdefault(words[0], []).append(w)
                    line = line.replace(w, f"{root}{w}")
        out.append(line)
    for key in ("persistence_location", "include_dir"):
        assert key in moved, f"{DEBIAN_CONF} has no {key} line: not Debian's?"
    # The package makes conf.d and /var/lib/mosquitto; mosquitto.service
    # makes /var/log/mosquitto and /run/mosquitto, each the broker user's.
    confd = Path(f"{root}{moved['include_dir'][0]}")
    confd.mkdir(parents=True)
    persist = Path(f"{root}{moved['persistence_location'][0]}")
    log = Path(f"{root}{moved['log_dest'][-1]}") if "log_dest" in moved else None
    for d in [persist] + [Path(f"{root}{p}").parent
                          for k in ("pid_file", "log_dest") for p in moved.get(k, [])]:
        d.mkdir(parents=True, exist_ok=True)
        give_to_broker(d)
    main = Path(f"{root}{DEBIAN_CONF}")
    main.parent.mkdir(parents=True, exist_ok=True)
    main.write_text("\n".join(out) + "\n")
    return main, confd, persist, log


class DebianBroker(Broker):
    """mosquitto started from the Debian-layout main config in
    <workdir>/<name>/root, with whatever was dropped into its conf.d."""

    def __init__(self, workdir, name="mosquitto-debian"):
        super().__init__(workdir, name=name)
        self.root = self.dir / "root"
        self.conf, self.confd, self.debian_persist, self.debian_log = \
            debian_layout(self.root)

    def describe(self):
        text = super().describe()
        if self.debian_log is not None:
            text += f"\n--- broker log {self.debian_log}:\n{tail(self.debian_log)}"
        return text


@pytest.fixture
def debian_broker(request, workdir):
    b = DebianBroker(workdir)
    yield b
    b.stop()
    if any(getattr(request.node, f"rep_{w}", None) is not None and
           getattr(request.node, f"rep_{w}").failed for w in ("setup", "call")):
        print(b.describe())


def deliver_one(procs, bins, sink_port, sensor_port, out, sink_args=(),
                sensor_args=(), env=None):
    """A sink waiting for one reading, a sensor sending one; both exit 0 and
    the reading is in out."""
    sink = procs.start("sink", sink_argv(
        bins, sink_port, "-C", "1", "-W", "30", "-o", out, *sink_args), env=env)
    sink.wait_for_line(SUBSCRIBED, 15)
    sensor = procs.start("sensor", sensor_argv(
        bins, sensor_port, "-C", "1", "--device", SENSOR, *sensor_args), env=env)
    assert sensor.wait_exit(30) == 0, sensor.describe()
    assert sink.wait_exit(30) == 0, sink.describe()
    _, rows = read_text_readings(out)
    assert [r["device"] for r in rows] == [SENSOR]
    assert parse_summary(sink)["stored"] == "1"


def env_without_password():
    return {k: v for k, v in os.environ.items() if k != "PITEMP_PASSWORD"}


# --------------------------------------------------------------------------
# The dev profile in Debian's conf.d

def test_dev_profile_in_debian_conf_d_delivers_a_reading(bins, procs, workdir,
                                                         debian_broker):
    b = debian_broker
    text = DEV_PROFILE.read_text()
    # The one change: a free loopback port for the standard 1883.
    assert re.search(r"(?m)^listener 1883$", text), DEV_PROFILE
    (b.confd / "pitemp.conf").write_text(
        re.sub(r"(?m)^listener 1883$", f"listener {b.port} 127.0.0.1", text))
    b.start()
    deliver_one(procs, bins, b.port, b.port, workdir / "readings.txt")
    # Debian's persistence_location is the one in use: the database is
    # saved there on a clean stop.
    b.stop()
    assert (b.debian_persist / "mosquitto.db").exists(), b.describe()


# --------------------------------------------------------------------------
# The site bridge profile in Debian's conf.d, bridged to a central broker

def test_bridge_profile_in_debian_conf_d_forwards_to_the_centre(
        bins, procs, workdir, debian_broker, broker):
    b, central = debian_broker, broker
    text = BRIDGE_PROFILE.read_text()
    assert re.search(r"(?m)^listener 1883$", text), BRIDGE_PROFILE
    assert re.search(r"(?m)^address \S+$", text), BRIDGE_PROFILE
    text = re.sub(r"(?m)^listener 1883$", f"listener {b.port} 127.0.0.1", text)
    text = re.sub(r"(?m)^address \S+$", f"address 127.0.0.1:{central.port}", text)
    (b.confd / "pitemp.conf").write_text(text)
    b.start()
    # Sensor on the site broker, sink on the central one.
    deliver_one(procs, bins, central.port, b.port, workdir / "readings.txt")
    b.stop()
    assert (b.debian_persist / "mosquitto.db").exists(), b.describe()


# --------------------------------------------------------------------------
# The secure profile: the set-up script's options, its output in Debian's
# conf.d, and on its own

def run_setup(*args, timeout=60):
    return subprocess.run(["sh", str(SECURE_SETUP), *map(str, args)],
                          stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def setup_ok(*args):
    r = run_setup(*args)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def test_secure_setup_help_exits_0_and_bad_options_exit_2(workdir):
    r = run_setup("-h")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    for opt in ("-p PORT", "-P PORT", "-D PDIR", "-t CONFDIR", "-u USER",
                "Exit status"):
        assert opt in r.stdout, f"-h does not mention {opt}:\n{r.stdout}"
    r = run_setup("-Z")
    assert r.returncode == 2
    assert "unknown option -Z" in r.stderr and "-P PORT" in r.stderr
    for args, msg in ((["-p", "99999"], "option -p: '99999'"),
                      (["-P", "0"], "option -P: '0'"),
                      (["-D", "relative/dir"], "option -D: 'relative/dir'"),
                      (["-p", "9000", "-P", "9000"], "both listeners on port 9000")):
        r = run_setup("-s", "localhost", "-S", "x", "-o", workdir / "never",
                      *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert msg in r.stderr, (args, r.stderr)
    assert not (workdir / "never").exists()


def test_secure_profile_in_debian_conf_d_delivers_over_tls(bins, procs, workdir,
                                                          debian_broker):
    b = debian_broker
    tls_port = free_port()
    out = workdir / "secure"
    confdir = b.root / "etc" / "mosquitto" / "pitemp"
    setup_ok("-o", out, "-s", "localhost", "-S", SENSOR, "-K", SINK_USER,
             "-b", "127.0.0.1", "-p", b.port, "-P", tls_port, "-t", confdir)
    conf = (out / "mosquitto.conf").read_text()
    assert f"listener {b.port} 127.0.0.1\n" in conf
    assert f"listener {tls_port} 127.0.0.1\n" in conf
    assert "persistence_location" not in settings(out / "mosquitto.conf")
    # Installed as docs/security.md ("Switching it on") says: a directory and files of
    # the broker's user, 0700/0600, and the config into conf.d.
    confdir.mkdir(mode=0o700)
    give_to_broker(confdir)
    for f in ("ca.crt", "server.crt", "server.key", "passwd", "acl"):
        shutil.copyfile(out / f, confdir / f)
        os.chmod(confdir / f, 0o600)
        give_to_broker(confdir / f)
    shutil.copyfile(out / "mosquitto.conf", b.confd / "pitemp.conf")
    b.start()
    b._wait_listening(tls_port, "TLS ", 10)
    users = out / "users"
    deliver_one(procs, bins, b.port, tls_port, workdir / "readings.txt",
                sink_args=("-u", SINK_USER, "--password-file",
                           users / f"{SINK_USER}.password"),
                sensor_args=("--host", "localhost", "--cafile", out / "ca.crt",
                             "-u", SENSOR, "--password-file",
                             users / f"{SENSOR}.password"),
                env=env_without_password())


def test_secure_setup_output_starts_as_it_is(bins, procs, workdir):
    """`mosquitto -c DIR/mosquitto.conf` with -t DIR -D PDIR: the files are
    read where they were made. Run as root (as here in CI), mosquitto reads
    the password file after dropping to mosquitto: the script's ownership
    has to let it."""
    out, persist = workdir / "secure", workdir / "persist"
    port, tls_port = free_port(), free_port()
    setup_ok("-o", out, "-s", "127.0.0.1", "-S", SENSOR, "-K", SINK_USER,
             "-b", "127.0.0.1", "-p", port, "-P", tls_port, "-t", out,
             "-D", persist)
    if broker_user() is not None:
        uid, gid = broker_user()
        st = os.stat(persist)
        assert (st.st_uid, st.st_gid) == (uid, gid)
        for f, mode in (("passwd", 0o640), ("acl", 0o640),
                        ("server.key", 0o640), ("ca.key", 0o600)):
            st = os.stat(out / f)
            assert (st.st_mode & 0o777, st.st_gid) == \
                (mode, gid if mode == 0o640 else 0), f
        for d in ("users", "clients"):
            assert os.stat(out / d).st_mode & 0o777 == 0o700, d
    broker = procs.start("mosquitto", ["mosquitto", "-c", out / "mosquitto.conf"])
    for _ in bounded_polls(10):
        assert broker.running(), broker.describe()
        if all(port_accepts(p) for p in (port, tls_port)):
            break
    else:
        pytest.fail("mosquitto not listening\n" + broker.describe())
    users = out / "users"
    deliver_one(procs, bins, port, tls_port, workdir / "readings.txt",
                sink_args=("-u", SINK_USER, "--password-file",
                           users / f"{SINK_USER}.password"),
                sensor_args=("--cafile", out / "ca.crt", "-u", SENSOR,
                             "--password-file", users / f"{SENSOR}.password"),
                env=env_without_password())
    broker.kill()
    assert (persist / "mosquitto.db").exists(), broker.describe()
    assert "Unable to open" not in broker.stderr()


# --------------------------------------------------------------------------
# The profiles agree where they say they do

PERSISTENCE_KEYS = ("persistence", "persistence_location", "autosave_on_changes",
                    "autosave_interval", "max_queued_messages",
                    "max_queued_bytes", "max_inflight_messages")


def settings(path):
    out = {}
    for line in path.read_text().splitlines():
        words = line.split()
        if words and not words[0].startswith("#"):
            out.setdefault(words[0], []).append(" ".join(words[1:]))
    return out


def test_secure_profile_persistence_is_the_dev_profiles():
    dev, sec = settings(DEV_PROFILE), settings(SECURE_PROFILE)
    assert "exactly as in mosquitto.dev.conf" in SECURE_PROFILE.read_text()
    for key in PERSISTENCE_KEYS:
        assert dev.get(key) == sec.get(key), \
            f"{key}: dev {dev.get(key)} secure {sec.get(key)}"
    # No profile sets what Debian's mosquitto.conf already does.
    bridge = settings(BRIDGE_PROFILE)
    for key in ("persistence_location", "pid_file"):
        assert key not in dev and key not in sec and key not in bridge, key
