#!/bin/sh
# test.sh: `make docker-test` -- run the docker-compose test rig for real and
# check what it produced.
#
#   sh docker/test.sh
#
#  1. installs docker.io, docker-compose and debootstrap when missing
#     (apt-get; sudo when not root);
#  2. uses the running docker engine, or starts dockerd in the background and
#     stops it again (by PID) at the end;
#  3. validates docker/compose.yaml (`docker-compose config -q`);
#  4. builds the base image debian:bookworm-slim locally with debootstrap
#     when the engine does not have it (no image registry needed; only the
#     Debian mirror apt already uses), and reuses it afterwards;
#  5. builds the images, brings the rig up as project "pitemp-test", waits
#     (bounded) for the sink and the spot checker to exit 0;
#  6. copies the sink's file to build/docker-test/readings.txt and the spot
#     checker's output to build/docker-test/spotcheck.txt and checks them;
#  7. always tears the rig down (containers, network, volume); the built
#     images stay cached for the next run.
#
# Exit status: 0 passed, 1 failed (with the reason and the container logs),
# 77 skipped: no container engine can run here (not root and no
# password-less sudo, or dockerd cannot start, e.g. missing kernel
# features). A skip prints "docker-test: SKIPPED: <reason>" and leaves the
# reason in build/docker-test/SKIPPED; it is never reported as a pass.
#
# Environment:
#   DOCKER_TEST_TIMEOUT      seconds to wait for the sink to exit (180)
#   DOCKER_BUILD_NETWORK     network for image builds' RUN steps (default:
#                            the engine's default bridge); set to "host"
#                            where the bridge cannot reach the Debian mirror
#   PITEMP_DEBIAN_MIRROR     mirror for the base image and its apt sources
#                            (http://deb.debian.org/debian)
#   PITEMP_DEBIAN_SECURITY   security mirror (http://deb.debian.org/debian-security)

# $DC, $DK, $SUDO and $missing are word lists, split on purpose (SC2086);
# the sh -c script is single-quoted on purpose (SC2016); "A && B || die"
# dies when either fails, as meant (SC2015).
# shellcheck disable=SC2086,SC2016,SC2015

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

out=build/docker-test
project=pitemp-test
compose_file=docker/compose.yaml
base_image=debian:bookworm-slim
suite=bookworm
mirror=${PITEMP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${PITEMP_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
sink_wait=${DOCKER_TEST_TIMEOUT:-180}
build_network=${DOCKER_BUILD_NETWORK:-}
device=docker-sensor-1
want_readings=100
want_spot=20            # the spot checker's -C in compose.yaml
SKIP=77

# debootstrap and dockerd live in sbin, which a user's PATH may lack.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
export PATH
# Build through the engine API (docker-compose's own builder), whatever the
# caller's environment says: the CLI/BuildKit path needs buildx, which
# Debian's docker.io does not ship.
COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0
export COMPOSE_DOCKER_CLI_BUILD DOCKER_BUILDKIT

SUDO=''                 # prefix for root-only commands; "-" when impossible
DK=''                   # prefix for docker commands (sudo when needed)
dockerd_pid=''          # set when this script started dockerd
rig_up=0                # set once `up` may have created anything
t0=$(date +%s)

say() { printf 'docker-test: %s\n' "$*"; }
elapsed() { echo $(($(date +%s) - t0)); }

skip() {
	say "SKIPPED: $*"
	mkdir -p "$out"
	printf '%s\n' "$*" >"$out/SKIPPED"
	exit "$SKIP"
}

die() {
	printf 'docker-test: FAILED: %s\n' "$*" >&2
	if [ "$rig_up" = 1 ]; then
		printf '%s\n' '--- container logs (last 40 lines each)' >&2
		timeout 60 $DC logs --no-color --tail 40 >&2 2>&1 || true
		timeout 60 $DC ps >&2 2>&1 || true
	fi
	exit 1
}

# docker and docker-compose, as root or through sudo as needed. Plain
# words rather than functions, so `timeout` can bound them; set_dc fills
# DC once DK is known. All paths in them are relative and space-free.
DC=false
set_dc() {
	DC="$DK env COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0 docker-compose"
	DC="$DC -p $project -f $compose_file $build_override"
}
build_override=''

# After a bounded command failed with status $1: 124 is its time limit ($2),
# 130/143 an interrupt (leave quietly through the teardown), anything else
# its own failure ($3).
bounded_fail() {
	case $1 in
	124) die "$2" ;;
	130 | 143) exit "$1" ;;
	*) die "$3 (status $1)" ;;
	esac
}

# Stop the dockerd we started: SIGTERM (it stops its containerd), then wait
# up to 30 s for it to exit, SIGKILL as a last resort.
stop_dockerd() {
	[ -n "$dockerd_pid" ] || return 0
	say "stopping the dockerd we started (pid $dockerd_pid)"
	$SUDO kill -TERM "$dockerd_pid" 2>/dev/null || true
	i=0
	while kill -0 "$dockerd_pid" 2>/dev/null && [ "$i" -lt 300 ]; do
		sleep 0.1; i=$((i + 1))
	done
	if kill -0 "$dockerd_pid" 2>/dev/null; then
		say "dockerd did not stop in 30 s; killing it"
		$SUDO kill -KILL "$dockerd_pid" 2>/dev/null || true
	fi
	wait "$dockerd_pid" 2>/dev/null || true
	dockerd_pid=''
}

# Waits that a ^C should cut short run as `timeout --foreground`, which
# stays in the terminal's process group; the teardown's own commands use
# plain `timeout` (a process group of their own) and ignore ^C, so a
# second ^C cannot leave the rig half removed.
teardown() {
	rc=$?
	trap '' INT TERM
	trap - EXIT
	if [ "$rig_up" = 1 ]; then
		timeout 60 $DC logs --no-color >"$out/compose.log" 2>&1 || true
		timeout 90 $DC down -v --remove-orphans -t 10 >"$out/down.log" 2>&1 ||
		    say "warning: teardown failed, see $out/down.log"
	fi
	stop_dockerd
	case $rc in
	0 | "$SKIP") ;;
	130 | 143) say "interrupted after $(elapsed) s; rig torn down" ;;
	*) say "failed after $(elapsed) s (status $rc); logs in $out/" ;;
	esac
	exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$out"
rm -f "$out/SKIPPED" "$out/readings.txt" "$out/spotcheck.txt" \
      "$out/compose.log" "$out/build.log" "$out/down.log"

# --- 1. privileges and tools -----------------------------------------------

if [ "$(id -u)" = 0 ]; then
	SUDO=''
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	SUDO=sudo
else
	SUDO=-
fi

missing=''
command -v docker >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1 ||
	missing="$missing docker.io"
command -v docker-compose >/dev/null 2>&1 || missing="$missing docker-compose"
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
if [ -n "$missing" ]; then
	[ "$SUDO" != - ] ||
		skip "missing$missing and cannot install (not root, no password-less sudo)"
	say "installing$missing"
	{ $SUDO apt-get update -qq &&
	  $SUDO env DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -q $missing; } >"$out/apt.log" 2>&1 ||
		{ tail -n 20 "$out/apt.log" >&2; die "apt-get install$missing failed"; }
fi

# --- 2. the engine ---------------------------------------------------------

engine_ok() { timeout --foreground 20 $DK docker info >/dev/null 2>&1; }

if engine_ok; then
	:
elif [ "$SUDO" = sudo ] && DK=sudo && engine_ok; then
	:
else
	[ "$SUDO" != - ] ||
		skip "no docker engine reachable and cannot start dockerd (not root, no password-less sudo)"
	DK=$SUDO
	say "no docker engine running; starting dockerd (log: $out/dockerd.log)"
	# Its own session, so a ^C to make reaches this script (which tears the
	# rig down through the engine) and not the engine itself.
	$SUDO setsid dockerd >"$out/dockerd.log" 2>&1 &
	dockerd_pid=$!
	deadline=$(($(date +%s) + 60))
	until engine_ok; do
		if ! kill -0 "$dockerd_pid" 2>/dev/null; then
			wait "$dockerd_pid" 2>/dev/null || true
			dockerd_pid=''
			tail -n 15 "$out/dockerd.log" >&2
			skip "dockerd exited at start-up: $(grep -E 'level=(fatal|error)' \
			    "$out/dockerd.log" | tail -n 1 | sed 's/.*msg="\([^"]*\)".*/\1/')"
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			tail -n 15 "$out/dockerd.log" >&2
			stop_dockerd
			skip "dockerd did not become ready within 60 s"
		fi
		sleep 1
	done
	say "dockerd ready (pid $dockerd_pid)"
fi

# --- 3. the compose file ---------------------------------------------------

set_dc
timeout --foreground 60 $DC config -q || die "$compose_file does not validate (docker-compose config -q)"

if [ -n "$build_network" ]; then
	# Compose file 2.4 knows build.network; an override keeps compose.yaml
	# itself free of a machine-specific choice.
	build_override="-f $out/compose.build-network.yaml"
	{
		echo 'version: "2.4"'
		echo 'services:'
		for s in broker sink sensor spotcheck; do
			printf '  %s:\n    build:\n      network: %s\n' "$s" "$build_network"
		done
	} >"$out/compose.build-network.yaml"
	set_dc
fi

# --- 4. the base image -----------------------------------------------------

build_base_image() {
	root=$out/rootfs
	say "no $base_image image: building it with debootstrap from $mirror"
	$SUDO rm -rf --one-file-system "$root"
	timeout 600 $SUDO debootstrap --variant=minbase "$suite" "$root" "$mirror" \
	    >"$out/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$out/debootstrap.log" >&2; die "debootstrap failed"; }
	# Make it look like the registry's bookworm-slim: apt sources in deb822
	# form with updates and security, no docs/man pages/locales installed
	# by later apt-get calls, no package cache, no host files.
	$SUDO sh -eu -c '
		root=$1 mirror=$2 security=$3 suite=$4
		rm -f "$root/etc/apt/sources.list"
		cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
		cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<EOF
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
		cat >"$root/etc/apt/apt.conf.d/docker-clean" <<EOF
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
		echo "Acquire::Languages \"none\";" \
		    >"$root/etc/apt/apt.conf.d/docker-no-languages"
		echo "APT::AutoRemove::SuggestsImportant \"false\";" \
		    >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
		rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
		    "$root"/usr/share/doc/*/changelog* "$root"/usr/share/man/* \
		    "$root"/usr/share/info/* "$root"/usr/share/locale/* \
		    "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/*
		: >"$root/etc/resolv.conf"
		echo localhost >"$root/etc/hostname"
	' sh "$root" "$mirror" "$security" "$suite" ||
		die "could not tidy the debootstrap tree"
	$SUDO tar -C "$root" --numeric-owner -c . |
	    timeout 300 $DK docker import -c 'CMD ["bash"]' \
	    -m "debootstrap --variant=minbase $suite $mirror" - "$base_image" \
	    >/dev/null || die "docker import of $base_image failed"
	$SUDO rm -rf --one-file-system "$root"
	say "built $base_image after $(elapsed) s"
}

if timeout --foreground 30 $DK docker image inspect "$base_image" >/dev/null 2>&1; then
	say "reusing the local $base_image image"
else
	build_base_image
fi

# --- 5. the rig ------------------------------------------------------------

# Leftovers of an interrupted run would make `up` reuse old containers.
rig_up=1
timeout --foreground 90 $DC down -v --remove-orphans -t 5 >/dev/null 2>&1 || true

say "building the images (log: $out/build.log)"
# --force-rm: a failed step leaves no stopped build container behind.
timeout --foreground 480 $DC build --force-rm >"$out/build.log" 2>&1 </dev/null || {
	rc=$?
	case $rc in 130 | 143) exit "$rc" ;; esac
	tail -n 25 "$out/build.log" >&2
	rig_up=0
	hint=''
	if [ -z "$build_network" ] && grep -Eq \
	    'Temporary failure resolving|Could not connect|Unable to connect|Failed to fetch' \
	    "$out/build.log"; then
		hint="; apt-get in the build could not reach the Debian mirror from the"
		hint="$hint default bridge network: retry with DOCKER_BUILD_NETWORK=host"
	fi
	[ "$rc" -ne 124 ] || die "image build took over 480 s"
	die "image build failed (status $rc)$hint"
}
say "images built after $(elapsed) s"

# `up` returns once the broker is healthy and the clients are started; the
# broker healthcheck gives up after ~60 s, so this wait is bounded too.
timeout --foreground 180 $DC up -d --no-build >"$out/up.log" 2>&1 </dev/null ||
	{ cat "$out/up.log" >&2; die "docker-compose up failed"; }

# (No die inside $(...): it would only leave the subshell.)
sink_id=$(timeout --foreground 30 $DC ps -q sink) && [ -n "$sink_id" ] ||
	die "no container for service sink"
spot_id=$(timeout --foreground 30 $DC ps -q spotcheck) && [ -n "$spot_id" ] ||
	die "no container for service spotcheck"

say "rig up; waiting up to $sink_wait s for the sink to store $want_readings readings"
code=$(timeout --foreground "$sink_wait" $DK docker wait "$sink_id") ||
	bounded_fail $? "the sink was still running after $sink_wait s" \
	    "docker wait for the sink failed"
case $code in
	0) ;;
	3) die "the sink timed out (exit 3): fewer than $want_readings readings within its --timeout" ;;
	*) die "the sink exited with status $code" ;;
esac
code=$(timeout --foreground 90 $DK docker wait "$spot_id") ||
	bounded_fail $? "the spot checker was still running after 90 s" \
	    "docker wait for the spot checker failed"
[ "$code" = 0 ] || die "the spot checker (mosquitto_sub) exited with status $code"

timeout --foreground 60 $DK docker cp "$sink_id:/data/readings.txt" "$out/readings.txt" ||
	die "could not copy /data/readings.txt out of the sink container"
# Through sudo the copy belongs to root; give it back to the caller.
[ -z "$DK" ] || $DK chown "$(id -u):$(id -g)" "$out/readings.txt"
timeout --foreground 60 $DK docker logs "$spot_id" >"$out/spotcheck.txt" 2>"$out/spotcheck.err" ||
	die "could not read the spot checker's output"

# --- 6. the checks ---------------------------------------------------------

r=$out/readings.txt
[ "$(head -n 1 "$r")" = "# seq ts device temp_c" ] ||
	die "$r: bad header: $(head -n 1 "$r")"
n=$(($(wc -l <"$r") - 1))
[ "$n" -eq "$want_readings" ] ||
	die "$r: $n readings, want $want_readings"
# Every line: seq, RFC 3339 UTC time with microseconds, our device, a
# temperature with 2 decimals (mawk has no {n} intervals: spelt out).
d='[0-9]'
line_re="^(0|[1-9]$d*) $d$d$d$d-$d$d-$d${d}T$d$d:$d$d:$d$d\\.$d$d$d$d$d${d}Z $device -?$d+\\.$d$d\$"
bad=$(tail -n +2 "$r" | grep -Evn "$line_re" | head -n 3) || true
[ -z "$bad" ] || die "$r: malformed reading line(s): $bad"
awk -v dev="$device" '
	NR == 1 { next }
	NR > 2 && $1 != prev + 1 { printf "line %d: seq %s after %s\n", NR, $1, prev; bad = 1 }
	$4 < -40 || $4 > 125     { printf "line %d: temp_c %s out of range\n", NR, $4; bad = 1 }
	{ prev = $1 }
	END { exit bad }
' "$r" >"$out/check.log" || die "$r: $(head -n 3 "$out/check.log")"

s=$out/spotcheck.txt
m=$(wc -l <"$s")
[ "$m" -eq "$want_spot" ] || die "$s: $m messages, want $want_spot"
# Readings, the status, and the sensor's summary (every second by default).
bad=$(grep -Evn "^pitemp/$device/((temperature|summary) \\{.*\"device\":\"$device\".*\\}|status (online|offline))\$" "$s" |
    head -n 3) || true
[ -z "$bad" ] || die "$s: unexpected message(s): $bad"
grep -q "^pitemp/$device/temperature " "$s" ||
	die "$s: no temperature reading among the $want_spot messages"

first=$(sed -n 2p "$r" | cut -d' ' -f1)
last=$(tail -n 1 "$r" | cut -d' ' -f1)
say "passed in $(elapsed) s: $want_readings readings from $device (seq $first..$last)" \
    "in $r, $m messages in $s"
