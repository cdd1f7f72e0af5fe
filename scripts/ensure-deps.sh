#!/bin/sh
# Make sure the system packages the tests and the lab use are present: OpenSSH server, sudo,
# openssl and PostgreSQL. Idempotent: installs only what is missing, prints what it installs,
# never starts a service (the tests start their own daemons), and succeeds when all is present.
set -eu

missing=""
need() { # need <package> <path-or-command>
  if [ -x "$2" ] || command -v "$2" >/dev/null 2>&1; then return 0; fi
  missing="$missing $1"
}

need openssh-server /usr/sbin/sshd
need openssh-client ssh-keygen
need sudo sudo
need openssl openssl
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then missing="$missing postgresql"; fi

if [ -z "$missing" ]; then
  echo "ensure-deps: all present (sshd, ssh-keygen, sudo, openssl, postgresql)"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-deps: missing:$missing; run this script as root to install them" >&2
  exit 1
fi

echo "ensure-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d exit 101 tells the maintainer scripts not to start any service.
policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  created_policy=1
fi
cleanup() { if [ -n "$created_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt-get update -q
# shellcheck disable=SC2086 # the list is meant to split into package names
apt-get install -y -q --no-install-recommends $missing
echo "ensure-deps: done"
