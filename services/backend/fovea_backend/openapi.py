"""`python3 -m fovea_backend.openapi`: the API's OpenAPI document on stdout, as GET /openapi.json serves it.

Built from the routes and schemas alone (no database, Redis or secret is opened: they are the lifespan's), so
the frontend's generated API types (services/frontend/api-types.sh) can be made and checked anywhere the
backend's packages are installed.
"""

from __future__ import annotations

import json
import sys

from fovea_backend.app import create_app
from fovea_backend.settings import Settings


def document() -> dict[str, object]:
    return create_app(Settings()).openapi()


if __name__ == "__main__":
    json.dump(document(), sys.stdout, indent=2)
    sys.stdout.write("\n")
