"""`python3 -m fovea_backend`: serve the API on 0.0.0.0:3001 (the container's contract)."""

from __future__ import annotations

import logging
import sys

import uvicorn

from fovea_backend.app import create_app
from fovea_backend.settings import ConfigError, load_settings

HOST = "0.0.0.0"  # noqa: S104 - inside its container; the host publishes it on 127.0.0.1 only
PORT = 3001


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        _ = settings.db_password, settings.admin_password, settings.session_secret
    except ConfigError as exc:
        print(f"fovea-backend: {exc}", file=sys.stderr)
        return 2
    # One process: the job-sync thread lives beside the API, and 2 cores gain little from more workers
    # while the DB renders the JSON.
    # proxy_headers=False: uvicorn would take X-Forwarded-For from any peer on 127.0.0.1 as the client's
    # address; the backend decides whom it trusts itself (BACKEND_TRUSTED_PROXIES, see throttle.py).
    uvicorn.run(create_app(settings), host=HOST, port=PORT, log_level="info", access_log=False, timeout_graceful_shutdown=10,
                proxy_headers=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
