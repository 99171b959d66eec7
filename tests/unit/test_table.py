"""``ls``'s table and JSON: the cells and the alignment of ``docker extension ls``, checked against
outputs of Docker's own CLI, and the note a failed extension gets."""

from __future__ import annotations

import json

from bridge.host.table import Row, render_json, render_table

LOGS = Row(
    name="john/my-extension",
    provider="John",
    version="latest",
    image="john/my-extension:latest",
    tab="My-Extension",
    containers=("running",),
    host_binaries=0,
)


def test_as_docker_desktop_documents_it() -> None:
    # docs.docker.com, "Non-marketplace extensions": `docker extension ls`.
    assert render_table([LOGS]).splitlines() == [
        "ID                  PROVIDER            VERSION             "
        "UI                    VM                  HOST",
        "john/my-extension   John                latest              "
        "1 tab(My-Extension)   Running(1)          -",
    ]


def test_as_docker_extension_ls_printed_two_extensions() -> None:
    # docker/extensions-sdk#207: one with a host binary and no backend, one with a running backend.
    rows = [
        Row("loftsh/vcluster-dd-extension", "Loft Inc.", "0.0.7", "loftsh/vcluster-dd-extension:0.0.7",
            "vcluster", None, 1),
        Row("vmware/vmware-tanzu-community-edition-extension-for-docker-desktop", "VMware, Inc", "0.1.1",
            "vmware/vmware-tanzu-community-edition-extension-for-docker-desktop:0.1.1",
            "Tanzu Community Edition", ("running",), 0),
    ]  # fmt: skip
    assert render_table(rows) == "\n".join(
        [
            "ID                                                                   PROVIDER            "
            "VERSION             UI                               VM                  HOST",
            "loftsh/vcluster-dd-extension                                         Loft Inc.           "
            "0.0.7               1 tab(vcluster)                  -                   1 binarie(s)",
            "vmware/vmware-tanzu-community-edition-extension-for-docker-desktop   VMware, Inc         "
            "0.1.1               1 tab(Tanzu Community Edition)   Running(1)          -",
        ]
    )


def test_nothing_installed_is_the_header_alone() -> None:
    assert (
        render_table([]) == "ID                  PROVIDER            VERSION             "
        "UI                  VM                  HOST"
    )
    assert render_json([]) == "[]"


def test_cells_of_other_states() -> None:
    row = Row(
        name="acme/tool",
        provider="",
        version="",
        image="acme/tool@sha256:" + "0" * 64,
        tab=None,
        containers=("running", "exited", "running"),
        host_binaries=3,
    )
    assert row.cells() == ("acme/tool", "-", "-", "-", "Running(2), Exited(1)", "3 binarie(s)")
    stopped = Row("a/b", "A", "1.0", "a/b:1.0", "Multi\nline\ttitle", (), 0)
    assert stopped.cells()[3:5] == ("1 tab(Multi line title)", "Not running")


def test_a_failed_extension_keeps_its_row_and_gets_a_note() -> None:
    failed = Row(
        "acme/db", "Acme", "2.1.0", "acme/db:2.1.0", "DB", ("exited",), 0, "the backend exited (code 3)"
    )
    lines = render_table([LOGS, failed]).splitlines()
    assert len(lines) == 4
    assert lines[2].split() == ["acme/db", "Acme", "2.1.0", "1", "tab(DB)", "Exited(1)", "-"]
    assert lines[3] == "! acme/db failed: the backend exited (code 3)"
    assert lines[0].index("VM") == lines[2].index("Exited(1)")


def test_json_is_one_array_of_the_columns() -> None:
    failed = Row("acme/db", "Acme", "2.1.0", "acme/db:2.1.0", "DB", ("exited",), 0, "it broke")
    assert json.loads(render_json([LOGS, failed])) == [
        {
            "ID": "john/my-extension",
            "Provider": "John",
            "Version": "latest",
            "Image": "john/my-extension:latest",
            "UI": "1 tab(My-Extension)",
            "VM": "Running(1)",
            "Host": "-",
            "Error": None,
        },
        {
            "ID": "acme/db",
            "Provider": "Acme",
            "Version": "2.1.0",
            "Image": "acme/db:2.1.0",
            "UI": "1 tab(DB)",
            "VM": "Exited(1)",
            "Host": "-",
            "Error": "it broke",
        },
    ]
    assert "\n" not in render_json([LOGS, failed])
