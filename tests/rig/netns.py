"""A two-host network rig in Linux network namespaces, for the fault tests
(tests/integration/test_faults.py): a "sensor host" and a "server host"
joined by a veth pair, addressed from a private /30 that exists only
inside the two namespaces. Nothing is configured in the caller's own
namespace, so the tests cannot touch the machine's real network.

    sensor host (ns pt-sen-XXXX)            server host (ns pt-srv-XXXX)
    veth vs-XXXX 10.231.Y.1/30  <------->  veth vv-XXXX 10.231.Y.2/30
                                           mosquitto, pitemp-sink

Faults: link_down()/link_up() (`ip link set down` on the sensor's end:
the route goes away and TCP sees silence, as with a pulled cable) and
drop(p) (`iptables -m statistic --mode random --probability p -j DROP` on
the server's INPUT and OUTPUT; this kernel has no tc netem).

Root only: NetnsRig.available() says why not otherwise. Every command is
bounded by a timeout; teardown deletes both namespaces (which removes the
veth pair and the iptables rules with them). Processes started inside a
namespace are the test's own (`ip netns exec NS prog` execs prog, so the
PID is the program's) and are stopped by PID by the caller's fixtures.
"""

import os
import secrets
import shutil
import subprocess

CMD_TIMEOUT = 10


def _run(*argv, check=True):
    return subprocess.run([str(a) for a in argv], check=check,
                          capture_output=True, text=True, timeout=CMD_TIMEOUT)


class NetnsRig:
    def __init__(self):
        tag = secrets.token_hex(3)
        self.sen = f"pt-sen-{tag}"
        self.srv = f"pt-srv-{tag}"
        self.if_sen = f"vs-{tag}"
        self.if_srv = f"vv-{tag}"
        # A /30 in 10.231.0.0/16, random per rig: two parallel runs do not
        # collide, and the namespaces are private anyway.
        y = secrets.randbelow(256)
        z = secrets.randbelow(64) * 4
        self.sen_ip = f"10.231.{y}.{z + 1}"
        self.srv_ip = f"10.231.{y}.{z + 2}"
        self.made = []

    @staticmethod
    def available():
        """None when the rig can run here, else the reason it cannot."""
        if os.geteuid() != 0:
            return "network namespaces need root (run the tests as root)"
        for tool in ("ip", "iptables"):
            if shutil.which(tool) is None:
                return f"{tool} not installed"
        return None

    def setup(self):
        try:
            for ns in (self.sen, self.srv):
                _run("ip", "netns", "add", ns)
                self.made.append(ns)
                _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "-n", self.sen, "link", "add", self.if_sen, "type",
                 "veth", "peer", "name", self.if_srv, "netns", self.srv)
            _run("ip", "-n", self.sen, "addr", "add", f"{self.sen_ip}/30",
                 "dev", self.if_sen)
            _run("ip", "-n", self.srv, "addr", "add", f"{self.srv_ip}/30",
                 "dev", self.if_srv)
            _run("ip", "-n", self.sen, "link", "set", self.if_sen, "up")
            _run("ip", "-n", self.srv, "link", "set", self.if_srv, "up")
        except Exception:
            self.teardown()
            raise
        return self

    def teardown(self):
        for ns in reversed(self.made):
            _run("ip", "netns", "delete", ns, check=False)
        self.made = []

    def wrap(self, ns, argv):
        """argv run inside namespace ns."""
        return ["ip", "netns", "exec", ns, *[str(a) for a in argv]]

    def link_down(self):
        _run("ip", "-n", self.sen, "link", "set", self.if_sen, "down")

    def link_up(self):
        _run("ip", "-n", self.sen, "link", "set", self.if_sen, "up")

    def drop(self, probability):
        """Drop packets at random on the server host, both directions."""
        for chain, flag in (("INPUT", "-i"), ("OUTPUT", "-o")):
            _run("ip", "netns", "exec", self.srv, "iptables", "-A", chain,
                 flag, self.if_srv, "-m", "statistic", "--mode", "random",
                 "--probability", str(probability), "-j", "DROP")

    def dropped_packets(self):
        """Packets dropped so far by drop()'s rules."""
        r = _run("ip", "netns", "exec", self.srv, "iptables", "-nvxL")
        total = 0
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) > 2 and f[2] == "DROP" and "statistic" in line:
                total += int(f[0])
        return total
