"""Pulling through the Engine API from a real registry on loopback (tests/support/registry.py):
per-layer progress, tag, digest and ``latest``, the one-line refusals, credentials from a
config.json ``auths`` entry and from a credential helper, and ``ensure_image``'s ``--no-pull``.

Docker only: the private Podman service has a network namespace of its own, where no registry on
the host's loopback answers (and Podman wants TLS from a registry its registries.conf does not
list as insecure).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from bridge.docker_engine import DockerEngine, EngineAddress
from bridge.extension.image import ImageNotFound
from bridge.extension.metadata import ExtensionError
from bridge.host.pull import PullEvent, ensure_image, pull_image
from bridge.progress import Progress
from bridge.testing import free_port
from tests.conftest import write_script
from tests.support.dockerd import EngineUnderTest
from tests.support.registry import PushedImage, Registry, fresh_image, registry_or_skip

pytestmark = pytest.mark.integration

USER = "ddbridge"
PASSWORD = secrets.token_hex(12)

Publish = Callable[..., PushedImage]


@pytest.fixture(scope="session")
def auth_registry() -> Iterator[Registry]:
    """A registry that wants basic auth (htpasswd) for every request."""
    yield from registry_or_skip("the pull tests", user=(USER, PASSWORD))


@pytest.fixture
async def docker_engine(engine: EngineUnderTest) -> AsyncIterator[DockerEngine]:
    client = DockerEngine(EngineAddress(engine.host))
    yield client
    await client.aclose()


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """An empty docker CLI config folder: the machine's ~/.docker is never read."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    return folder


@pytest.fixture
def publish(engine: EngineUnderTest) -> Iterator[Publish]:
    """``publish(registry, name, layers=2)``: a fresh image pushed as ``name`` and gone from the
    engine; whatever the test pulls of it is removed after."""
    pushed: list[PushedImage] = []

    def push(registry: Registry, name: str, layers: int = 2) -> PushedImage:
        local = fresh_image(engine, f"ddbridge-test/fresh-{secrets.token_hex(4)}", layers)
        image = registry.push(engine, local, name, remove_source=True)
        pushed.append(image)
        assert engine.docker("image", "inspect", image.image_id, check=False).returncode != 0
        return image

    yield push
    for image in pushed:
        engine.docker("rmi", "-f", image.image_id, check=False)


def unique(name: str) -> str:
    return f"ddbridge-test/{name}-{secrets.token_hex(3)}"


def one_line(error: BaseException) -> str:
    message = str(error)
    assert "\n" not in message and message, message
    return message


async def test_pull_reports_each_layer_and_returns_the_image_id(
    registry: Registry,
    publish: Publish,
    docker_engine: DockerEngine,
    config_dir: Path,
    engine: EngineUnderTest,
) -> None:
    image = publish(registry, f"{unique('layers')}:1.0")
    events: list[PullEvent] = []
    output = io.StringIO()

    pulled = await pull_image(
        docker_engine,
        image.reference,
        Progress(output, interactive=False),
        config_dir=config_dir,
        on_event=events.append,
    )

    assert pulled == image.image_id
    assert engine.docker("image", "inspect", "-f", "{{.Id}}", image.reference).stdout.strip() == pulled
    layers = {event.layer for event in events if event.layer is not None}
    assert len(layers) == 2
    for layer in layers:
        own = [event for event in events if event.layer == layer]
        assert own[-1].status == "Pull complete"
        downloading = [event for event in own if event.status == "Downloading"]
        assert downloading, own
        assert all(e.total and e.current is not None and 0 <= e.current <= e.total for e in downloading)
    assert [event.layer for event in events if event.status.startswith("Digest:")] == [None]
    assert any(
        event.as_dict()
        == {"layer": None, "status": f"Digest: {image.digest}", "current": None, "total": None}
        for event in events
    )
    lines = output.getvalue().splitlines()
    assert lines[0] == f"… Pulling {image.reference}"
    assert lines[1].startswith(f"✓ Pulling {image.reference} (")
    # Two layers of 256 KiB of random bytes (which gzip cannot shrink), plus their tar headers.
    assert re.fullmatch(
        rf"  {re.escape(image.reference)}: 2 layers pulled \(52\d(\.\d)?kB\), image {pulled}", lines[2]
    )


async def test_pull_by_digest_and_without_tag(
    registry: Registry,
    publish: Publish,
    docker_engine: DockerEngine,
    config_dir: Path,
    engine: EngineUnderTest,
) -> None:
    progress = Progress(io.StringIO(), interactive=False)
    by_digest = publish(registry, unique("digest"), layers=1)
    assert (
        await pull_image(docker_engine, by_digest.by_digest, progress, config_dir=config_dir)
        == by_digest.image_id
    )
    assert engine.docker("image", "inspect", by_digest.reference, check=False).returncode != 0  # no tag made

    latest = publish(registry, unique("latest"), layers=1)
    assert latest.tag == "latest"
    assert (
        await pull_image(docker_engine, latest.repository, progress, config_dir=config_dir) == latest.image_id
    )


async def test_unknown_tag_is_one_line_naming_the_reference_and_the_registrys_words(
    registry: Registry, publish: Publish, docker_engine: DockerEngine, config_dir: Path
) -> None:
    image = publish(registry, unique("tags"), layers=1)
    missing = f"{image.repository}:no-such-tag"
    with pytest.raises(ExtensionError) as caught:
        await pull_image(
            docker_engine, missing, Progress(io.StringIO(), interactive=False), config_dir=config_dir
        )
    message = one_line(caught.value)
    assert message.startswith(f"cannot pull {missing}: ")
    assert "manifest unknown" in message


async def test_a_registry_that_is_not_there(docker_engine: DockerEngine, config_dir: Path) -> None:
    reference = f"127.0.0.1:{free_port()}/nobody/here:1"
    with pytest.raises(ExtensionError) as caught:
        await pull_image(
            docker_engine, reference, Progress(io.StringIO(), interactive=False), config_dir=config_dir
        )
    message = one_line(caught.value)
    assert message.startswith(f"cannot pull {reference}: ")
    assert "connection refused" in message


async def test_auth_required_without_credentials_says_so(
    auth_registry: Registry, publish: Publish, docker_engine: DockerEngine, config_dir: Path
) -> None:
    image = publish(auth_registry, unique("private"), layers=1)
    with pytest.raises(ExtensionError) as caught:
        await pull_image(
            docker_engine, image.reference, Progress(io.StringIO(), interactive=False), config_dir=config_dir
        )
    assert one_line(caught.value) == (
        f'cannot pull {image.reference}: Head "http://{auth_registry.address}/v2/{image.repository.partition("/")[2]}'
        f'/manifests/latest": no basic auth credentials (no credentials for {auth_registry.address} in '
        f"{config_dir / 'config.json'}: `docker login {auth_registry.address}` first)"
    )


def write_config(folder: Path, config: dict[str, object]) -> None:
    (folder / "config.json").write_text(json.dumps(config))


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_credentials_from_the_config_auths_entry(
    auth_registry: Registry,
    publish: Publish,
    docker_engine: DockerEngine,
    config_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    image = publish(auth_registry, unique("auths"), layers=1)
    # As `docker login` writes it; a URL-shaped key matches its host name, as in the CLI.
    write_config(
        config_dir, {"auths": {f"http://{auth_registry.address}/v2/": {"auth": basic(USER, PASSWORD)}}}
    )
    output = io.StringIO()
    with caplog.at_level(logging.DEBUG):
        pulled = await pull_image(
            docker_engine, image.reference, Progress(output, interactive=False), config_dir=config_dir
        )
    assert pulled == image.image_id
    assert f"credentials for {auth_registry.address} from {config_dir / 'config.json'}: auths[" in caplog.text
    assert PASSWORD not in caplog.text + output.getvalue()


async def test_wrong_credentials_name_where_they_came_from(
    auth_registry: Registry, publish: Publish, docker_engine: DockerEngine, config_dir: Path
) -> None:
    image = publish(auth_registry, unique("wrong"), layers=1)
    write_config(config_dir, {"auths": {auth_registry.address: {"auth": basic(USER, "not-the-password")}}})
    with pytest.raises(ExtensionError) as caught:
        await pull_image(
            docker_engine, image.reference, Progress(io.StringIO(), interactive=False), config_dir=config_dir
        )
    message = one_line(caught.value)
    assert message.startswith(f"cannot pull {image.reference}: ")
    assert message.endswith(
        f"(with the credentials of {config_dir / 'config.json'}: auths['{auth_registry.address}'])"
    )
    assert "not-the-password" not in message


def install_helper(folder: Path, answers: dict[str, tuple[str, str]], record: Path) -> None:
    """``docker-credential-ddbtest``, a credential helper after docker-credential-helpers'
    protocol: ``get`` reads the server on stdin, answers its JSON or "credentials not found"."""
    cases = ""
    for server, (user, secret) in answers.items():
        answer = json.dumps({"ServerURL": server, "Username": user, "Secret": secret})
        cases += f"  \"{server}\") printf '%s' '{answer}' ;;\n"
    write_script(
        folder,
        "docker-credential-ddbtest",
        f'[ "$1" = get ] || exit 2\nread -r server || true\nprintf "%s\\n" "$server" >> {record}\n'
        f'case "$server" in\n{cases}  *) echo "credentials not found in native keychain"; exit 1 ;;\nesac\n',
    )


@pytest.mark.parametrize("setting", ["credHelpers", "credsStore"])
async def test_credentials_from_a_credential_helper(
    setting: str,
    auth_registry: Registry,
    publish: Publish,
    docker_engine: DockerEngine,
    config_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    image = publish(auth_registry, unique("helper"), layers=1)
    record = tmp_path / "asked"
    install_helper(tmp_path / "bin", {auth_registry.address: (USER, PASSWORD)}, record)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    helper = {auth_registry.address: "ddbtest"} if setting == "credHelpers" else "ddbtest"
    # The helper wins over an auths entry, as in the CLI: this one would be refused.
    write_config(
        config_dir, {setting: helper, "auths": {auth_registry.address: {"auth": basic(USER, "stale")}}}
    )
    with caplog.at_level(logging.DEBUG):
        pulled = await pull_image(
            docker_engine, image.reference, Progress(io.StringIO(), interactive=False), config_dir=config_dir
        )
    assert pulled == image.image_id
    assert record.read_text() == f"{auth_registry.address}\n"
    assert f"credentials for {auth_registry.address} from docker-credential-ddbtest" in caplog.text
    assert PASSWORD not in caplog.text


async def test_ensure_image_with_no_pull_on_a_missing_image(
    registry: Registry,
    publish: Publish,
    docker_engine: DockerEngine,
    config_dir: Path,
    engine: EngineUnderTest,
) -> None:
    image = publish(registry, unique("ensure"), layers=1)
    output = io.StringIO()
    progress = Progress(output, interactive=False)
    with pytest.raises(ImageNotFound) as caught:
        await ensure_image(docker_engine, image.reference, progress, pull=False, config_dir=config_dir)
    assert one_line(caught.value) == (
        f"image {image.reference} is not on the engine at {engine.host} and --no-pull was given"
    )
    assert output.getvalue() == ""

    assert (
        await ensure_image(docker_engine, image.reference, progress, pull=True, config_dir=config_dir)
        == image.image_id
    )
    assert f"Pulling {image.reference}" in output.getvalue()
    again = io.StringIO()
    found = await ensure_image(
        docker_engine, image.reference, Progress(again), pull=False, config_dir=config_dir
    )
    assert found == image.image_id
    assert again.getvalue() == ""
