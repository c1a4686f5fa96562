#!/bin/sh
# Starts as root only to give the service user private copies of the mounted secrets (the stack's
# redis_password: a root-only 0600 file on the host), then drops to `fovea` for good. Secrets never pass
# through argv or env values. (The backend's entrypoint does the same for its BACKEND_*_FILE variables.)
set -eu

if [ "$(id -u)" = 0 ]; then
    private=/run/fovea-secrets
    install -d -o fovea -g fovea -m 700 "$private"
    for secret in /run/secrets/*; do
        [ -f "$secret" ] || continue
        install -o fovea -g fovea -m 600 "$secret" "$private/${secret##*/}"
    done
    for var in $(env | sed -n 's|^\(MODEL_[A-Z_]*_FILE\)=/run/secrets/.*|\1|p'); do
        eval "path=\${$var}"
        export "$var=$private/${path#/run/secrets/}"
    done
    exec setpriv --reuid=fovea --regid=fovea --init-groups "$0" "$@"
fi
exec "$@"
