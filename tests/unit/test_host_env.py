from __future__ import annotations

import re

import pytest

from bridge.errors import InvalidParams
from bridge.processes.host_env import check_host_env


@pytest.mark.parametrize(
    "name",
    [
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "LD_AUDIT",
        "ld_preload",
        "Ld_Preload",
        "DYLD_INSERT_LIBRARIES",
        "GLIBC_TUNABLES",
        "GCONV_PATH",
        "LOCPATH",
        "HOSTALIASES",
        "RES_OPTIONS",
        "MALLOC_CHECK_",
        "BASH_ENV",
        "ENV",
        "BASH_FUNC_echo%%",
        "bash_func_ls()",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "PROMPT_COMMAND",
        "IFS",
        "PATH",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "PERL5OPT",
        "RUBYOPT",
        "NODE_OPTIONS",
        "JAVA_TOOL_OPTIONS",
        "LUA_INIT_5_4",
    ],
)
def test_code_running_variables_are_refused_by_name(name: str) -> None:
    with pytest.raises(InvalidParams, match=re.escape(f"{name} is refused")) as caught:
        check_host_env({"DDB_VAR": "fine", name: "x"})
    assert caught.value.field == f"env.{name}"


@pytest.mark.parametrize(("name", "value"), [("", "x"), ("A=B", "x"), ("A\x00B", "x")])
def test_malformed_names_are_refused(name: str, value: str) -> None:
    with pytest.raises(InvalidParams, match="is not a variable name"):
        check_host_env({name: value})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DDB_VAR": "a\x00b"}, "value of DDB_VAR holds a NUL"),
        ({"greet": "() { id; }"}, "value of greet starts with '\\(\\)'"),
    ],
)
def test_values_a_shell_would_misread_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidParams, match=message):
        check_host_env(env)


def test_ordinary_variables_pass() -> None:
    check_host_env(
        {"DDB_VAR": "x () y", "TMPDIR": "/tmp", "TZDIR": "/z", "LANG": "C", "GIT_DIR": "/r", "HOME": "/h"}
    )


def test_the_docker_cli_config_is_refused_only_for_the_docker_cli() -> None:
    check_host_env({"DOCKER_CONFIG": "/x"})
    with pytest.raises(InvalidParams, match="DOCKER_CONFIG is refused"):
        check_host_env({"DOCKER_CONFIG": "/x"}, docker_cli=True)
