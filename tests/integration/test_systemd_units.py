"""The systemd units and `make install`: the units pass
`systemd-analyze verify` and carry the settings the services rely on, and
`make install DESTDIR=...` lays out programs, man pages, units (paths
filled in), configs and docs as docs/services.md documents.
"""

import os
import shutil
import subprocess

import pytest

from conftest import BIN, BUILD, REPO

UNITS = {
    "pitemp-sensor.service": REPO / "sensor" / "pitemp-sensor.service",
    "pitemp-sink.service": REPO / "sink" / "pitemp-sink.service",
}


def read_unit(text):
    """A unit as {section: {key: [values]}} (keys may repeat)."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = out.setdefault(line.strip("[]"), {})
            continue
        key, _, val = line.partition("=")
        section.setdefault(key.strip(), []).append(val.strip())
    return out


def fill(text, bindir, sysconfdir="/etc"):
    return text.replace("@BINDIR@", str(bindir)).replace(
        "@SYSCONFDIR@", sysconfdir)


def test_units_pass_systemd_analyze_verify(tmp_path, bins):
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze not installed (Debian package systemd; "
                    "`make deps` installs it)")
    paths = []
    for name, src in UNITS.items():
        p = tmp_path / name
        # verify checks that ExecStart= is executable: point it at the build.
        p.write_text(fill(src.read_text(), BIN))
        paths.append(str(p))
    r = subprocess.run([exe, "verify", "--man=no", *paths],
                       capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    ours = [l for l in out.splitlines() if "pitemp" in l]
    assert r.returncode == 0 and not ours, out


@pytest.mark.parametrize("name", sorted(UNITS))
def test_units_are_notify_services_with_watchdog_and_hardening(name):
    u = read_unit(UNITS[name].read_text())
    s = u["Service"]
    prog = name.split(".")[0]
    conf = "sensor" if "sensor" in prog else "sink"
    assert s["Type"] == ["notify"]
    assert s["Restart"] == ["on-failure"]
    assert s["RestartSec"] and s["WatchdogSec"] == ["10s"]
    assert s["RestartPreventExitStatus"] == ["2"]
    assert s["ExecStart"] == [
        f"@BINDIR@/{prog} --config @SYSCONFDIR@/pitemp/{conf}.conf"]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp",
                "ProtectKernelTunables", "ProtectControlGroups",
                "DynamicUser"):
        assert s[key] == ["yes"], key
    assert s["ProtectSystem"] == ["strict"]
    assert s["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert u["Install"]["WantedBy"] == ["multi-user.target"]


def test_sensor_unit_may_open_only_adc_and_gpio_devices():
    s = read_unit(UNITS["pitemp-sensor.service"].read_text())["Service"]
    assert s["SupplementaryGroups"] == ["spi i2c gpio"]
    assert s["DevicePolicy"] == ["closed"]
    assert sorted(s["DeviceAllow"]) == [
        "char-gpiochip rw", "char-i2c rw", "char-spi rw"]


def test_sink_unit_writes_only_its_state_directory():
    s = read_unit(UNITS["pitemp-sink.service"].read_text())["Service"]
    assert s["StateDirectory"] == ["pitemp"]
    assert s["WorkingDirectory"] == ["/var/lib/pitemp"]
    assert s["PrivateDevices"] == ["yes"]
    sink_conf = (REPO / "sink" / "sink.conf").read_text()
    assert "output /var/lib/pitemp/readings.txt" in sink_conf


def make_install(destdir, *extra):
    # -o all: install what is built in $PITEMP_BUILD, never rebuild it here.
    return subprocess.run(
        ["make", "-C", str(REPO), "-o", "all", f"B={BUILD}",
         f"DESTDIR={destdir}", "PREFIX=/usr", *extra, "install"],
        capture_output=True, text=True, timeout=120)


def test_make_install_lays_out_programs_units_and_configs(tmp_path, bins):
    dest = tmp_path / "root"
    r = make_install(dest)
    assert r.returncode == 0, r.stdout + r.stderr
    for prog in ("pitemp-sensor", "pitemp-sink"):
        p = dest / "usr" / "bin" / prog
        assert p.is_file() and os.access(p, os.X_OK), p
    units = dest / "lib" / "systemd" / "system"
    sensor_unit = (units / "pitemp-sensor.service").read_text()
    sink_unit = (units / "pitemp-sink.service").read_text()
    assert "ExecStart=/usr/bin/pitemp-sensor --config /etc/pitemp/sensor.conf" \
        in sensor_unit
    assert "ExecStart=/usr/bin/pitemp-sink --config /etc/pitemp/sink.conf" \
        in sink_unit
    assert "@" not in sensor_unit.replace("@system-service", "")
    assert "@" not in sink_unit.replace("@system-service", "")
    etc = dest / "etc" / "pitemp"
    assert (etc / "sensor.conf").read_text() == \
        (REPO / "sensor" / "sensor.conf").read_text()
    assert (etc / "sink.conf").read_text() == \
        (REPO / "sink" / "sink.conf").read_text()
    for conf in (REPO / "broker-config").glob("*.conf"):
        assert (etc / conf.name).read_text() == conf.read_text(), conf.name
    doc = dest / "usr" / "share" / "doc" / "pitemp"
    assert (doc / "README.md").is_file()
    for md in (REPO / "docs").glob("*.md"):
        assert (doc / "docs" / md.name).read_text() == md.read_text(), md.name
    # The man pages, where man(1) finds them for PREFIX=/usr.
    man1 = dest / "usr" / "share" / "man" / "man1"
    for page in ("pitemp-sensor.1", "pitemp-sink.1"):
        p = man1 / page
        assert p.read_text() == (REPO / "man" / page).read_text(), p
        assert oct(p.stat().st_mode & 0o777) == "0o644", p


def test_installed_configs_are_accepted_by_the_programs(tmp_path, bins):
    dest = tmp_path / "root"
    assert make_install(dest).returncode == 0
    for prog, conf in (("sensor", "sensor.conf"), ("sink", "sink.conf")):
        # The file is read before --help is acted on: an unknown or bad
        # option in it is exit 2.
        r = subprocess.run([str(bins[prog]), "--config",
                            str(dest / "etc" / "pitemp" / conf), "--help"],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr


def test_make_install_keeps_an_edited_config(tmp_path, bins):
    dest = tmp_path / "root"
    assert make_install(dest).returncode == 0
    conf = dest / "etc" / "pitemp" / "sensor.conf"
    conf.write_text("host my-server\n")
    r = make_install(dest)
    assert r.returncode == 0, r.stdout + r.stderr
    assert conf.read_text() == "host my-server\n"
    assert (conf.parent / "sensor.conf.new").read_text() == \
        (REPO / "sensor" / "sensor.conf").read_text()
    assert "kept the edited" in r.stdout


def test_make_install_ships_a_logrotate_config_the_unit_can_act_on(tmp_path, bins):
    """/etc/logrotate.d/pitemp-sink is installed, logrotate accepts it,
    and its postrotate (systemctl reload) is a SIGHUP to the sink."""
    dest = tmp_path / "root"
    r = make_install(dest)
    assert r.returncode == 0, r.stdout + r.stderr
    conf = dest / "etc" / "logrotate.d" / "pitemp-sink"
    assert conf.read_text() == (REPO / "sink" / "pitemp-sink.logrotate").read_text()
    assert oct(conf.stat().st_mode & 0o777) == "0o644"
    text = conf.read_text()
    for word in ("create", "delaycompress", "postrotate",
                 "systemctl reload pitemp-sink.service"):
        assert word in text, word
    unit = read_unit((dest / "lib" / "systemd" / "system" /
                      "pitemp-sink.service").read_text())
    assert unit["Service"]["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    exe = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not os.access(exe, os.X_OK):
        pytest.fail("logrotate not installed (make deps installs it)")
    d = subprocess.run([exe, "-d", "-s", str(tmp_path / "state"), str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert d.returncode == 0 and "error" not in d.stderr.lower(), d.stderr
    # An edited config is kept; the new one goes where logrotate skips it.
    conf.write_text(text.replace("rotate 8", "rotate 52"))
    r = make_install(dest)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rotate 52" in conf.read_text()
    assert (conf.parent / "pitemp-sink.dpkg-dist").read_text() == text
