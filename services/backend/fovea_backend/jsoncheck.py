"""Checks for free-form JSON (ontologies, world state, metadata) before it reaches JSONB.

PostgreSQL's jsonb rejects `\\u0000`, and `NaN`/`Infinity` are not JSON at all (Python's parser accepts
them, Postgres and every browser do not). Catching both here turns a would-be 500 into a 422 that names
the exact path, and depth/size limits keep a hostile body from pinning a worker thread.
"""

from __future__ import annotations

import math
from typing import Any

from fovea_backend.errors import invalid

MAX_DEPTH = 32
MAX_NODES = 200_000


def check_json(value: Any, loc: tuple[str | int, ...]) -> Any:
    nodes = 0

    def walk(node: Any, path: tuple[str | int, ...], depth: int) -> None:
        nonlocal nodes
        nodes += 1
        if nodes > MAX_NODES:
            raise invalid(loc, f"too large: more than {MAX_NODES} JSON values")
        if depth > MAX_DEPTH:
            raise invalid(path, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, str):
            if "\x00" in node:
                raise invalid(path, "strings must not contain NUL characters")
        elif isinstance(node, bool) or node is None:
            pass
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise invalid(path, "numbers must be finite (no NaN or Infinity)")
        elif isinstance(node, int):
            if abs(node) > 2**63:
                raise invalid(path, "integer out of range")
        elif isinstance(node, dict):
            for key, item in node.items():
                if "\x00" in key:
                    raise invalid(path, "keys must not contain NUL characters")
                walk(item, (*path, key), depth + 1)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, (*path, index), depth + 1)
        else:
            raise invalid(path, f"unsupported JSON value of type {type(node).__name__}")

    walk(value, loc, 0)
    return value
