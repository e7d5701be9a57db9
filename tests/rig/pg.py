"""A throwaway PostgreSQL server for the storage tests and the storage
benchmark: initdb into a directory of the caller's (under build/), the
server on a free 127.0.0.1 port, stopped by its PID.

PostgreSQL refuses to run as root, so as root every server command runs
as the unprivileged user `postgres` (made by Debian's postgresql-common;
`nobody` when it is missing) and the directory is handed to that user.
The server is the postmaster itself (not pg_ctl), so its PID is ours:
SIGINT is PostgreSQL's "fast" shutdown (roll back open transactions,
checkpoint, exit), SIGQUIT its "immediate" one (no checkpoint: crash
recovery at the next start). The cluster has one superuser `pitemp`,
trust authentication, TCP on 127.0.0.1 only (no Unix socket in /run).

    pg = PgServer(workdir); pg.init(); pg.start()
    pg.create_db("t"); pg.uri("t") -> "postgresql://pitemp@127.0.0.1:PORT/t"
    pg.query("t", "select count(*) from readings") -> "2000"
    pg.stop()          # fast shutdown; pg.stop(signal.SIGQUIT): immediate
"""

import glob
import os
import pwd
import signal
import socket
import subprocess
import time

CMD_TIMEOUT = 60
SUPERUSER = "pitemp"


def pg_bindir():
    """The newest /usr/lib/postgresql/<version>/bin with a postgres in it,
    or None (the postgresql package is missing: `make deps` installs it)."""
    dirs = [d for d in glob.glob("/usr/lib/postgresql/*/bin")
            if os.access(os.path.join(d, "postgres"), os.X_OK)]
    dirs.sort(key=lambda d: [int(x) for x in d.split("/")[-2].split(".")
                             if x.isdigit()])
    return dirs[-1] if dirs else None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, base, port=None, settings=()):
        self.bindir = pg_bindir()
        if self.bindir is None:
            raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql "
                               "(make deps installs the postgresql package)")
        self.dir = os.path.join(str(base), "pg")
        self.data = os.path.join(self.dir, "data")
        self.port = port or _free_port()
        self.settings = list(settings)
        self.proc = None
        self.runs = 0
        self.user = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.user = pwd.getpwnam(name)
                    break
                except KeyError:
                    pass

    def _as_server_user(self):
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid,
                "extra_groups": []}

    def log_path(self, run=None):
        return os.path.join(self.dir, f"postgres.{run or self.runs}.log")

    def init(self):
        """initdb (no fsync of the new cluster: it is thrown away)."""
        os.makedirs(self.dir, exist_ok=True)
        if self.user is not None:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        r = subprocess.run(
            [os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", SUPERUSER,
             "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=CMD_TIMEOUT, cwd=self.dir, **self._as_server_user())
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return self

    def start(self, timeout=30):
        """Start the postmaster; return once it answers queries."""
        assert self.proc is None or self.proc.poll() is not None
        self.runs += 1
        argv = [os.path.join(self.bindir, "postgres"), "-D", self.data,
                "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
                "-c", f"unix_socket_directories={self.dir}",
                "-c", "max_connections=30"]
        for s in self.settings:
            argv += ["-c", s]
        log = open(self.log_path(), "w")
        if self.user is not None:
            os.chown(self.log_path(), self.user.pw_uid, self.user.pw_gid)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=self.dir,
                                     start_new_session=True,
                                     **self._as_server_user())
        log.close()
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.05) + 1):
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited ({self.proc.returncode}):\n"
                                   + self.log_tail())
            r = subprocess.run([os.path.join(self.bindir, "pg_isready"), "-q",
                                "-h", "127.0.0.1", "-p", str(self.port)],
                               stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=CMD_TIMEOUT)
            if r.returncode == 0:
                return self
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        self.stop(signal.SIGQUIT)
        raise RuntimeError(f"postgres not ready within {timeout} s:\n" + self.log_tail())

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGINT, timeout=30):
        """Shut down by PID (SIGINT: fast, SIGQUIT: immediate); SIGKILL
        to the postmaster's process group as the last resort."""
        if not self.running():
            return
        os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout)

    def psql(self, db, sql, check=True):
        r = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-At",
                            "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                            "-p", str(self.port), "-U", SUPERUSER, "-d", db,
                            "-c", sql],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=CMD_TIMEOUT)
        if check and r.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {r.stderr.strip()}")
        return r.stdout.strip()

    def create_db(self, name):
        self.psql("postgres", f'CREATE DATABASE "{name}"')
        return self.uri(name)

    def uri(self, db):
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{db}"

    def log_tail(self, nbytes=4000):
        out = []
        for run in range(1, self.runs + 1):
            try:
                with open(self.log_path(run), errors="replace") as f:
                    out.append(f"--- {self.log_path(run)}:\n" + f.read()[-nbytes:])
            except OSError:
                pass
        return "\n".join(out)
