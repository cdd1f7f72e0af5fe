#!/bin/sh
# Make sure the system packages the tests and the lab run on are present: OpenSSH server, sudo,
# openssl and the PostgreSQL server binaries. Idempotent: installs only what is missing, prints what
# it installs, and does nothing (exit 0) when everything is already there. It never starts a
# service: the tests start their own sshd and PostgreSQL processes on loopback.
set -eu
# Look where Debian installs these, whatever PATH the caller had.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}
export PATH

missing=""
need() { # need <package> <test...>
  pkg=$1
  shift
  if "$@" >/dev/null 2>&1; then return 0; fi
  missing="$missing $pkg"
}

have_postgres() {
  for p in /usr/lib/postgresql/*/bin/postgres; do
    [ -x "$p" ] && return 0
  done
  return 1
}

need openssh-server test -x /usr/sbin/sshd
need openssh-client command -v ssh-keygen
need sudo command -v sudo
need openssl command -v openssl
need postgresql have_postgres

if [ -z "$missing" ]; then
  echo "ensure-deps: all present (openssh-server, sudo, openssl, postgresql)"
  exit 0
fi

echo "ensure-deps: installing:$missing"
if [ "$(id -u 2>/dev/null || echo unknown)" != 0 ]; then
  echo "ensure-deps: must run as root to install:$missing" >&2
  exit 1
fi

# Debian's packages start their services on install unless policy-rc.d says no (exit 101).
# Put one in place for the install only, and only if none exists already.
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  own_policy=1
fi
cleanup() { if [ -n "$own_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # the package list is meant to split into words
apt-get install -y -q --no-install-recommends $missing
echo "ensure-deps: installed:$missing"
