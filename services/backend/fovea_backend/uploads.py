"""Reading an import's body (JSONL, CVAT XML, MOT text) with one size limit for every import route."""

from __future__ import annotations

from fastapi import Request

from fovea_backend.errors import ApiError

MAX_IMPORT_BYTES = 256 * 1024 * 1024


async def read_import_body(request: Request) -> bytes:
    """The whole body, refused (413) as soon as it passes MAX_IMPORT_BYTES: by its declared length, else while read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise ApiError(413, "import larger than 256 MiB", ("body",))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise ApiError(413, "import larger than 256 MiB", ("body",))
        chunks.append(chunk)
    return b"".join(chunks)
