"""bench/benchlib.py: what the benchmark scripts share besides the broker
(broker.py): processes timed and reaped by the script itself, bounded waits,
and payloads shaped like the sim source's readings."""
import ctypes, os, random, secrets, signal, subprocess, time
from datetime import datetime, timedelta, timezone

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
bindir = os.path.join(os.environ.get("PITEMP_BUILD", os.path.join(top, "build")), "bin")

# ru_maxrss of a process Python forks and execs includes Python's own RSS
# (the kernel records the pre-exec mm's peak on exec). So each program is
# started by /bin/sh in the background: it execs from sh's small mm, sh exits,
# and the program is re-parented to us (a child subreaper), so os.wait4 gives
# its own CPU time and peak RSS.
_libc = ctypes.CDLL(None, use_errno=True)
LAUNCH = 'pidfile=$1 in=$2; shift 2; "$@" < "$in" & echo $! > "$pidfile"'
workdir = None


def setup(d):
    """Make this process a child subreaper; d holds pid files."""
    global workdir
    workdir = d
    if _libc.prctl(36, 1, 0, 0, 0) != 0:        # PR_SET_CHILD_SUBREAPER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


class Proc:
    """A child we time ourselves and reap with os.wait4 for its rusage."""
    seq = 0

    def __init__(self, argv, t0=None, stdin=os.devnull, stdout=os.devnull, stderr=os.devnull):
        """Start argv with stdin, stdout, stderr from/to those paths; t0: when its clock starts."""
        Proc.seq += 1
        pidfile = os.path.join(workdir, f"pid-{Proc.seq}")
        self.t0 = time.monotonic() if t0 is None else t0
        with open(stdout, "w") as out, open(stderr, "w") as err:
            subprocess.run(["/bin/sh", "-c", LAUNCH, "sh", pidfile, stdin] + argv, check=True,
                           stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=10)
        with open(pidfile) as f:
            self.pid = int(f.read())
        self.rc = self.wall = self.cpu = self.rss_kb = None

    def poll(self):
        if self.rc is None:
            try:
                pid, status, ru = os.wait4(self.pid, os.WNOHANG)
            except ChildProcessError:
                # It died before sh exited and sh reaped it (exec failure,
                # bad option): no figures, and a failed run.
                self.rc = 255
                return self.rc
            if pid:
                self.wall = time.monotonic() - self.t0
                self.rc = os.waitstatus_to_exitcode(status)
                self.cpu = ru.ru_utime + ru.ru_stime
                self.rss_kb = ru.ru_maxrss
        return self.rc

    def stop(self, sig=signal.SIGKILL, timeout=10):
        """Send sig by PID if still running (SIGKILL after timeout s); reap."""
        if self.poll() is not None:
            return
        os.kill(self.pid, sig)
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline and sig != signal.SIGKILL:
                os.kill(self.pid, signal.SIGKILL)
                sig = signal.SIGKILL
            time.sleep(0.001)


def wait_all(procs, timeout):
    """Wait for every proc until the deadline or until one fails; kill (by PID) what is left."""
    deadline = time.monotonic() + timeout
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        if any(p.rc not in (None, 0) for p in procs):
            break
        time.sleep(0.0005)
    timed_out = any(p.rc is None for p in procs) and time.monotonic() >= deadline
    for p in procs:
        p.stop()
    return not timed_out


def wait_subscribed(log, cid, proc, timeout=10):
    """Readiness: the broker logged the client's SUBSCRIBE (log_type subscribe)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log) as f:
            if any(f" {cid} " in l and "pitemp/" in l for l in f):
                return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    return False


def lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def payloads(path, n, device="bench"):
    """n valid readings shaped like the sim source's (same fields, same size),
    one per line, with a fresh boot id (so no two calls repeat a reading)."""
    boot = secrets.token_hex(8)
    t = datetime.now(timezone.utc)
    raw = 222
    with open(path, "w") as f:
        for seq in range(n):
            raw = min(226, max(218, raw + random.choice((-1, 0, 0, 1))))
            mv = round(raw * 3300 / 1024, 1)
            ts = (t + timedelta(microseconds=80 * seq)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            f.write(f'{{"device":"{device}","boot":"{boot}","seq":{seq},"ts":"{ts}",'
                    f'"temp_c":{round((mv - 500) / 10, 2)},"mv":{mv},"raw":{raw}}}\n')


def paho_build():
    """Which paho.mqtt.c the programs use, for the report header."""
    try:
        out = subprocess.run(["ldd", os.path.join(bindir, "pitemp-sink")], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    for l in out.splitlines():
        if "paho" in l:
            return "shared " + l.split("=>")[-1].split("(")[0].strip()
    return "static (linked in)"


def cpu_model():
    try:
        cpu = open("/proc/cpuinfo").read()
    except OSError:
        return "?"
    return next((l.split(":", 1)[1].strip() for l in cpu.splitlines()
                 if l.startswith("model name")), "?")
