#!/bin/sh
# Starts nginx as www-data. Root only long enough to turn the mounted Prometheus password
# (PROMETHEUS_PASSWORD_FILE, a root-only file) into the header the read-only /prometheus/ proxy
# presents, in a file only www-data can read; the password never passes through argv or an env value.
set -eu

if [ "$(id -u)" = 0 ]; then
    conf=/run/fovea-nginx/prometheus-auth.conf
    if [ -s "${PROMETHEUS_PASSWORD_FILE:-/nonexistent}" ]; then
        umask 077
        credential=$( { printf 'fovea:'; tr -d '\r\n' < "$PROMETHEUS_PASSWORD_FILE"; } | base64 -w0)
        printf 'proxy_set_header Authorization "Basic %s";\n' "$credential" > "$conf.new"
        unset credential
        chown www-data:www-data "$conf.new"
        mv "$conf.new" "$conf"
    fi
    # nginx opens /dev/stdout for its access log: the container's output pipes must be www-data's to open.
    chown --dereference www-data "/proc/$$/fd/1" "/proc/$$/fd/2"
    exec setpriv --reuid=www-data --regid=www-data --init-groups "$0" "$@"
fi
exec "$@"
