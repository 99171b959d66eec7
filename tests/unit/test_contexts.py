"""Which context a Host header selects (bridge.context.ContextTable)."""

from __future__ import annotations

from bridge.config import BackendSettings
from bridge.context import ContextTable, ExtensionContext, ExtensionInfo
from bridge.rpc import Registry
from bridge.service_proxy import ServiceProxy


def context(name: str) -> ExtensionContext:
    return ExtensionContext(ExtensionInfo(id=name), Registry(()), ServiceProxy(BackendSettings()), key=name)


def test_one_extension_answers_every_host_name() -> None:
    only = context("")
    table = ContextTable(only)
    for host in ("127.0.0.1:7700", "localhost:7700", "alpha.localhost:7700", "[::1]:7700", None, "x y"):
        assert table.for_host(host) is only


def test_the_host_selects_an_extension_by_its_localhost_subdomain() -> None:
    shell, alpha = context(""), context("alpha")
    table = ContextTable(shell, {"alpha": alpha}, subdomains=True)
    assert table.for_host("localhost:7700") is shell
    assert table.for_host("127.0.0.1:7700") is shell
    assert table.for_host("alpha.localhost:7700") is alpha
    assert table.for_host("ALPHA.localhost.:7700") is alpha  # as the access gate normalises it
    # Not installed, nested, or look-alikes: no context at all (never the shell's).
    for host in ("beta.localhost:7700", "x.alpha.localhost:7700", "alpha.localhost.evil:7700", ".localhost"):
        assert table.for_host(host) in (None, shell)
    assert table.for_host("beta.localhost:7700") is None
    assert table.for_host("x.alpha.localhost:7700") is None
