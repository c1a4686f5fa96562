#!/bin/sh
# Starts PostgreSQL as the postgres user. The password is read from the mounted secret file
# (POSTGRES_PASSWORD_FILE): it never passes through env or argv.
#
# With POSTGRES_APP_USER (the stack sets it) the application gets a role of its own that is NOT a
# superuser: it owns POSTGRES_DB and everything in it, and logs in with the password. The cluster's
# superuser (POSTGRES_USER, made by initdb) has no password and may not log in over the network at all;
# only fovea's own maintenance reaches it, over the local socket through `docker exec`. So a client that
# knows the application's password cannot run `COPY ... TO PROGRAM` or read server files. The extensions
# the stack declares (POSTGRES_EXTENSIONS) are made by the superuser, here, since the application cannot.
# A cluster made before this (its superuser was the application's role) is converted on its first start.
#
# Without POSTGRES_APP_USER the image behaves as it always did: POSTGRES_USER is the superuser, with the
# password, reachable over the network.
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

super="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$super}"
app="${POSTGRES_APP_USER:-}"
marker="$PGDATA/fovea-app-role"

# SQL on stdin, as the cluster's bootstrap superuser in single-user mode (no server, nothing listens);
# single-user mode reports an error and goes on, so any ERROR in its output fails the start.
single() {
    out=$(postgres --single -D "$PGDATA" -j "$1" 2>&1) || { echo "$out" >&2; exit 1; }
    case "$out" in *ERROR:*) echo "fovea-postgres: setting up $1 failed:" >&2; echo "$out" >&2; exit 1;; esac
}
# A string literal of the password (standard_conforming_strings: only quotes are doubled).
password_literal() {
    printf "'%s'" "$(sed "s/'/''/g" /run/fovea/postgres_password | tr -d '\r\n')"
}
identifier() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"
}
extensions_sql() {
    for extension in $(printf '%s' "${POSTGRES_EXTENSIONS:-}" | tr ',' ' '); do
        echo "CREATE EXTENSION IF NOT EXISTS $(identifier "$extension");"
        echo
    done
}
if [ -n "$app" ] && [ ! -s /run/fovea/postgres_password ]; then
    echo "fovea-postgres: POSTGRES_PASSWORD_FILE is not set or empty; refusing to start without the application's password" >&2
    exit 1
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ ! -s /run/fovea/postgres_password ]; then
        echo "fovea-postgres: POSTGRES_PASSWORD_FILE is not set or empty; refusing to create a passwordless cluster" >&2
        exit 1
    fi
    # syncfs: one filesystem flush instead of an fsync per file; as durable, ~0.2-0.6 s faster on first start.
    if [ -n "$app" ]; then  # the superuser gets no password: it never logs in over the network
        initdb --username="$super" --auth-local=trust --auth-host=reject --encoding=UTF8 --locale=C.UTF-8 \
            --sync-method=syncfs >/dev/null
    else
        initdb --username="$super" --pwfile=/run/fovea/postgres_password \
            --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
            --sync-method=syncfs >/dev/null
    fi
    # Single-user mode creates the roles, the database and the declared extensions without starting a
    # server twice. Made here, the extensions get system-range OIDs, which pg_dump skips: backups record
    # them and restores create them first (fovea_ctl/restore.py).
    {
        [ -z "$app" ] || printf 'CREATE ROLE %s LOGIN PASSWORD %s;\n\n' "$(identifier "$app")" "$(password_literal)"
        [ "$db" = postgres ] || printf 'CREATE DATABASE %s%s;\n\n' "$(identifier "$db")" "${app:+ OWNER $(identifier "$app")}"
    } | single postgres
    [ -z "${POSTGRES_EXTENSIONS:-}" ] || extensions_sql | single "$db"
    [ -z "$app" ] || echo "$app" > "$marker"
    echo "fovea-postgres: initialised cluster for database $db"
elif [ -n "$app" ] && [ "$(cat "$marker" 2>/dev/null)" != "$app" ]; then
    # A cluster from before the application had a role of its own: give it one, hand it the database and
    # what is in it, and take the superuser off the network (its password goes). No postgres of this
    # container runs yet: a pid file is left by a killed one, and would stop single-user mode (its pid may
    # be an ancestor of ours here; the server's own start tells a stale file from a live one by its pid).
    rm -f "$PGDATA/postmaster.pid"
    {
        printf 'DO $fovea$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s) THEN CREATE ROLE %s; END IF; END $fovea$;\n\n' \
            "$(printf "'%s'" "$(printf '%s' "$app" | sed "s/'/''/g")")" "$(identifier "$app")"
        printf 'ALTER ROLE %s WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %s;\n\n' \
            "$(identifier "$app")" "$(password_literal)"
        printf 'ALTER ROLE %s WITH PASSWORD NULL;\n\n' "$(identifier "$super")"
        printf 'ALTER DATABASE %s OWNER TO %s;\n\n' "$(identifier "$db")" "$(identifier "$app")"
    } | single postgres
    { extensions_sql; printf "SET fovea.app = '%s';\n\n" "$(printf '%s' "$app" | sed "s/'/''/g")"
      cat /usr/local/share/fovea/app-role-ownership.sql; } | single "$db"
    echo "$app" > "$marker"
    echo "fovea-postgres: database $db now belongs to role $app (not a superuser); $super no longer logs in over the network"
fi

# Who may log in how, written on every start (the file is fovea's): over the local socket anyone in this
# container (fovea's maintenance); over the network only with a password, and never the superuser.
{
    echo "local all all trust"
    [ -z "$app" ] || echo "host all $(identifier "$super") all reject"
    echo "host all all all scram-sha-256"
} > "$PGDATA/pg_hba.conf"
rm -f /run/fovea/postgres_password
exec "$@"
