"""The docker CLI's contexts as ddbridge reads them (``bridge.docker_contexts``), from stores the
real ``docker context create`` writes in a temporary ``DOCKER_CONFIG``, and the engine choice of
``EngineAddress.resolve`` checked against the CLI's own (``docker context inspect``)."""

from __future__ import annotations

import hashlib
import os
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.config import DockerSettings
from bridge.docker_contexts import ContextError, config_dir, current_context, read_context
from bridge.docker_engine import DEFAULT_HOST, EngineAddress
from tests.support.dockerd import EngineMissing
from tests.support.tcp_engines import Certificates, make_certificates

# The real docker CLI writes the stores: not part of --quick, which installs no Debian packages.
pytestmark = pytest.mark.integration

# The CLI's own answer: the context it resolves and the engine address it would use.
CHOSEN = "{{.Name}} {{.Endpoints.docker.Host}}"


@pytest.fixture(scope="module")
def docker_cli() -> str:
    found = shutil.which("docker")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("the context tests need the docker CLI (install Debian's docker.io)", pytrace=False)
        pytest.skip("no docker CLI (install Debian's docker.io)")
    return found


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    try:
        return make_certificates(tmp_path_factory.mktemp("certs"))
    except EngineMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the context tests need openssl: {exc}", pytrace=False)
        pytest.skip(str(exc))


class Store:
    """A docker CLI configuration folder of its own, written by the real CLI."""

    def __init__(self, cli: str, folder: Path) -> None:
        self.cli = cli
        self.folder = folder

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a process that has only this store, and ``extra``."""
        base = {key: value for key, value in os.environ.items() if not key.startswith("DOCKER_")}
        return {**base, "DOCKER_CONFIG": str(self.folder), **extra}

    def docker(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [self.cli, *args], env=env or self.env(), capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def create(self, name: str, docker: str) -> None:
        self.docker("context", "create", name, "--docker", docker)


@pytest.fixture
def store(docker_cli: str, tmp_path: Path) -> Store:
    return Store(docker_cli, tmp_path / "docker-config")


def test_a_tls_context_is_its_endpoint_and_its_tls_folder(store: Store, certificates: Certificates) -> None:
    files = certificates.client
    store.create(
        "tls-ctx", f"host=tcp://127.0.0.1:2376,ca={files}/ca.pem,cert={files}/cert.pem,key={files}/key.pem"
    )
    context = read_context("tls-ctx", store.folder)
    assert (context.host, context.skip_tls_verify, context.uses_tls) == ("tcp://127.0.0.1:2376", False, True)
    assert sorted(path.name for path in context.tls_folder.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]
    address = EngineAddress.resolve(DockerSettings(), store.env(DOCKER_CONTEXT="tls-ctx"))
    assert address == EngineAddress(
        "tcp://127.0.0.1:2376",
        True,
        context.tls_folder,
        tls=True,
        context="tls-ctx",
        source="context 'tls-ctx' from DOCKER_CONTEXT",
    )
    verifying = address.ssl_context()
    assert verifying is not None and verifying.verify_mode == ssl.CERT_REQUIRED and verifying.check_hostname
    assert address.url() == "https://127.0.0.1:2376"


def test_skip_tls_verify_is_tls_without_verifying(store: Store, certificates: Certificates) -> None:
    files = certificates.client
    store.create(
        "skip-ctx", f"host=tcp://h:2376,cert={files}/cert.pem,key={files}/key.pem,skip-tls-verify=true"
    )
    address = EngineAddress.resolve(DockerSettings(context="skip-ctx"), store.env())
    assert (address.tls, address.tls_verify, address.source) == (
        True,
        False,
        "context 'skip-ctx' from [docker] context / --context",
    )
    unverified = address.ssl_context()
    assert unverified is not None and unverified.verify_mode == ssl.CERT_NONE
    assert address.cli_env()["DOCKER_TLS"] == "1" and address.cli_env()["DOCKER_TLS_VERIFY"] == ""


def test_a_plain_context_has_no_tls(store: Store) -> None:
    store.create("plain-ctx", "host=tcp://h:2375")
    address = EngineAddress.resolve(DockerSettings(context="plain-ctx"), store.env())
    assert (address.uses_tls, address.cert_path, address.url()) == (False, None, "http://h:2375")


@pytest.mark.parametrize(
    ("flag", "env", "current"),
    [
        (None, {}, None),
        (None, {"DOCKER_HOST": "tcp://env:1"}, None),
        (None, {"DOCKER_CONTEXT": "ctx-a"}, None),
        (None, {"DOCKER_CONTEXT": "ctx-a", "DOCKER_HOST": "tcp://env:1"}, None),
        ("ctx-a", {"DOCKER_HOST": "tcp://env:1"}, None),
        (None, {}, "ctx-b"),
        (None, {"DOCKER_CONTEXT": "ctx-a"}, "ctx-b"),
        (None, {"DOCKER_HOST": "tcp://env:1"}, "ctx-b"),
        ("default", {"DOCKER_HOST": "tcp://env:1"}, "ctx-b"),
        (None, {"DOCKER_CONTEXT": "default"}, "ctx-b"),
    ],
)
def test_the_engine_is_the_one_the_docker_cli_chooses(
    store: Store, flag: str | None, env: dict[str, str], current: str | None
) -> None:
    store.create("ctx-a", "host=tcp://a:1")
    store.create("ctx-b", "host=tcp://b:1")
    if current is not None:
        store.docker("context", "use", current)
    environ = store.env(**env)
    cli = store.docker(
        *(["--context", flag] if flag else []), "context", "inspect", "--format", CHOSEN, env=environ
    )
    address = EngineAddress.resolve(DockerSettings(context=flag), environ)
    assert f"{address.context or 'default'} {address.host}" == cli
    if current is not None and not env and flag is None:
        assert address.source == f"context 'ctx-b' from currentContext of {store.folder / 'config.json'}"


def test_the_cli_given_cli_env_ignores_what_it_inherited(store: Store, certificates: Certificates) -> None:
    """An inherited DOCKER_CONTEXT (or TLS variables) must not send docker.cli.exec elsewhere."""
    store.create("ctx-a", "host=tcp://a:1")
    store.create("ctx-b", "host=tcp://b:1")
    inherited = store.env(
        DOCKER_CONTEXT="ctx-a", DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(certificates.wrong_ca)
    )
    address = EngineAddress.resolve(DockerSettings(context="ctx-b"), inherited)
    given = {**inherited, **address.cli_env()}
    assert store.docker("context", "inspect", "--format", CHOSEN, env=given) == "default tcp://b:1"


def test_ddbridges_own_setting_comes_first(store: Store) -> None:
    store.create("ctx-a", "host=tcp://a:1")
    store.docker("context", "use", "ctx-a")
    environ = store.env(DOCKER_HOST="tcp://env:1", DOCKER_CONTEXT="ctx-a")
    address = EngineAddress.resolve(DockerSettings(host="unix:///run/mine.sock"), environ)
    assert (address.host, address.context) == ("unix:///run/mine.sock", None)
    assert config_dir({"DOCKER_CONFIG": str(store.folder)}) == store.folder
    assert current_context(store.folder) == "ctx-a"


def test_an_unknown_context_names_itself_and_the_file_looked_for(store: Store) -> None:
    store.create("ctx-a", "host=tcp://a:1")
    with pytest.raises(ContextError) as refused:
        EngineAddress.resolve(DockerSettings(), store.env(DOCKER_CONTEXT="nope"))
    message = str(refused.value)
    assert (
        "'nope'" in message and str(store.folder / "contexts" / "meta") in message and "meta.json" in message
    )
    assert "\n" not in message


def test_a_damaged_context_names_its_file(store: Store) -> None:
    store.create("ctx-a", "host=tcp://a:1")
    (meta,) = (store.folder / "contexts" / "meta").glob("*/meta.json")
    meta.write_text('{"Name": "ctx-a", "Endpoints": ')
    with pytest.raises(ContextError, match=r"'ctx-a' is damaged: .*meta\.json is not valid JSON"):
        read_context("ctx-a", store.folder)
    meta.write_text('{"Name": "ctx-a", "Endpoints": {}}')
    with pytest.raises(ContextError, match=r"context 'ctx-a' has no Docker endpoint .* in .*meta\.json"):
        read_context("ctx-a", store.folder)


def test_a_damaged_config_json_names_its_file(store: Store) -> None:
    store.folder.mkdir()
    (store.folder / "config.json").write_text("{oops")
    with pytest.raises(ContextError, match=r"config\.json is not valid JSON"):
        EngineAddress.resolve(DockerSettings(), store.env())
    # DOCKER_HOST settles it before the configuration is read, as with the CLI.
    assert EngineAddress.resolve(DockerSettings(), store.env(DOCKER_HOST=DEFAULT_HOST)).host == DEFAULT_HOST


def test_conflicting_engine_flags_are_refused_as_the_cli_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--docker-host", "unix:///x.sock", "--context", "some-ctx"])
    assert exited.value.code == 2
    said = capsys.readouterr().err.strip()
    assert said.endswith(
        "argument --context: not allowed with argument --docker-host (see ddbridge serve --help)"
    )


def test_an_unknown_context_stops_the_start_with_one_line(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(store.folder))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    meta = store.folder / "contexts" / "meta" / hashlib.sha256(b"nowhere").hexdigest() / "meta.json"
    for command in (
        ["serve", "--port", "0"],
        ["extension", "ls", "--data-dir", str(store.folder / "data")],
        ["doctor"],
    ):
        assert main([*command, "--context", "nowhere"]) == 2, command
        said = capsys.readouterr()
        assert said.out == "", command  # nothing done before
        assert said.err.strip() == (
            f"ddbridge: no Docker context 'nowhere': {meta} does not exist "
            f"(`docker context ls` lists the contexts of {store.folder})"
        )
