#!/usr/bin/env bash
# What `npm run bench` needs beyond the tests' PostgreSQL: Prosody (as .ci/run installs it) and
# Postfix's smtp-source/smtp-sink (Debian `postfix`), installed only when missing, non-interactively,
# without configuring Postfix as a mail server (debconf: "No configuration").
set -euo pipefail
# PostgreSQL is part of the machine, as for the tests: start it if it is not running (as .ci/run does).
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && [ -d /etc/postgresql ]; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
need=()
command -v prosody >/dev/null 2>&1 || need+=(prosody)
{ [ -x /usr/sbin/smtp-source ] && [ -x /usr/sbin/smtp-sink ]; } || need+=(postfix)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "bench: missing ${need[*]}; install as root (postfix with 'No configuration')" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
