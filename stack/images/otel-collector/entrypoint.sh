#!/bin/sh
# Starts vmagent as nobody. The mounted secrets (COLLECTOR_PASSWORD_FILE: its own basic-auth password;
# PROMETHEUS_PASSWORD_FILE: what its remote write presents) are root-only files: nobody gets private
# copies in /run/fovea, which the command line names by path. No password passes through argv or env.
set -eu

if [ "$(id -u)" = 0 ]; then
    private=/run/fovea
    install -d -m 700 "$private"
    umask 077
    for var in COLLECTOR_PASSWORD_FILE PROMETHEUS_PASSWORD_FILE; do
        eval "path=\${$var:-}"
        if [ ! -s "$path" ]; then
            echo "fovea-collector: $var is missing or empty; refusing to start an open collector" >&2
            exit 1
        fi
        tr -d '\r\n' < "$path" > "$private/${path##*/}"
    done
    chown -R nobody:nogroup "$private"
    exec setpriv --reuid=nobody --regid=nogroup --init-groups "$0" "$@"
fi
exec /usr/bin/vmagent "$@"
