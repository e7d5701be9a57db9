#!/bin/sh
# pitemp-secure-setup.sh: make what the secure broker profile needs -- a CA,
# a server certificate for the given names and addresses, optional client
# certificates, per-user passwords, the mosquitto password file and ACL, and
# a mosquitto.conf with paths and listen address filled in -- into one
# directory (default build/secure, which git ignores). See docs/security.md.
#
#   sh broker-config/pitemp-secure-setup.sh -s server-pi -s 192.168.1.10 \
#       -S pi-sensor-1 -S pi-sensor-2 -K pitemp-sink [-o DIR]
#
#   -s SAN      a name or address of the broker in its certificate (repeat;
#               at least one). An IPv4/IPv6 address becomes IP:..., anything
#               else DNS:...; an explicit DNS:x or IP:x is kept as given.
#               Clients must connect with one of these as --host.
#   -S NAME     a sensor user (its device name): may publish pitemp/NAME/...
#   -K NAME     a sink user: may read pitemp/# (pitemp-sink is in the ACL
#               already; other names get a block appended)
#   -C NAME     also make a client certificate clients/NAME.crt + .key
#   -o DIR      output directory (default build/secure)
#   -b ADDR     listen address of the TLS listener (default 0.0.0.0)
#   -P PORT     port of the TLS listener (default 8883)
#   -p PORT     port of the plain listener on 127.0.0.1, for tools on the
#               broker host (default 1883; 0: none, TLS only)
#   -t CONFDIR  where the broker will read the files, for the paths in
#               DIR/mosquitto.conf (default /etc/mosquitto/pitemp; -t DIR
#               to use them where they are made)
#   -D PDIR     also set persistence_location PDIR in DIR/mosquitto.conf, to
#               run it on its own (mosquitto -c DIR/mosquitto.conf). Leave
#               it out for /etc/mosquitto/conf.d/: Debian's mosquitto.conf
#               sets persistence_location, and mosquitto refuses a second.
#   -u USER     the user the broker runs as (default mosquitto); see below
#   -d DAYS     certificate lifetime (default 825)
#   -h          this help
#
# DIR/mosquitto.conf is the secure profile with the paths, ports and listen
# address filled in: copy it into /etc/mosquitto/conf.d/, or with -t and -D
# start it as it is. Run as root, the script gives the files the broker
# reads (passwd, acl, server.key) to USER's group, mode 0640, and DIR mode
# 0750 (mosquitto reads the password file and ACL after dropping to USER),
# and makes PDIR USER's; ca.key, users/ and clients/ stay root's alone.
#
# Passwords: DIR/users/NAME.password (mode 0600, one line). An existing file
# is kept, so to choose a password write it there before running; otherwise
# a random one is generated. Passwords never appear on a command line
# (mosquitto_passwd -U hashes a private file in place). DIR/passwd lists
# every user that has a file in DIR/users/, so re-running adds users and
# keeps the others. The CA is kept when DIR/ca.key exists (certificates it
# signed stay valid); the server certificate is made anew on every run.
#
# Exit status: 0 done, 1 a tool failed, 2 usage error.

set -eu

# usage STATUS: the comment above; on stdout for -h (exit 0), on stderr
# after a usage error (exit 2).
usage() {
	if [ "$1" = 0 ]; then
		sed -n '2,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'
	else
		sed -n '2,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2
	fi
	exit "$1"
}
die() { printf 'pitemp-secure-setup: error: %s\n' "$*" >&2; exit 1; }
bad() { printf 'pitemp-secure-setup: %s\n' "$*" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out=$top/build/secure
bind=0.0.0.0
port=1883
tlsport=8883
confdir=/etc/mosquitto/pitemp
persistdir=''
user=mosquitto
days=825
sans='' sensors='' sinks='' clients=''

valid_name() {
	case $1 in
	'' | *[!A-Za-z0-9._-]*) return 1 ;;
	esac
	[ "${#1}" -le 64 ]
}

# port OPTION VALUE MIN: a port number in MIN..65535, else a usage error.
port_arg() {
	case $2 in '' | *[!0-9]* | 0?*) bad "option $1: '$2' is not a port number" ;; esac
	[ "$2" -ge "$3" ] && [ "$2" -le 65535 ] ||
	    bad "option $1: '$2' is not a port number ($3-65535)"
}

# dir_arg OPTION VALUE: an absolute path that sed can carry, else a usage error.
dir_arg() {
	case $2 in /*) ;; *) bad "option $1: '$2' is not an absolute path" ;; esac
	case $2 in *[\|\&]* | *'
'*) bad "option $1: '$2' has |, & or a newline in it" ;; esac
}

while getopts ':s:S:K:C:o:b:p:P:t:D:u:d:h' opt; do
	case $opt in
	s) case $OPTARG in
	   DNS:?* | IP:?*) san=$OPTARG ;;
	   *:*) san=IP:$OPTARG ;;                      # IPv6
	   *[!0-9.]*) san=DNS:$OPTARG ;;
	   *.*.*.*) san=IP:$OPTARG ;;                  # IPv4
	   *) bad "option -s: '$OPTARG' is not a host name or address" ;;
	   esac
	   case ${san#*:} in
	   '' | *[!A-Za-z0-9.:*-]*) bad "option -s: '$OPTARG' is not a host name or address" ;;
	   esac
	   sans=${sans:+$sans,}$san ;;
	S) valid_name "$OPTARG" || bad "option -S: '$OPTARG' must be 1-64 of A-Z a-z 0-9 . _ -"
	   sensors="$sensors $OPTARG" ;;
	K) valid_name "$OPTARG" || bad "option -K: '$OPTARG' must be 1-64 of A-Z a-z 0-9 . _ -"
	   sinks="$sinks $OPTARG" ;;
	C) valid_name "$OPTARG" || bad "option -C: '$OPTARG' must be 1-64 of A-Z a-z 0-9 . _ -"
	   clients="$clients $OPTARG" ;;
	o) out=$OPTARG ;;
	b) case $OPTARG in '' | *[!A-Za-z0-9.:-]*) bad "option -b: '$OPTARG' is not an address" ;; esac
	   bind=$OPTARG ;;
	p) port_arg -p "$OPTARG" 0; port=$OPTARG ;;
	P) port_arg -P "$OPTARG" 1; tlsport=$OPTARG ;;
	t) dir_arg -t "$OPTARG"; confdir=${OPTARG%/} ;;
	D) dir_arg -D "$OPTARG"; persistdir=${OPTARG%/} ;;
	u) valid_name "$OPTARG" || bad "option -u: '$OPTARG' is not a user name"
	   user=$OPTARG ;;
	d) case $OPTARG in '' | *[!0-9]*) bad "option -d: '$OPTARG' is not a number of days" ;; esac
	   days=$OPTARG ;;
	h) usage 0 ;;
	:) bad "option -$OPTARG needs a value (see -h)" ;;
	*) printf 'pitemp-secure-setup: unknown option -%s\n\n' "$OPTARG" >&2
	   usage 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || bad "unexpected argument '$1' (see -h)"
[ -n "$sans" ] || bad "give the broker's names/addresses with -s (see -h)"
[ "$port" != "$tlsport" ] || bad "options -p and -P: both listeners on port $port"
command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
command -v mosquitto_passwd >/dev/null || die "mosquitto_passwd not found (apt-get install mosquitto)"

umask 077
mkdir -p "$out/users" "$out/clients"
chmod 0700 "$out" "$out/users"
tmp=$(mktemp -d "$out/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# One OpenSSL config for every certificate: no dependence on the system's.
cat >"$tmp/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $sans
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1" 2>"$tmp/err" || { cat "$tmp/err" >&2; die "cannot make key $1"; }
	chmod 0600 "$1"
}

# sign CN KEY CRT SECTION
sign() {
	openssl req -new -config "$tmp/openssl.cnf" -key "$2" -subj "/CN=$1" \
	    -out "$tmp/req.csr" 2>"$tmp/err" &&
	openssl x509 -req -in "$tmp/req.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
	    -set_serial "0x$(openssl rand -hex 16)" -days "$days" \
	    -extfile "$tmp/openssl.cnf" -extensions "$4" -out "$3" 2>"$tmp/err" ||
	    { cat "$tmp/err" >&2; die "cannot sign the certificate for $1"; }
	chmod 0644 "$3"
}

if [ ! -s "$out/ca.key" ] || [ ! -s "$out/ca.crt" ]; then
	newkey "$out/ca.key"
	openssl req -new -x509 -config "$tmp/openssl.cnf" -extensions ca \
	    -key "$out/ca.key" -subj "/CN=pitemp CA" -days "$days" \
	    -set_serial "0x$(openssl rand -hex 16)" -out "$out/ca.crt" 2>"$tmp/err" ||
	    { cat "$tmp/err" >&2; die "cannot make the CA"; }
	chmod 0644 "$out/ca.crt"
	echo "pitemp-secure-setup: made CA $out/ca.crt"
fi

cn=${sans%%,*}
cn=${cn#*:}
newkey "$out/server.key"
sign "$cn" "$out/server.key" "$out/server.crt" server
echo "pitemp-secure-setup: made server certificate $out/server.crt for $sans"

for n in $clients; do
	newkey "$out/clients/$n.key"
	sign "$n" "$out/clients/$n.key" "$out/clients/$n.crt" client
	echo "pitemp-secure-setup: made client certificate $out/clients/$n.crt"
done

for n in $sensors $sinks; do
	f=$out/users/$n.password
	if [ ! -s "$f" ]; then
		openssl rand -hex 16 >"$f"
		echo "pitemp-secure-setup: new password for $n in $f"
	fi
	chmod 0600 "$f"
done
for n in $sinks; do : >"$out/users/$n.sink"; done

# The password file: every user with a password file. Plain user:password
# lines in a private file, hashed in place by mosquitto_passwd -U.
: >"$tmp/passwd"
for f in "$out"/users/*.password; do
	[ -e "$f" ] || continue
	n=${f##*/}
	n=${n%.password}
	IFS= read -r pw <"$f" || [ -n "$pw" ] || die "$f is empty"
	case $pw in *:*) die "$f: a password must not contain ':'" ;; esac
	printf '%s:%s\n' "$n" "$pw" >>"$tmp/passwd"
done
[ -s "$tmp/passwd" ] || die "no users: name sensors with -S and sinks with -K"
mosquitto_passwd -U "$tmp/passwd" >/dev/null || die "mosquitto_passwd -U failed"
mv "$tmp/passwd" "$out/passwd"
echo "pitemp-secure-setup: wrote $out/passwd ($(wc -l <"$out/passwd") users)"

# ACL: the shipped one plus a read-all block for every further sink user.
cp "$here/acl" "$tmp/acl"
for f in "$out"/users/*.sink; do
	[ -e "$f" ] || continue
	n=${f##*/}
	n=${n%.sink}
	[ "$n" = pitemp-sink ] && continue
	printf '\nuser %s\ntopic read pitemp/#\n' "$n" >>"$tmp/acl"
done
chmod 0644 "$tmp/acl"
mv "$tmp/acl" "$out/acl"

# The broker config with this installation's paths, ports and listen
# address; persistence_location only with -D (see -h).
if [ "$port" = 0 ]; then
	plain='/^listener 1883 127\.0\.0\.1$/d'
else
	plain="s|^listener 1883 127\\.0\\.0\\.1\$|listener $port 127.0.0.1|"
fi
if [ -n "$persistdir" ]; then
	persist="/^persistence true\$/a\\
persistence_location $persistdir/"
else
	persist=''
fi
sed -e "s|/etc/mosquitto/pitemp/|$confdir/|g" \
    -e "s|^listener 8883 0\.0\.0\.0\$|listener $tlsport $bind|" \
    -e "$plain" ${persist:+-e "$persist"} \
    "$here/mosquitto.secure.conf" >"$tmp/mosquitto.conf"
grep -q "^listener $tlsport $bind\$" "$tmp/mosquitto.conf" ||
    die "$here/mosquitto.secure.conf: no 'listener 8883 0.0.0.0' line to fill in"
chmod 0644 "$tmp/mosquitto.conf"
mv "$tmp/mosquitto.conf" "$out/mosquitto.conf"
echo "pitemp-secure-setup: wrote $out/acl and $out/mosquitto.conf (files expected in $confdir)"

[ -z "$persistdir" ] || mkdir -p "$persistdir"

# Run as root: mosquitto opens the password file and the ACL after it has
# dropped to $user, so the files it reads go to that user's group. The
# keys of the CA and the clients and the clear-text passwords stay root's.
if [ "$(id -u)" = 0 ]; then
	if ! group=$(id -gn "$user" 2>/dev/null); then
		echo "pitemp-secure-setup: no user $user here: files left root's (give them to the broker's user where it runs, see -u)"
	else
		chgrp "$group" "$out" "$out/passwd" "$out/acl" "$out/server.key"
		chmod 0750 "$out"
		chmod 0640 "$out/passwd" "$out/acl" "$out/server.key"
		if [ -n "$persistdir" ]; then
			chown "$user:$group" "$persistdir"
		fi
		echo "pitemp-secure-setup: passwd, acl and server.key readable by group $group (the broker's user $user)"
		if command -v runuser >/dev/null &&
		    ! runuser -u "$user" -- test -r "$out/passwd"; then
			echo "pitemp-secure-setup: note: $user cannot reach $out (a directory above it is closed to it): install the files into $confdir (docs/security.md, \"Switching it on, step by step\")"
		fi
	fi
fi
