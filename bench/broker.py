"""bench/broker.py: a throwaway mosquitto on a free loopback port, shared by
the benchmark scripts. Started with a generated config, stopped by PID."""
import os, socket, subprocess, time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(workdir, extra="", log=None):
    """Start mosquitto on a free 127.0.0.1 port with `extra` config lines;
    its stderr goes to the file `log` (or nowhere). Returns (process, port)
    once the port accepts connections (at most 5 s)."""
    port = free_port()
    conf = os.path.join(workdir, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n{extra}")
    err = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(["mosquitto", "-c", conf], stderr=err)
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
