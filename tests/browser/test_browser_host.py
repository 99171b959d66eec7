"""The extensions host's page (bridge/static/shell/) in Chromium, against a real ``ddbridge host``
on the test engine, with extensions pulled from a real local registry: installing from the page
with its progress live (layers, steps), each extension opened from the navigation in a frame of
its own origin whose calls work because the page hands that frame its credential (and nobody
else), the Docker pages beside them, the route kept across a reload, an update to another tag
and a removal; and the README's screenshots, light and dark."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import pytest
from playwright.sync_api import BrowserContext, Dialog, Frame, FrameLocator, Locator, Page, expect

from tests.browser.helpers import ClientPage
from tests.support.dockerd import EngineUnderTest
from tests.support.images import files_tar
from tests.support.processes import REPO, RunningBridge, run_ddbridge
from tests.support.registry import Registry

pytestmark = pytest.mark.browser

SAMPLE = REPO / "docker" / "sample-extension"
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><rect width="24" height="24" rx="5" '
    'fill="{colour}"/><path d="M6 7h12v2H6zm0 4h12v2H6zm0 4h8v2H6z" fill="#fff"/></svg>'
)
# The page lists the engine's containers through ddClient: an RPC call from the framed origin.
UI = """<!doctype html><html><head><meta name="color-scheme" content="light dark">
<title>{heading}</title></head><body style="font-family: sans-serif; padding: 24px">
<h1>{heading}</h1><p id="calls">calling…</p>
<script>
window.ddClient.docker.listContainers({{all: true}}).then(
  (listed) => {{ document.getElementById("calls").textContent = `containers: ${{listed.length}}`; }},
  (error) => {{ document.getElementById("calls").textContent = `failed: ${{error.message}}`; }});
</script></body></html>"""
SCHEMES: tuple[Literal["light"], Literal["dark"]] = ("light", "dark")
CALLED = re.compile(r"^containers: \d+$")
# Run in a frame: what its parent answers to the shim's question, or "none" within a second.
ASK_PARENT = """() => new Promise((resolve) => {
  addEventListener("message", (event) => resolve({origin: event.origin, data: event.data}), {once: true});
  parent.postMessage({ddbridgeCredentialRequest: true}, "*");
  setTimeout(() => resolve("none"), 1000);
})"""
LIST = """() => new Promise((resolve, reject) => {
  const credential = localStorage.getItem("ddbridge.credential");
  const offered = ["ddbridge", `ddbridge.credential.${credential}`];
  const socket = new WebSocket(`ws://${location.host}/rpc`, offered);
  const request = {jsonrpc: "2.0", id: 1, method: "extensions.list", params: {}};
  socket.onopen = () => socket.send(JSON.stringify(request));
  socket.onmessage = (event) => { socket.close(); resolve(JSON.parse(event.data).result); };
  socket.onerror = () => reject(new Error("no socket"));
})"""
ADD_FRAME = """(url) => document.body.append(
  Object.assign(document.createElement("iframe"), {src: url, id: "stray"}))"""
STORAGE = "() => { try { return localStorage.length >= 0 ? 'usable' : ''; } catch { return 'denied'; } }"
# Run in a frame: a docker CLI stream to its end, and how many stream answers the frame read.
STREAMED = """() => new Promise((resolve, reject) => {
  const lines = [];
  const answers = () => performance.getEntriesByType("resource")
    .filter((entry) => entry.name.includes("/_ddbridge/streams/")).length;
  window.ddClient.docker.cli.exec("version", ["--format", "{{.Client.Version}}"], { stream: {
    splitOutputLines: true,
    onOutput: (output) => { if (output.stdout) lines.push(output.stdout); },
    onError: (error) => reject(new Error(String(error))),
    onClose: async (code) => {
      // The answer is listed once its body has ended, a moment after its end record.
      for (let waited = 0; answers() === 0 && waited < 2000; waited += 50) {
        await new Promise((done) => setTimeout(done, 50));
      }
      resolve({ code, lines, answers: answers() });
    },
  } });
})"""


def on_registry(
    engine: EngineUnderTest,
    registry: Registry,
    name: str,
    files: dict[str, str | bytes],
    title: str,
    vendor: str,
) -> str:
    """An image of ``files`` with the labels Docker Desktop wants, pushed as ``ADDRESS/NAME``
    (``NAME`` with its tag); the engine keeps no copy, so installing it pulls."""
    labels = {
        "org.opencontainers.image.title": title,
        "org.opencontainers.image.vendor": vendor,
        "com.docker.desktop.extension.api.version": ">= 0.3.0",
    }
    local = f"local/{name}"
    changes = [f"--change=LABEL {key}={json.dumps(value)}" for key, value in labels.items()]
    engine.docker("import", *changes, "-", local, input=files_tar(files))
    return registry.push(engine, local, name, remove_source=True).reference


def pushed(
    engine: EngineUnderTest,
    registry: Registry,
    name: str,
    title: str,
    colour: str,
    tag: str = "1.0",
    heading: str = "",
) -> str:
    """A UI-only extension on the registry (``ADDRESS/acme/NAME:TAG``); its page's heading is
    ``heading`` (its title by default)."""
    metadata = {
        "icon": "icon.svg",
        "ui": {"dashboard-tab": {"title": title, "root": "/ui", "src": "index.html"}},
    }
    files: dict[str, str | bytes] = {
        "metadata.json": json.dumps(metadata),
        "icon.svg": ICON.format(colour=colour),
        "ui/index.html": UI.format(heading=heading or title),
    }
    return on_registry(engine, registry, f"acme/{name}:{tag}", files, title, "Acme")


def repository(reference: str) -> str:
    """An extension's name: its image's repository."""
    return reference.rsplit(":", 1)[0]


@pytest.fixture
def store_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a store of the test's own."""
    return {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")}


@pytest.fixture
def install(engine: EngineUnderTest, store_env: dict[str, str]) -> Callable[[str], None]:
    """Installs an image with the CLI, on the store (no host runs)."""

    def install_(image: str) -> None:
        done = run_ddbridge(
            "extension", "install", "-f", image, "--docker-host", engine.host, env={**os.environ, **store_env}
        )
        assert done.returncode == 0, done.stderr

    return install_


@pytest.fixture
def start_host(
    bridge: Callable[..., RunningBridge],
    engine: EngineUnderTest,
    store_env: dict[str, str],
    install: Callable[[str], None],
) -> Callable[..., RunningBridge]:
    """``ddbridge host`` on the test engine and the test's store; ``installed`` images are
    installed first."""

    def start(*installed: str) -> RunningBridge:
        for image in installed:
            install(image)
        return bridge("--docker-host", engine.host, env=store_env, command="host", timeout=60)

    return start


@pytest.fixture
def shell(browser_context: BrowserContext) -> Iterator[Callable[[RunningBridge, str], ClientPage]]:
    """Opens the host's page signed in (at ``hash``); fails the test at teardown on any page or
    console error."""
    opened: list[ClientPage] = []

    def open_(running: RunningBridge, hash: str = "") -> ClientPage:
        client_page = ClientPage(browser_context.new_page())
        opened.append(client_page)
        client_page.page.goto(running.login_url())
        client_page.page.wait_for_url(running.url)
        if hash:
            client_page.page.goto(running.url + hash)
        expect(client_page.page.locator("#connection")).to_have_attribute("data-state", "live")
        return client_page

    yield open_
    problems = [problem for client_page in opened for problem in client_page.unexpected_errors()]
    assert not problems, problems


def shown_frame(page: Page) -> FrameLocator:
    return page.frame_locator("iframe.extension-frame:visible")


def frame_at(page: Page, origin: str) -> Frame:
    """The page's frame whose document is on ``origin``."""
    return next(frame for frame in page.frames if frame.url.startswith(origin + "/"))


def install_from_the_page(page: Page, reference: str) -> None:
    page.locator("#install-image").fill(reference)
    page.get_by_role("button", name="Install").click()
    card = page.locator(".operation").first
    expect(card.locator(".outcome")).to_have_text("Done.", timeout=60_000)
    expect(card.locator(".step.done", has_text=f"Pulling {reference}")).to_be_visible()
    expect(card.locator(".layer .layer-status").first).to_have_text("Pull complete")
    expect(card.locator(".step.done", has_text=f"Extracting {reference}")).to_be_visible()


def open_framed(
    page: Page, link: Locator | None = None, heading: str = "", *, route: str = "", called: bool = True
) -> None:
    """Opens an extension with ``link`` (its navigation entry, its row's link; None when it is
    already opening) and checks what the page then shows: the route in its URL (``route``, a
    pattern), the framed page's heading, and (``called``) that page's ddClient call answered."""
    if link is not None:
        link.click()
    if route:
        expect(page).to_have_url(re.compile(route))
    if heading:
        expect(shown_frame(page).locator("h1")).to_have_text(heading)
    if called:
        expect(shown_frame(page).locator("#calls")).to_have_text(CALLED)


def test_install_open_update_and_remove_from_the_page(
    start_host: Callable[..., RunningBridge],
    shell: Callable[[RunningBridge, str], ClientPage],
    engine: EngineUnderTest,
    registry: Registry,
) -> None:
    notes = pushed(engine, registry, "notes", "Notes", "#f5a10c")
    newer = pushed(engine, registry, "notes", "Notes", "#f5a10c", tag="2.0", heading="Notes 2.0")
    board = pushed(engine, registry, "board", "Board", "#2ea55a")
    running = start_host()
    page = shell(running, "").page
    nav = page.locator("#extension-links .nav")
    expect(page.locator("h1:visible")).to_have_text("Extensions")  # nothing installed: its page
    expect(page).to_have_url(re.compile(r"#/extensions$"))
    expect(nav).to_have_count(0)

    # Installed from the page, it opens: a frame of its own origin, signed in by the URL
    # extensions.open gave. The frame is denied storage (a third-party frame), so its calls work
    # only because the page answered its shim's request for a credential.
    install_from_the_page(page, notes)
    open_framed(page, None, "Notes", route=r"#/extension/127\.0\.0\.1:\d+/acme/notes$")
    (listed,) = running_list(page)
    src = page.locator("iframe.extension-frame:visible").get_attribute("src") or ""
    assert src.startswith(listed["origin"] + "/?token="), src
    assert frame_at(page, listed["origin"]).evaluate(STORAGE) == "denied"
    # Its streams are read from their HTTP answers with that credential, on its own origin.
    streamed = frame_at(page, listed["origin"]).evaluate(STREAMED)
    assert streamed["code"] == 0 and len(streamed["lines"]) == 1 and streamed["answers"] == 1, streamed
    expect(nav).to_have_text(["Notes"])
    expect(nav.locator("img.icon")).to_have_attribute("src", listed["icon"])

    page.locator(".sidebar .nav", has_text="Manage extensions").click()
    install_from_the_page(page, board)
    expect(nav).to_have_text(["Board", "Notes"])

    # From the navigation: each extension in its frame, the Docker pages beside them.
    open_framed(page, nav.filter(has_text="Notes"), "Notes", called=False)
    open_framed(page, nav.filter(has_text="Board"), route=r"#/extension/.*/acme/board$")
    expect(page.locator("iframe.extension-frame")).to_have_count(2)  # Notes' is kept, hidden
    page.locator(".sidebar .nav", has_text="Containers").click()
    expect(page).to_have_url(re.compile(r"#/containers$"))
    expect(page.frame_locator("iframe.docker-frame").locator("h1")).to_have_text("Containers")
    page.locator(".sidebar .nav", has_text="Volumes").click()
    expect(page.frame_locator("iframe.docker-frame").locator("h1")).to_have_text("Volumes")

    # A reload keeps the route, and the frame signs in again.
    nav.filter(has_text="Notes").click()
    page.reload()
    expect(nav.filter(has_text="Notes")).to_have_attribute("aria-current", "page")
    open_framed(page)

    # Updated to another tag of its repository (":2.0" is enough), its frame loads afresh.
    page.locator(".sidebar .nav", has_text="Manage extensions").click()
    row = page.locator("table.installed tbody tr", has_text="Notes")
    row.get_by_role("button", name="Update").click()
    expect(page.locator("#update-image")).to_have_value(notes)
    page.locator("#update-image").fill(":2.0")
    page.locator("#update-submit").click()
    card = page.locator(".operation").first
    expect(card.locator("strong")).to_have_text(f"Updating Notes to {newer}")
    expect(card.locator(".outcome")).to_have_text("Done.", timeout=60_000)
    expect(row.locator("td").nth(1)).to_have_text("2.0")
    open_framed(page, row.get_by_role("link", name="Notes"), "Notes 2.0")

    # Removed from the page, once confirmed: gone from the navigation and the list.
    page.locator(".sidebar .nav", has_text="Manage extensions").click()
    questions: list[str] = []

    def decline(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", decline)
    page.locator("table.installed tr", has_text="Board").get_by_role("button", name="Remove").click()
    assert questions and "named volumes are kept" in questions[0], questions
    expect(page.locator(".operation", has_text="Removing Board")).to_have_count(0)  # not confirmed
    expect(page.locator("table.installed tbody tr")).to_have_count(2)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("table.installed tr", has_text="Board").get_by_role("button", name="Remove").click()
    card = page.locator(".operation").first
    expect(card.locator(".outcome")).to_have_text("Done.", timeout=60_000)
    expect(card.locator(".step.done", has_text=f"Removing {repository(board)}")).to_be_visible()
    expect(nav).to_have_text(["Notes"])
    expect(page.locator("table.installed tbody tr")).to_have_count(1)
    page.goto(running.url + "#/extension/" + repository(board))
    expect(page.locator("h1:visible")).to_have_text("Not installed")

    # A pull that fails: the card says where, and stays; nothing is installed.
    page.locator(".sidebar .nav", has_text="Manage extensions").click()
    page.locator("#install-image").fill("127.0.0.1:1/acme/nowhere:1")
    page.get_by_role("button", name="Install").click()
    card = page.locator(".operation.failed").first
    expect(card.locator(".step.failed")).to_contain_text("cannot pull 127.0.0.1:1/acme/nowhere:1")
    expect(card.locator(".outcome[role=alert]")).not_to_be_empty()
    expect(nav).to_have_text(["Notes"])


def running_list(page: Page) -> list[dict[str, str]]:
    """extensions.list as the page's own connection gets it (through a second socket of this
    origin, with the page's credential)."""
    listed: list[dict[str, str]] = page.evaluate(LIST)
    return listed


def test_the_page_hands_a_credential_to_its_own_frames_only(
    start_host: Callable[..., RunningBridge],
    shell: Callable[[RunningBridge, str], ClientPage],
    engine: EngineUnderTest,
    registry: Registry,
) -> None:
    notes = pushed(engine, registry, "notes", "Notes", "#f5a10c")
    board = pushed(engine, registry, "board", "Board", "#2ea55a")
    running = start_host(notes, board)
    client_page = shell(running, "#/extension/" + repository(notes))
    # The frames opened below without a credential get the login page.
    client_page.allow_console(r"status of 40[134]|Blocked autofocusing")
    page = client_page.page
    open_framed(page)
    origins = {entry["name"]: entry["origin"] for entry in running_list(page)}
    origin, other = origins[repository(notes)], origins[repository(board)]

    # The frame it opened: answered, from the page's origin, with a credential for that origin.
    answer = frame_at(page, origin).evaluate(ASK_PARENT)
    assert answer["origin"] == running.url.rstrip("/"), answer
    assert answer["data"]["ddbridgeCredential"].startswith("s2."), answer

    # Not the page itself, nor its Docker pages' frame (of the page's own origin).
    heard = page.evaluate(
        """() => new Promise((resolve) => {
          const seen = [];
          addEventListener("message", (event) => seen.push(event.data));
          postMessage({ddbridgeCredentialRequest: true}, "*");
          setTimeout(() => resolve(seen), 1000);
        })"""
    )
    assert heard == [{"ddbridgeCredentialRequest": True}], heard
    page.locator(".sidebar .nav", has_text="Images").click()
    expect(page.frame_locator("iframe.docker-frame").locator("h1")).to_have_text("Images")
    docker = next(frame for frame in page.frames if "/_ddbridge/docker/" in frame.url)
    assert docker.evaluate(ASK_PARENT) == "none"

    # Not a frame of that same origin that the page did not open (its window is another).
    page.evaluate(ADD_FRAME, origin + "/stray")
    expect(page.frame_locator("#stray").locator("body")).to_be_attached()
    (stray,) = [frame for frame in page.frames if frame.url == origin + "/stray"]
    assert stray.evaluate(ASK_PARENT) == "none"

    # Nor the page's own frame of Notes once it shows another origin (Board's).
    page.locator("#extension-links .nav", has_text="Notes").click()
    framed = frame_at(page, origin)
    framed.evaluate("(url) => { location.href = url; }", other + "/")
    framed.wait_for_url(other + "/")
    assert framed.evaluate(ASK_PARENT) == "none"


def test_a_removal_says_which_named_volumes_it_kept(
    start_host: Callable[..., RunningBridge],
    shell: Callable[[RunningBridge, str], ClientPage],
    engine: EngineUnderTest,
    registry: Registry,
) -> None:
    compose = (
        f"services:\n  backend:\n    image: {engine.image}\n    command: [sleep, '2147483647']\n"
        "    network_mode: none\n    volumes: [data:/data]\nvolumes:\n  data: {}\n"
    )
    metadata = {
        "icon": "icon.svg",
        "vm": {"composefile": "docker-compose.yaml"},
        "ui": {"dashboard-tab": {"title": "Keeper", "root": "/ui", "src": "index.html"}},
    }
    files: dict[str, str | bytes] = {
        "metadata.json": json.dumps(metadata),
        "docker-compose.yaml": compose,
        "icon.svg": ICON.format(colour="#1d63ed"),
        "ui/index.html": UI.format(heading="Keeper"),
    }
    keeper = on_registry(engine, registry, "acme/keeper:1.0", files, "Keeper", "Acme")
    running = start_host(keeper)
    page = shell(running, "#/extensions").page
    row = page.locator("table.installed tbody tr", has_text="Keeper")
    expect(row.locator(".chip")).to_have_text("Running", timeout=30_000)
    expect(row.locator(".sub", has_text="backend:")).to_have_text("backend: running")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Remove").click()
    card = page.locator(".operation").first
    expect(card.locator(".outcome")).to_have_text("Done.", timeout=60_000)
    kept = card.locator(".message.info", has_text="Kept the named volume")
    expect(kept).to_have_count(1)
    volume = (kept.text_content() or "").split()[4]
    try:
        expect(kept).to_have_text(
            f"Kept the named volume {volume} (remove it with: docker volume rm {volume})"
        )
        assert volume.endswith("_data") and volume in engine.docker("volume", "ls", "-q").stdout.split()
        expect(page.locator(".card.empty")).to_contain_text("No extension is installed yet")
    finally:
        engine.docker("volume", "rm", volume, check=False)


def test_an_extension_that_failed_to_come_up_says_why(
    start_host: Callable[..., RunningBridge],
    install: Callable[[str], None],
    shell: Callable[[RunningBridge, str], ClientPage],
    engine: EngineUnderTest,
    registry: Registry,
    artifacts: Path,
) -> None:
    notes = pushed(engine, registry, "notes", "Notes", "#f5a10c")
    broken = pushed(engine, registry, "broken", "Broken", "#d93c3c")
    install(broken)
    engine.docker("rmi", broken)  # its files are cached, its image is gone: it cannot start again
    running = start_host(notes)
    page = shell(running, "#/extensions").page

    row = page.locator("table.installed tbody tr", has_text="Broken")
    expect(row.locator(".chip")).to_have_text("Failed", timeout=30_000)
    why = row.locator(".sub.error").text_content() or ""
    assert why.startswith("no image sha256:"), why  # the reason the host gave
    badge = page.locator("#extension-links .nav", has_text="Broken").locator(".badge.failed")
    expect(badge).to_have_attribute("title", why)
    expect(page.locator("#extension-links .nav", has_text="Notes").locator(".badge")).to_have_count(0)

    # Its page is still served (from its cached files), under a banner saying why it failed.
    open_framed(page, row.get_by_role("link", name="Broken"), "Broken", called=False)
    expect(page.locator("#extension-banner")).to_have_text(f"Its backend failed: {why}")
    page.screenshot(path=str(artifacts / "host-failed.png"))
    open_framed(page, page.locator("#extension-links .nav", has_text="Notes"))
    expect(page.locator("#extension-banner")).to_be_hidden()


def test_a_page_whose_credential_is_refused_says_how_to_sign_in(
    start_host: Callable[..., RunningBridge], shell: Callable[[RunningBridge, str], ClientPage]
) -> None:
    running = start_host()
    client_page = shell(running, "")
    page = client_page.page
    client_page.allow_console(r"WebSocket connection to .* failed|status of 40[13]")
    page.evaluate("localStorage.setItem('ddbridge.credential', 's2.1.0000')")
    page.reload()  # the view cookie still shows the page; its socket is refused
    expect(page.locator("#connection")).to_have_attribute("data-state", "signed-out")
    expect(page.locator("h1:visible")).to_have_text("Not signed in")
    expect(page.locator("#notice-text")).to_contain_text("open the URL ddbridge host printed")


def test_screenshots(
    start_host: Callable[..., RunningBridge],
    shell: Callable[[RunningBridge, str], ClientPage],
    engine: EngineUnderTest,
    registry: Registry,
    sample_ui_build: Path,
    artifacts: Path,
) -> None:
    """The README's pictures (docs/images/host-*.png are copies): the sample extension's UI (React
    and MUI on Docker's theme) in the page, light and dark, and the Extensions page after an
    install from it."""
    metadata = {
        "icon": "docker.svg",
        "ui": {"dashboard-tab": {"title": "Sample extension", "root": "/ui", "src": "index.html"}},
    }
    files: dict[str, str | bytes] = {
        "metadata.json": json.dumps(metadata),
        "docker.svg": (SAMPLE / "docker.svg").read_bytes(),
    }
    files.update(
        {f"ui/{path.name}": path.read_bytes() for path in sample_ui_build.iterdir() if path.is_file()}
    )
    sample = on_registry(
        engine, registry, "docker/sample-extension:1.2.0", files, "Sample extension", "ddbridge"
    )
    others = [
        pushed(engine, registry, "notes", "Notes", "#f5a10c"),
        pushed(engine, registry, "logs", "Logs explorer", "#7d4cf0"),
    ]
    running = start_host(*others)
    page = shell(running, "#/extensions").page
    page.set_viewport_size({"width": 1200, "height": 900})
    install_from_the_page(page, sample)
    expect(shown_frame(page).get_by_test_id("app-title")).to_have_text("Sample extension")
    page.locator(".sidebar .nav", has_text="Manage extensions").click()
    card = page.locator(".operation").first
    card.hover()  # a card under the pointer does not fold
    if "folded" in (card.get_attribute("class") or ""):
        card.locator(".toggle").click()
    expect(card).not_to_have_class(re.compile(r"\bfolded\b"))
    expect(page.locator("table.installed tbody tr").first).to_contain_text("Acme")  # the vendor label
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)
        page.screenshot(path=str(artifacts / f"host-extensions-{scheme}.png"))

    page.set_viewport_size({"width": 1200, "height": 760})
    page.goto(running.url + "#/extension/" + repository(sample))
    page.reload()  # no operation cards
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme)
        expect(shown_frame(page).get_by_test_id("app-title")).to_have_text("Sample extension")
        page.wait_for_timeout(300)  # the framed theme follows the scheme
        page.screenshot(path=str(artifacts / f"host-{scheme}.png"))
