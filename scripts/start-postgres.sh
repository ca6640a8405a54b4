#!/usr/bin/env bash
# Makes sure the local PostgreSQL server the history-postgres tests use is up (127.0.0.1:5432,
# database `test`): starts the Debian cluster if it is installed and stopped. Idempotent.
set -euo pipefail
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    exit 0
fi
if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
fi
for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && exit 0
    sleep 1
done
echo "start-postgres.sh: no PostgreSQL server answers at 127.0.0.1:5432" >&2
exit 1
