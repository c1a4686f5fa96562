#!/bin/sh
# Starts Prometheus as the prometheus user, behind HTTP basic auth. The password comes from the mounted
# secret (PROMETHEUS_PASSWORD_FILE); this script hands prometheus a private copy and writes, in the same
# private folder, its web config (user `fovea`, the password's bcrypt hash) and the client config that
# the container's healthcheck (`promtool check ready`) presents. Other mounted secrets named by a
# *_PASSWORD_FILE variable (the collector's, for the scrape of its own metrics) get private copies too.
# The password never passes through argv or an env value.
set -eu

if [ "$(id -u)" = 0 ]; then
    private=/run/fovea
    install -d -m 700 "$private"
    if [ ! -s "${PROMETHEUS_PASSWORD_FILE:-/nonexistent}" ]; then
        echo "fovea-prometheus: PROMETHEUS_PASSWORD_FILE is missing or empty; refusing to start an open server" >&2
        exit 1
    fi
    umask 077
    for var in $(env | sed -n 's|^\([A-Z_]*_PASSWORD_FILE\)=/run/secrets/.*|\1|p'); do
        eval "path=\${$var}"
        tr -d '\r\n' < "$path" > "$private/${path##*/}"
    done
    hash=$(mkpasswd --method=bcrypt --rounds=10 --stdin < "$private/${PROMETHEUS_PASSWORD_FILE##*/}")
    printf 'basic_auth_users:\n  fovea: "%s"\n' "$hash" > "$private/web.yml"
    printf 'basic_auth:\n  username: fovea\n  password_file: %s\n' "$private/${PROMETHEUS_PASSWORD_FILE##*/}" \
        > "$private/client.yml"
    chown -R prometheus:prometheus "$private"
    exec setpriv --reuid=prometheus --regid=prometheus --init-groups "$0" "$@"
fi
exec /usr/bin/prometheus "$@"
