"""``ssh://`` engine addresses: taken apart, checked by the settings, and what messages name."""

from __future__ import annotations

import pytest

from bridge.config import load_settings
from bridge.docker_engine import EngineAddress
from bridge.errors import ConfigError
from bridge.extension.session import engine_socket_note
from bridge.ssh_engine import SshTarget


@pytest.mark.parametrize(
    ("url", "target", "display"),
    [
        ("ssh://host", SshTarget("host"), "ssh://host"),
        ("ssh://root@10.0.0.2", SshTarget("10.0.0.2", "root"), "ssh://root@10.0.0.2"),
        ("ssh://u@h:2222/", SshTarget("h", "u", 2222), "ssh://u@h:2222"),
        (
            "ssh://u@h/run/podman/podman.sock",
            SshTarget("h", "u", None, "/run/podman/podman.sock"),
            "ssh://u@h",
        ),
        ("ssh://me@[::1]:22", SshTarget("::1", "me", 22), "ssh://me@[::1]:22"),
    ],
)
def test_addresses_are_taken_apart(url: str, target: SshTarget, display: str) -> None:
    assert SshTarget.parse(url) == target
    assert target.display == display


def test_the_destination_ends_options_before_the_host() -> None:
    """A host that starts with ``-`` is a host to ssh, not an option."""
    assert SshTarget("-oProxyCommand=x", "u", 2).destination() == [
        "-p",
        "2",
        "-l",
        "u",
        "--",
        "-oProxyCommand=x",
    ]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ssh://", "is not an ssh address like ssh://[user@]host"),
        ("ssh://u:secret@h", "a password in the address is not supported"),
        ("ssh://h:port", "the port is not a number"),
        ("ssh://h?x=1", "no ?query"),
        ("ssh://h/a:b.sock", "whose path holds ':'"),
    ],
)
def test_bad_addresses_are_one_line_settings_errors(url: str, says: str) -> None:
    with pytest.raises(ConfigError, match=r"^setting docker\.host: ") as error:
        load_settings(flags={"docker": {"host": url}}, environ={})
    assert says in str(error.value)


def test_ssh_options_come_from_the_environment_as_a_list() -> None:
    settings = load_settings(
        environ={"DOCKER_HOST": "ssh://root@h", "DDBRIDGE_DOCKER_SSH_OPTIONS": "-F, /tmp/x/ssh_config"}
    )
    address = EngineAddress.resolve(
        settings.docker, {"DOCKER_HOST": "ssh://root@h", "DOCKER_TLS_VERIFY": "1"}
    )
    assert (address.host, address.ssh_options) == ("ssh://root@h", ("-F", "/tmp/x/ssh_config"))
    # DOCKER_TLS_VERIFY is about tcp://: ssh has its own encryption.
    assert not address.uses_tls


@pytest.mark.parametrize(
    ("host", "noted"),
    [
        ("ssh://root@h", False),
        ("ssh://root@h/var/run/docker.sock", False),
        ("ssh://root@h/run/docker.sock", False),
        ("ssh://root@h/run/podman/podman.sock", True),
    ],
)
def test_the_socket_note_knows_ssh_addresses(host: str, noted: bool) -> None:
    note = engine_socket_note(host)
    assert (note is not None) == noted
    if note is not None:
        assert note.startswith("the Docker engine is at /run/podman/podman.sock on ssh://root@h, not ")
