#!/bin/sh
# Starts PostgreSQL as the postgres user. On an empty data volume it runs initdb with the password read
# from the mounted secret file (POSTGRES_PASSWORD_FILE): the value never passes through env or argv.
set -eu

if [ "$(id -u)" = 0 ]; then
    # The mounted secret is root-only (0600 on the host); hand postgres a private copy, then drop root.
    install -d -o postgres -g postgres -m 700 /run/fovea
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        install -o postgres -g postgres -m 600 "$POSTGRES_PASSWORD_FILE" /run/fovea/postgres_password
    fi
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ ! -s /run/fovea/postgres_password ]; then
        echo "fovea-postgres: POSTGRES_PASSWORD_FILE is not set or empty; refusing to create a passwordless cluster" >&2
        exit 1
    fi
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    # syncfs: one filesystem flush instead of an fsync per file; as durable, ~0.2-0.6 s faster on first start.
    initdb --username="$user" --pwfile=/run/fovea/postgres_password \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
        --sync-method=syncfs >/dev/null
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    # Single-user mode creates the database without starting a server twice. Extensions are left to the
    # application's migrations: made here they would get system-range OIDs, which pg_dump skips.
    if [ "$db" != "postgres" ]; then
        echo "CREATE DATABASE \"$db\";" | postgres --single -D "$PGDATA" -j postgres >/dev/null
    fi
    echo "fovea-postgres: initialised cluster for database $db"
fi
rm -f /run/fovea/postgres_password
exec "$@"
