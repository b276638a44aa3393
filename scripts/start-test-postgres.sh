#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the test suite and print its URL.
# Installs Debian's postgresql package when no server binary is found. The server runs as the
# `postgres` system user (PostgreSQL refuses to run as root) with its data in a temporary folder.
set -euo pipefail
PORT=${MEDSUM_PG_PORT:-55432}
# A server left running by an earlier run holds the default port, so take the next free one.
while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done

if ! command -v initdb >/dev/null 2>&1 && [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
    echo "start-test-postgres: installing postgresql" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | head -1)")
[ -x "$BIN/initdb" ] || BIN=$(dirname "$(readlink -f "$(command -v initdb)")")
DATA=$(mktemp -d /tmp/medsum-pg.XXXXXX)
# The caller can stop the server later with `pg_ctl -D <folder> stop`.
if [ -n "${MEDSUM_PG_DATA_FILE:-}" ]; then echo "$DATA" > "$MEDSUM_PG_DATA_FILE"; fi
RUNUSER=postgres
if [ "$(id -u)" -ne 0 ]; then RUNUSER=$(id -un); fi
chown "$RUNUSER" "$DATA"
as_user() { if [ "$(id -u)" -eq 0 ]; then su -s /bin/sh "$RUNUSER" -c "$*"; else sh -c "$*"; fi; }
as_user "$BIN/initdb -D $DATA -U medsum --auth=trust" >/dev/null
as_user "$BIN/pg_ctl -D $DATA -l $DATA/server.log -o '-c listen_addresses=127.0.0.1 -p $PORT -k $DATA' -w start" >&2
as_user "$BIN/createdb -h 127.0.0.1 -p $PORT -U medsum medsum_test"
echo "postgresql+psycopg://medsum@127.0.0.1:$PORT/medsum_test"
