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
#   -b ADDR     listen address for 8883 in DIR/mosquitto.conf (default 0.0.0.0)
#   -t CONFDIR  where the files will be installed, for the paths in
#               DIR/mosquitto.conf (default /etc/mosquitto/pitemp)
#   -d DAYS     certificate lifetime (default 825)
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

usage() {
	sed -n '2,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
die() { printf 'pitemp-secure-setup: error: %s\n' "$*" >&2; exit 1; }
bad() { printf 'pitemp-secure-setup: %s\n' "$*" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
out=$top/build/secure
bind=0.0.0.0
confdir=/etc/mosquitto/pitemp
days=825
sans='' sensors='' sinks='' clients=''

valid_name() {
	case $1 in
	'' | *[!A-Za-z0-9._-]*) return 1 ;;
	esac
	[ "${#1}" -le 64 ]
}

while getopts 's:S:K:C:o:b:t:d:h' opt; do
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
	t) case $OPTARG in /*) ;; *) bad "option -t: '$OPTARG' is not an absolute path" ;; esac
	   case $OPTARG in *[\|\&]*) bad "option -t: '$OPTARG' has | or & in it" ;; esac
	   confdir=${OPTARG%/} ;;
	d) case $OPTARG in '' | *[!0-9]*) bad "option -d: '$OPTARG' is not a number of days" ;; esac
	   days=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || bad "unexpected argument '$1' (see -h)"
[ -n "$sans" ] || bad "give the broker's names/addresses with -s (see -h)"
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

# The broker config with this installation's paths and listen address.
sed -e "s|/etc/mosquitto/pitemp/|$confdir/|g" \
    -e "s|^listener 8883 0\.0\.0\.0\$|listener 8883 $bind|" \
    "$here/mosquitto.secure.conf" >"$tmp/mosquitto.conf"
chmod 0644 "$tmp/mosquitto.conf"
mv "$tmp/mosquitto.conf" "$out/mosquitto.conf"
echo "pitemp-secure-setup: wrote $out/acl and $out/mosquitto.conf (files expected in $confdir)"
