"""Refuses cross-site requests to state-changing routes: the defence against same-site CSRF.

SameSite=Lax keeps the session cookie off cross-*site* POSTs, but every port of 127.0.0.1 is the same
site: a page served on another local port can auto-submit a form to the API with the cookie attached.
What a browser sends without a CORS preflight is narrow, and this refuses all of it:
  - a POST whose body is untyped or typed `text/plain`, `application/x-www-form-urlencoded` or
    `multipart/form-data` (forms, `fetch(..., {mode: "no-cors"})`). So a body must declare a type no form
    can send: JSON (`application/json`, `application/*+json`, `application/x-ndjson` for imports), or, for
    the standard-format imports, XML (`application/xml`, `text/xml`, `application/*+xml`: CVAT) or CSV
    (`text/csv`: MOT) — 415 otherwise, and a form type is refused even when its body is empty. A request of
    any of those types from another origin needs a preflight, which the backend never grants (it sends no
    CORS headers), so the browser never sends it.
  - every request but GET/HEAD/OPTIONS carries `Origin` (the Fetch standard appends it to any request of
    another method, forms included; `null` where the referrer policy hides it). So an Origin must be this
    origin — the host and port the request was sent to (its Host header, which the frontend's nginx passes
    on unchanged) — or one of BACKEND_ALLOWED_ORIGINS; `null` never (403). `Sec-Fetch-Site`, where a browser
    sends it, must say `same-origin` or `none`.
Clients that are not browsers (the CLI, curl, tests) send no Origin and pass when they type their bodies.
One ASGI middleware over the whole app, so a route added later is covered without opting in.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from fovea_backend.errors import error_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_TYPES = frozenset({"application/json", "application/x-ndjson"})
# Bodies the standard-format imports take (CVAT XML, MOT CSV): like JSON, only sendable after a preflight.
DOCUMENT_TYPES = frozenset({"application/xml", "text/xml", "text/csv"})
# The types a page may send cross-origin without a preflight (CORS-safelisted request headers).
FORM_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_accepted_body(content_type: str) -> bool:
    kind = media_type(content_type)
    return (kind in JSON_TYPES or kind in DOCUMENT_TYPES
            or (kind.startswith("application/") and kind.endswith(("+json", "+xml"))))


def _host_port(netloc: str, default_port: int) -> tuple[str, int] | None:
    """`Host`-style `name[:port]` (IPv6 in brackets) → (lower-case name, port); None when malformed."""
    try:
        parts = urlsplit(f"//{netloc}")
        return (parts.hostname or "").lower(), parts.port or default_port
    except ValueError:
        return None


def same_origin(origin: str, host: str, allowed: tuple[str, ...]) -> bool:
    """Whether `origin` (scheme://host[:port]) names the site the request was sent to (`host`), exactly."""
    if origin.rstrip("/") in allowed:
        return True
    try:
        parts = urlsplit(origin)
        origin_port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or origin_port is None or parts.path not in ("", "/"):
        return False
    target = _host_port(host, DEFAULT_PORTS[parts.scheme])
    return target is not None and bool(target[0]) and target == (parts.hostname.lower(), origin_port)


def refusal(method: str, headers: dict[str, str], allowed: tuple[str, ...]) -> tuple[int, str, str] | None:
    """(status, header, reason) when the request must be refused, else None."""
    if method in SAFE_METHODS:
        return None
    origin, host = headers.get("origin"), headers.get("host", "")
    if origin is not None and not same_origin(origin, host, allowed):
        return 403, "Origin", f"cross-origin request refused: Origin {origin} is not this site ({host or 'no Host'})"
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in ALLOWED_FETCH_SITES:
        return 403, "Sec-Fetch-Site", f"cross-site request refused: Sec-Fetch-Site is {fetch_site}"
    content_type = headers.get("content-type")
    has_body = headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers
    if content_type is not None and media_type(content_type) in FORM_TYPES:
        return 415, "Content-Type", f"{media_type(content_type)} is refused here (a form can send it from any site): send application/json"
    if has_body and (content_type is None or not is_accepted_body(content_type)):
        return 415, "Content-Type", ("a request body must be JSON (application/json, or application/x-ndjson for an"
                                     " import; application/xml or text/csv for a CVAT or MOT import), not"
                                     f" {content_type or 'untyped'}")
    return None


class CrossSiteGuard:
    """Pure ASGI middleware: answers a refused request itself; the route never runs."""

    def __init__(self, app: ASGIApp, allowed_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed_origins = tuple(origin.rstrip("/") for origin in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
            refused = refusal(scope["method"], headers, self.allowed_origins)
            if refused is not None:
                status, header, reason = refused
                await error_response(status, ("header", header), reason)(scope, receive, send)
                return
        await self.app(scope, receive, send)
