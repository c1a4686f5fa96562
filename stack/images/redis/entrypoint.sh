#!/bin/sh
# Starts Redis as the redis user. With a password file mounted (REDIS_PASSWORD_FILE, the stack's
# redis_password secret) the server reads `requirepass` from a private config file that this script
# writes, so the password never passes through argv or env values; every client must AUTH.
set -eu

if [ "$(id -u)" = 0 ]; then
    # The mounted secret is root-only (0600 on the host); hand redis a private config, then drop root.
    install -d -o redis -g redis -m 700 /run/fovea
    if [ -n "${REDIS_PASSWORD_FILE:-}" ]; then
        if [ ! -s "$REDIS_PASSWORD_FILE" ]; then
            echo "fovea-redis: REDIS_PASSWORD_FILE=$REDIS_PASSWORD_FILE is missing or empty; refusing to start an open server" >&2
            exit 1
        fi
        umask 077
        # Quoted for redis' config parser: backslashes and double quotes escaped, the rest verbatim.
        password=$(sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' "$REDIS_PASSWORD_FILE" | tr -d '\r\n')
        printf 'requirepass "%s"\n' "$password" > /run/fovea/redis.conf
        unset password
        chown redis:redis /run/fovea/redis.conf
        if [ "${1:-}" = redis-server ]; then
            shift
            set -- redis-server /run/fovea/redis.conf "$@"
        fi
    fi
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
exec "$@"
