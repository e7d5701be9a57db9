#!/bin/sh
# demo.sh: `make demo` -- a local broker (generated from the dev profile),
# pitemp-sink and pitemp-sensor at 100 Hz; leaves readings.txt with 100
# readings at the top of the repository.
#
#   sh tests/rig/demo.sh [BUILD_DIR]      (default: build)
#
# The broker listens on 127.0.0.1 only (the dev profile is anonymous and
# plaintext), on 1883 when free, else on a free port. Everything the demo
# starts is stopped by PID on exit; every wait is bounded. Exit status is
# non-zero when any step fails.

set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
B=${1:-build}
case $B in /*) ;; *) B=$top/$B ;; esac
demo=$B/demo
sensor_bin=$B/bin/pitemp-sensor
sink_bin=$B/bin/pitemp-sink
out=readings.txt

broker_pid='' sink_pid='' sensor_pid=''

say() { printf 'demo: %s\n' "$*"; }
die() {
	printf 'demo: error: %s\n' "$*" >&2
	for f in "$demo/mosquitto.log" "$demo/sink.log" "$demo/sensor.log"; do
		[ -s "$f" ] || continue
		printf '%s\n' "--- tail of $f" >&2
		tail -n 15 "$f" >&2
	done
	exit 1
}

# Stop a process we started: SIGTERM, then SIGKILL after ~5 s.
stop_pid() {
	[ -n "$1" ] || return 0
	kill -0 "$1" 2>/dev/null || return 0
	kill -TERM "$1" 2>/dev/null || true
	i=0
	while kill -0 "$1" 2>/dev/null && [ "$i" -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	if kill -0 "$1" 2>/dev/null; then kill -KILL "$1" 2>/dev/null || true; fi
	wait "$1" 2>/dev/null || true
}

cleanup() {
	rc=$?
	trap - EXIT INT TERM
	stop_pid "$sensor_pid"
	stop_pid "$sink_pid"
	stop_pid "$broker_pid"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_line FILE REGEX SECONDS PID: until FILE has a line matching REGEX;
# fails early when PID has exited.
wait_line() {
	n=$(($3 * 10)) i=0
	while [ "$i" -lt "$n" ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		kill -0 "$4" 2>/dev/null || { grep -q -- "$2" "$1" 2>/dev/null; return; }
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

# wait_exit PID SECONDS: wait for PID to exit (bounded) and set st to its
# status; fails if it is still running. Not in $(...): a subshell cannot
# wait for our children.
wait_exit() {
	n=$(($2 * 10)) i=0
	while kill -0 "$1" 2>/dev/null && [ "$i" -lt "$n" ]; do
		sleep 0.1; i=$((i + 1))
	done
	kill -0 "$1" 2>/dev/null && return 1
	st=0; wait "$1" || st=$?
	return 0
}

# A free port on 127.0.0.1: 1883 if nothing holds it, else one the kernel
# picks.
pick_port() {
	python3 - <<'EOF'
import socket
for port in (1883, 0):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    else:
        print(s.getsockname()[1])
        break
    finally:
        s.close()
EOF
}

for b in "$sensor_bin" "$sink_bin"; do
	[ -x "$b" ] || die "$b not built (run make)"
done
command -v mosquitto >/dev/null || die "mosquitto not installed (make deps)"

rm -rf "$demo"
mkdir -p "$demo/persist"
port=$(pick_port) || die "no free port"
[ -n "$port" ] || die "no free port"
if [ "$port" = 1883 ]; then
	say "broker on 127.0.0.1:1883"
else
	say "port 1883 is busy; broker on 127.0.0.1:$port instead"
fi

# The dev profile with its listener bound to loopback and its persistence
# under $demo. Started as root, mosquitto drops privileges to the user
# mosquitto, so that user gets the persistence directory (as in the tests).
sed -e "s|^listener .*|listener $port 127.0.0.1|" \
    -e '/^persistence_location /d' -e '/^log_/d' \
    broker-config/mosquitto.dev.conf >"$demo/mosquitto.conf"
printf '%s\n' '' '# added by tests/rig/demo.sh' \
	"persistence_location $demo/persist/" 'log_dest stderr' \
	'log_type error' 'log_type warning' 'log_type notice' \
	'log_type information' >>"$demo/mosquitto.conf"
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
	chown mosquitto "$demo/persist"
fi

mosquitto -c "$demo/mosquitto.conf" 2>"$demo/mosquitto.log" &
broker_pid=$!
wait_line "$demo/mosquitto.log" 'mosquitto version .* running' 10 "$broker_pid" ||
	die "mosquitto did not start (log: $demo/mosquitto.log)"

rm -f "$out"
"$sink_bin" --host 127.0.0.1 --port "$port" --count 100 --output "$out" \
	--timeout 30 2>"$demo/sink.log" &
sink_pid=$!
wait_line "$demo/sink.log" 'subscribed' 10 "$sink_pid" ||
	die "pitemp-sink did not subscribe (log: $demo/sink.log)"
say "sink subscribed; starting the sensor at 100 Hz for 100 readings"

"$sensor_bin" --host 127.0.0.1 --port "$port" --rate 100 --count 100 \
	--source sim --device pitemp-demo 2>"$demo/sensor.log" &
sensor_pid=$!
wait_exit "$sensor_pid" 30 || die "pitemp-sensor still running after 30 s"
sensor_pid=
[ "$st" = 0 ] || die "pitemp-sensor exited with status $st"

wait_exit "$sink_pid" 35 || die "pitemp-sink still running after 35 s"
sink_pid=
[ "$st" = 0 ] || die "pitemp-sink exited with status $st"

stop_pid "$broker_pid"
broker_pid=

[ -f "$out" ] || die "$out was not written"
n=$(($(wc -l <"$out") - 1))
[ "$n" = 100 ] || die "$out has $n readings, expected 100"

say "sink: $(grep 'stored=' "$demo/sink.log" | tail -n 1)"
say "$n readings in $top/$out; logs in $demo/"
head -n 6 "$out"
