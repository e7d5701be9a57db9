"""bench/broker.py: a throwaway mosquitto on a free loopback port, shared by
the benchmark scripts. Started with a generated config, stopped by PID."""
import os, resource, socket, subprocess, time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile(n):
    """In the child before exec: an open-file limit of at least n (the
    hard limit too when privileged; else as far as the hard limit goes)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= n:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, max(n, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# What throughput.py and profile.py measure against: nothing on disk, no
# queue or in-flight limit in the way of a backlog, QoS 0 queued too, and
# only errors, warnings and subscriptions logged.
FLOOD_CONF = ("persistence false\nmax_queued_messages 1000000\nmax_inflight_messages 0\n"
              "queue_qos0_messages true\n"
              "log_dest stderr\nlog_type error\nlog_type warning\nlog_type subscribe\n")


def start(workdir, extra="", log=None, nofile=None):
    """Start mosquitto on a free 127.0.0.1 port with `extra` config lines;
    its stderr goes to the file `log` (or nowhere); nofile: the open-file
    limit it needs (one per client). Returns (process, port) once the port
    accepts connections (at most 5 s)."""
    port = free_port()
    conf = os.path.join(workdir, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n{extra}")
    err = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(["mosquitto", "-c", conf], stderr=err,
                            preexec_fn=(lambda: raise_nofile(nofile)) if nofile else None)
    if log:
        err.close()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, port


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
