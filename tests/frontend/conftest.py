"""Fixtures for the frontend's tests: a real stack started by fovea, the test clip in it, and headless
Debian Chromium driven by Playwright (never a downloaded browser).

Stacks (session-scoped; one per test session, torn down with its volumes at the end):
    frontend_stack   frontend + backend and what they need (postgres, redis, prometheus, otel-collector);
                     the backend does not retry failed jobs (a crashing job fails at once).
    full_stack       the same plus the model-service (API and queue worker: detection end to end). When any
                     collected test asks for it, `frontend_stack` is that full stack too, so a session
                     never starts two stacks.
  Both give a `FrontendStack`:
    .base_url        "http://127.0.0.1:<port>": the frontend's nginx (port 3000 + a free port base)
    .username, .password   the admin login (password from the project's admin_password secret)
    .clip            the test clip on the host (bus_pan.mp4: 480x640, 10 fps, 30 frames, people moving),
                     already added with `fovea videos add`
    .video           the clip's entry from GET /api/videos (id, filename, fps, ...)
    .project         the fovea Project (settings, engine, observe())
    .cli_env         environment for `tests.conftest.run_fovea([...], stack.cli_env)`
    .api()           `with stack.api() as client:` httpx logged in as admin, through nginx (base_url)

Browser (function-scoped; a fresh browser context, so cookies and storage never leak between tests):
    page             a Playwright page at nothing yet, not logged in, on frontend_stack
    app              a `BrowserSession` logged in as admin (session cookie set through the API, then "/")
    full_app         the same on full_stack
  A `BrowserSession` has .page, .base_url, .username, .password, .stack and .console_errors (every
  console error and uncaught page error so far; `assert not session.console_errors`). `page` records its
  errors the same way: `console_errors(page)`.

Output for people to look at:
    output_dir       test-output/frontend/ under the repository (or $FOVEA_TEST_OUTPUT): screenshots.

While developing, the same tests run against a frontend that is already running — a `vite` dev server whose /api
proxy reaches a `fovea up` slice — when FOVEA_E2E_URL names its address, with FOVEA_PROJECT / FOVEA_PORT_BASE /
FOVEA_SECRETS_DIR naming that project (its backend must run; the clip is added to it, replacing an earlier copy).

Chromium is /usr/bin/chromium (Debian's `chromium`, installed by .ci/setup); FOVEA_CHROMIUM overrides it.
Without it the browser tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from fovea_ctl.reconcile.project import Project
from fovea_ctl.ops.videos import add_videos
from tests.conftest import ROOT, ProjectFactory, RecordingReporter, make_clip, stack_without_job_retries

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

    from fovea_ctl.model import Stack
    from fovea_ctl.settings.effective import Settings

CHROMIUM = os.environ.get("FOVEA_CHROMIUM", "/usr/bin/chromium")
# As root in a container-less CI machine; the rest keep Chromium off the (closed) network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
NETWORK_CHANGED = "net::ERR_NETWORK_CHANGED"
FRONTEND_SERVICES = ["frontend"]
FULL_SERVICES = ["frontend", "model-service"]  # the model-service runs its own queue worker
FULL_FIXTURES = {"full_stack", "full_app"}
CLIP_NAME = "bus_pan.mp4"
EXTERNAL_URL = os.environ.get("FOVEA_E2E_URL")


def fail_or_skip(reason: str) -> None:
    """Under CI a missing part is a failure (the setup should have provided it); elsewhere a skip."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class FrontendStack:
    project: Project
    base_url: str
    password: str
    clip: Path
    video: dict[str, Any]
    full: bool = False  # model-service and worker run too
    cli_env: dict[str, str] = field(default_factory=dict)  # for running `fovea` against this project
    username: str = "admin"

    @contextmanager
    def api(self) -> Iterator[httpx.Client]:
        """`with stack.api() as client`: logged in as admin, through nginx like the browser."""
        with httpx.Client(base_url=self.base_url, timeout=60) as client:
            response = client.post("/api/auth/login", json={"username": self.username, "password": self.password})
            assert response.status_code == 200, response.text
            yield client


def _video_named(stack: FrontendStack, filename: str) -> dict[str, Any]:
    with stack.api() as client:
        return next(v for v in client.get("/api/videos").json() if v["filename"] == filename)


def clip_copy(stack: FrontendStack, directory: Path, filename: str) -> dict[str, Any]:
    """A video of a test module's own (nothing there depends on what other tests drew): a copy of the shared clip
    under `filename`, added with fovea's `videos add`; its entry from GET /api/videos."""
    copy = directory / filename
    shutil.copyfile(stack.clip, copy)
    add_videos(stack.project, [copy], replace=True)
    return _video_named(stack, filename)


def _external_stack() -> Iterator[FrontendStack]:
    from fovea_ctl.settings.effective import load_settings

    project = Project(load_settings())
    with tempfile.TemporaryDirectory(prefix="fovea-frontend-") as tmp:
        clip = make_clip(project, Path(tmp) / CLIP_NAME)
        add_videos(project, [clip], replace=True)
        stack = FrontendStack(project=project, base_url=EXTERNAL_URL or "", password=project.secrets.value("admin_password"),
                              clip=clip, video={}, full=True, cli_env=dict(os.environ))
        stack.video = _video_named(stack, CLIP_NAME)
        yield stack


def stack_for_browser_tests(settings: Settings) -> Stack:
    """The real stack without job retries, and with room for this suite's logins: every test signs in (in the browser
    and through the API) from the one address Docker's bridge gives this machine, and on a quiet machine that passed
    the backend's 60 a minute per client (429 in CI). The per-client limit itself is tested in
    tests/backend/test_login_throttle.py; nothing here tests it."""
    stack = stack_without_job_retries(settings)
    backend = next(s for s in stack.services if s.name == "backend")
    backend = backend.model_copy(update={"env": {**backend.env, "BACKEND_LOGIN_LIMIT_PER_CLIENT": "6000 per minute"}})
    return stack.model_copy(update={"services": [backend if s.name == "backend" else s for s in stack.services]})


@pytest.fixture(scope="session")
def _stack(request: pytest.FixtureRequest, engine_ready: None) -> Iterator[FrontendStack]:
    if EXTERNAL_URL:
        yield from _external_stack()
        return
    wants_full = any(FULL_FIXTURES & set(getattr(item, "fixturenames", ())) for item in request.session.items)
    factory = ProjectFactory(Path(tempfile.mkdtemp(prefix="fovea-frontend-")))
    try:
        # Without job retries: a job that crashes (the Metrics test makes one) fails at once.
        project = factory(stack_for_browser_tests)
        _, result = project.up(RecordingReporter(), FULL_SERVICES if wants_full else FRONTEND_SERVICES)
        assert result.ok, [f.describe() for f in result.failures]
        clip = make_clip(project, factory.tmp_root / CLIP_NAME)
        add_videos(project, [clip])
        stack = project.stack
        base_url = f"http://127.0.0.1:{stack.host_port(stack.units['frontend'].ports[0])}"
        frontend = FrontendStack(project=project, base_url=base_url, password=project.secrets.value("admin_password"),
                                 clip=clip, video={}, full=wants_full,
                                 cli_env=factory.env(project))
        frontend.video = _video_named(frontend, CLIP_NAME)
        yield frontend
    finally:
        factory.cleanup()
        shutil.rmtree(factory.tmp_root, ignore_errors=True)


@pytest.fixture(scope="session")
def frontend_stack(_stack: FrontendStack) -> FrontendStack:
    return _stack


@pytest.fixture(scope="session")
def full_stack(_stack: FrontendStack) -> FrontendStack:
    assert _stack.full, "the session stack was started without the model-service"
    return _stack


# -- the browser ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    if not Path(CHROMIUM).is_file():
        fail_or_skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/setup does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        fail_or_skip("the playwright Python package is missing: pip install -e '.[dev]'")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    # executable_path: Debian's Chromium. Playwright never downloads one (it cannot here).
    chromium = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield chromium
    chromium.close()


@dataclass
class BrowserSession:
    page: Page
    stack: FrontendStack
    console_errors: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.stack.base_url

    @property
    def username(self) -> str:
        return self.stack.username

    @property
    def password(self) -> str:
        return self.stack.password


_ERRORS: dict[int, list[str]] = {}


def console_errors(page: Page) -> list[str]:
    """Every console error and uncaught exception the page has had so far."""
    return _ERRORS.setdefault(id(page), [])


def _new_page(browser: Browser, stack: FrontendStack) -> Iterator[Page]:
    context = browser.new_context(base_url=stack.base_url, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors = console_errors(page)

    def on_console(message: Any) -> None:
        # Chromium aborts requests in flight when the host's interfaces change (the shared engine adds a
        # veth for every container anyone starts) and logs it as an error: the machine's, not the app's.
        if message.type == "error" and NETWORK_CHANGED not in message.text:
            errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    try:
        yield page
    finally:
        _ERRORS.pop(id(page), None)
        context.close()


def _logged_in(page: Page, stack: FrontendStack) -> BrowserSession:
    # The cookie comes from the API (the login form has its own test): the page starts signed in.
    response = page.request.post("/api/auth/login", data={"username": stack.username, "password": stack.password})
    assert response.status == 200, response.text()
    page.goto("/")
    return BrowserSession(page=page, stack=stack, console_errors=console_errors(page))


@pytest.fixture
def page(browser: Browser, frontend_stack: FrontendStack) -> Iterator[Page]:
    yield from _new_page(browser, frontend_stack)


@pytest.fixture
def app(page: Page, frontend_stack: FrontendStack) -> BrowserSession:
    return _logged_in(page, frontend_stack)


@pytest.fixture
def full_app(browser: Browser, full_stack: FrontendStack) -> Iterator[BrowserSession]:
    for page in _new_page(browser, full_stack):
        yield _logged_in(page, full_stack)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    directory = Path(os.environ.get("FOVEA_TEST_OUTPUT", ROOT / "test-output")) / "frontend"
    directory.mkdir(parents=True, exist_ok=True)
    return directory
