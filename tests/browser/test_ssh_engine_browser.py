"""The sample extension run against an engine on another machine, over ssh (tests/support/remote.py):
its UI in Chromium calls the backend, whose socket is forwarded from that machine, and runs
commands in the backend container there; nothing is left there afterwards."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.browser.helpers import SAMPLE_READY, ClientPage, check_sample_backend
from tests.support.images import ExtensionImages, extension_containers
from tests.support.processes import RunningBridge
from tests.support.remote import RemoteHost

pytestmark = [pytest.mark.browser, pytest.mark.integration]

NAME = "sample-extension"


def test_sample_image_on_an_ssh_engine_in_the_browser(
    bridge: Callable[..., RunningBridge],
    remote: RemoteHost,
    remote_images: ExtensionImages,
    open_page: Callable[..., ClientPage],
    artifacts: Path,
    tmp_path: Path,
) -> None:
    running = bridge(
        remote_images.sample,
        "--cache-dir",
        tmp_path,
        "--docker-host",
        remote.url,
        command="run",
        env=remote.env(),
        timeout=120,
    )
    (backend,) = extension_containers(remote.docker, NAME)
    page = open_page(running.login_url(), ready=SAMPLE_READY).page
    # vm.service → the backend's socket, made there and forwarded here; vm.cli.exec → its container there
    check_sample_backend(page, backend)
    # ddClient.docker.cli.exec → the docker CLI here, pointed at the same remote engine
    names = page.evaluate(
        "async () => (await window.ddClient.docker.cli.exec('ps', ['--format', '{{.Names}}'])).stdout"
    )
    assert remote.docker.vm in names.split()
    page.screenshot(path=artifacts / "sample-extension-ssh.png", full_page=True)

    assert running.stop() == 0
    assert extension_containers(remote.docker, NAME) == []
    assert remote.run("ls", "-A", "/tmp").stdout.split() == []
