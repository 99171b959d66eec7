"""Registry credentials as the docker CLI finds them (bridge/host/registry_auth.py) and the image
references that name the registry (bridge/host/reference.py): real config files, real helper
programs."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from bridge.extension.metadata import ExtensionError
from bridge.host.reference import DOCKER_HUB_KEY, ImageReference
from bridge.host.registry_auth import (
    Credentials,
    docker_config_dir,
    find_credentials,
    from_auths,
    helper_for,
    parse_helper_answer,
    read_config,
    run_helper,
)
from tests.conftest import write_script

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("reference", "name", "domain", "tag", "digest"),
    [
        ("busybox", "busybox", "docker.io", None, None),
        ("org/name:1.0", "org/name", "docker.io", "1.0", None),
        ("docker.io/library/busybox:1", "docker.io/library/busybox", "docker.io", "1", None),
        ("index.docker.io/org/x", "index.docker.io/org/x", "docker.io", None, None),
        ("localhost/x", "localhost/x", "localhost", None, None),
        ("localhost:5000/a/b:t", "localhost:5000/a/b", "localhost:5000", "t", None),
        ("127.0.0.1:5591/x/busy@" + DIGEST, "127.0.0.1:5591/x/busy", "127.0.0.1:5591", None, DIGEST),
        ("ghcr.io/o/n:v2@" + DIGEST, "ghcr.io/o/n", "ghcr.io", "v2", DIGEST),
        ("Registry/name", "Registry/name", "Registry", None, None),
        (
            "my-registry.example.com/team/ext:latest",
            "my-registry.example.com/team/ext",
            "my-registry.example.com",
            "latest",
            None,
        ),
    ],
)
def test_references_split_as_distribution_does(
    reference: str, name: str, domain: str, tag: str | None, digest: str | None
) -> None:
    assert ImageReference.parse(reference) == ImageReference(name, domain, tag, digest)


def test_what_a_reference_means_to_the_engine_and_the_cli_config() -> None:
    hub = ImageReference.parse("busybox")
    assert (hub.registry_key, hub.api_tag, hub.pinned) == (DOCKER_HUB_KEY, "latest", "busybox:latest")
    local = ImageReference.parse("127.0.0.1:5000/x:1.0")
    assert (local.registry_key, local.api_tag, local.pinned) == (
        "127.0.0.1:5000",
        "1.0",
        "127.0.0.1:5000/x:1.0",
    )
    # A digest wins over a tag, as `docker pull name:tag@digest` does.
    both = ImageReference.parse("127.0.0.1:5000/x:1.0@" + DIGEST)
    assert (both.api_tag, both.pinned) == (DIGEST, f"127.0.0.1:5000/x@{DIGEST}")


@pytest.mark.parametrize("reference", ["", "UPPER", "x:", "a//b", "x:tag:more", "-x", "x@sha256:12", "a b"])
def test_not_a_reference(reference: str) -> None:
    with pytest.raises(ExtensionError, match="is not an image reference"):
        ImageReference.parse(reference)


def test_an_image_id_is_not_pulled() -> None:
    with pytest.raises(ExtensionError, match="is an image id"):
        ImageReference.parse("sha256:" + "0" * 64)


def test_the_header_is_base64url_json_without_empty_fields() -> None:
    credentials = Credentials("127.0.0.1:5000", "test", "user", "???>>>")
    header = credentials.header()
    assert "+" not in header and "/" not in header  # '???>>>' is Pz8/Pj4+ in plain base64
    assert json.loads(base64.urlsafe_b64decode(header)) == {
        "username": "user",
        "password": "???>>>",
        "serveraddress": "127.0.0.1:5000",
    }
    token = Credentials(DOCKER_HUB_KEY, "test", identity_token="tok")
    assert json.loads(base64.urlsafe_b64decode(token.header())) == {
        "identitytoken": "tok",
        "serveraddress": DOCKER_HUB_KEY,
    }


def test_secrets_stay_out_of_repr() -> None:
    shown = repr(Credentials("r", "src", "user", "hunter2", "tok-secret"))
    assert "user" in shown
    assert "hunter2" not in shown and "tok-secret" not in shown


def test_the_config_folder_is_docker_config_else_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert docker_config_dir({"DOCKER_CONFIG": "/etc/dc"}) == Path("/etc/dc")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert docker_config_dir({}) == tmp_path / ".docker"


def write_config(folder: Path, content: str | dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_config_missing_is_empty_but_a_broken_one_fails(tmp_path: Path) -> None:
    assert read_config(tmp_path / "none") == {}
    path = write_config(tmp_path / "bad", '{"auths": ')
    with pytest.raises(ExtensionError, match=rf"^the docker CLI config {path} is not JSON: "):
        read_config(path.parent)
    write_config(tmp_path / "list", "[]")
    with pytest.raises(ExtensionError, match=r"is not a JSON object$"):
        read_config(tmp_path / "list")


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_auths_entries_as_the_cli_writes_them() -> None:
    path = Path("/c/config.json")
    config = {
        "auths": {
            "127.0.0.1:5000": {"auth": basic("alice", "pa:ss")},
            "https://index.docker.io/v1/": {"identitytoken": "tok"},
            "https://other.example:8443/v1/": {"username": "bob", "password": "pw"},
            "empty.example": {},
        }
    }
    alice = from_auths(config, "127.0.0.1:5000", path)
    assert alice is not None
    assert (alice.username, alice.password, alice.server) == ("alice", "pa:ss", "127.0.0.1:5000")
    assert alice.source == "/c/config.json: auths['127.0.0.1:5000']"
    hub = from_auths(config, DOCKER_HUB_KEY, path)
    assert hub is not None and hub.identity_token == "tok"
    # A URL-shaped key matches its host name, as the CLI's file store compares them.
    bob = from_auths(config, "other.example:8443", path)
    assert bob is not None and (bob.username, bob.password) == ("bob", "pw")
    assert from_auths(config, "empty.example", path) is None
    assert from_auths(config, "nowhere.example", path) is None


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"auth": "not base64!"}, r"\.auth is not base64 of user:password$"),
        ({"auth": base64.b64encode(b"no-colon-secret").decode()}, r"\(no ':'\)$"),
        ({"auth": 5}, "is not an object of strings$"),
        ("text", "is not an object of strings$"),
    ],
)
def test_broken_auths_entries_name_the_entry_not_the_secret(entry: object, problem: str) -> None:
    with pytest.raises(ExtensionError, match=problem) as caught:
        from_auths({"auths": {"r.example": entry}}, "r.example", Path("/c/config.json"))
    assert str(caught.value).startswith("/c/config.json: auths['r.example']")
    assert "no-colon-secret" not in str(caught.value)


def test_the_helper_for_a_registry() -> None:
    path = Path("/c/config.json")
    config = {"credHelpers": {"gcr.io": "gcloud"}, "credsStore": "desktop"}
    assert helper_for(config, "gcr.io", path) == "gcloud"
    assert helper_for(config, "other.io", path) == "desktop"
    assert helper_for({}, "other.io", path) is None
    with pytest.raises(ExtensionError, match=r"is not a helper name: '\.\./x'$"):
        helper_for({"credsStore": "../x"}, "r", path)
    with pytest.raises(ExtensionError, match=r"credHelpers is not an object$"):
        helper_for({"credHelpers": ["x"]}, "r", path)


def test_helper_answers() -> None:
    found = parse_helper_answer("t", "r", b'{"ServerURL":"r","Username":"u","Secret":"s"}')
    assert (found.username, found.password, found.identity_token, found.source) == (
        "u",
        "s",
        "",
        "docker-credential-t",
    )
    token = parse_helper_answer("t", "r", b'{"ServerURL":"r","Username":"<token>","Secret":"tok"}')
    assert (token.username, token.password, token.identity_token) == ("", "", "tok")
    with pytest.raises(ExtensionError, match=r"^docker-credential-t get r: the answer is not JSON$"):
        parse_helper_answer("t", "r", b"secret-ish garbage")
    with pytest.raises(ExtensionError, match=r"no string Username and Secret$"):
        parse_helper_answer("t", "r", b'{"Username": "u"}')


@pytest.fixture
def helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on PATH for docker-credential-* scripts."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    return folder


async def test_a_real_helper_gets_the_key_on_stdin(helpers: Path, tmp_path: Path) -> None:
    asked = tmp_path / "asked"
    write_script(
        helpers,
        "docker-credential-ok",
        f'[ "$1" = get ] || exit 2\ncat > {asked}\n'
        'printf \'{"ServerURL":"x","Username":"u","Secret":"s3"}\'\n',
    )
    found = await run_helper("ok", DOCKER_HUB_KEY)
    assert found is not None and (found.username, found.password, found.server) == ("u", "s3", DOCKER_HUB_KEY)
    assert asked.read_text() == DOCKER_HUB_KEY  # no newline, as the CLI writes it


async def test_helper_not_found_failing_slow_or_missing(helpers: Path) -> None:
    write_script(
        helpers, "docker-credential-none", "echo 'credentials not found in native keychain'; exit 1\n"
    )
    assert await run_helper("none", "r.example") is None
    write_script(helpers, "docker-credential-broken", "echo 'keychain is locked' >&2; exit 3\n")
    with pytest.raises(ExtensionError) as caught:
        await run_helper("broken", "r.example")
    assert (
        str(caught.value) == "docker-credential-broken get r.example failed (exit code 3): keychain is locked"
    )
    write_script(helpers, "docker-credential-slow", "exec sleep 30\n")
    with pytest.raises(
        ExtensionError, match=r"^docker-credential-slow get r\.example did not answer within 0\.3 s$"
    ):
        await run_helper("slow", "r.example", timeout=0.3)
    with pytest.raises(ExtensionError, match=r"^cannot run the credential helper docker-credential-gone "):
        await run_helper("gone", "r.example")


async def test_a_configured_helper_wins_over_auths(helpers: Path, tmp_path: Path) -> None:
    write_script(
        helpers, "docker-credential-none", "echo 'credentials not found in native keychain'; exit 1\n"
    )
    folder = tmp_path / "cfg"
    write_config(folder, {"credsStore": "none", "auths": {"r.example": {"auth": basic("u", "p")}}})
    # As the CLI's native store: a helper that has nothing means no credentials, not the file's.
    assert await find_credentials("r.example", folder) is None
    write_config(folder, {"auths": {"r.example": {"auth": basic("u", "p")}}})
    found = await find_credentials("r.example", folder)
    assert found is not None and (found.username, found.password) == ("u", "p")
