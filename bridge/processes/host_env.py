"""Which ``env`` a page may give a process that runs on the host (host binaries, the docker CLI).

The page chooses the arguments of a confined binary, not what code runs. Some variables are
read not by the binary but by what runs underneath every binary (the dynamic loader and libc,
the shell that runs a script, the interpreter a ``#!`` names) and make it load or run other
code: ``BASH_ENV='$(id >&2)'`` on a bash script ran ``id``, ``BASH_FUNC_echo%%`` replaced
``echo``, ``LD_PRELOAD`` ran a library's constructor. Those are refused, by name:

- the dynamic loader and libc: ``LD_*``, ``DYLD_*`` (macOS), ``MALLOC_*``, and the rest of
  the variables glibc itself drops for setuid programs because they subvert a program that
  did not choose them (``GLIBC_TUNABLES``, ``GCONV_PATH``, ``LOCPATH``, ``HOSTALIASES``,
  ``RES_OPTIONS``...; ``TMPDIR`` and ``TZDIR`` from that list stay allowed: they choose
  where data goes, not code);
- shells: startup files (``BASH_ENV``, ``ENV``, ``ZDOTDIR``), imported functions
  (``BASH_FUNC_*``, and values that start with ``()`` as old bashes import them), options
  (``SHELLOPTS``, ``BASHOPTS``), strings a shell expands and so runs (``PS0``-``PS4``,
  ``PROMPT_COMMAND``), how it splits words (``IFS``), where it finds functions, builtins and
  commands (``FPATH``, ``BASH_LOADABLES_PATH``, ``PATH``: a script's ``ls`` must be the
  system's);
- interpreters' startup code and module paths: Python, Perl, Ruby, Node, Java, Lua, PHP, Tcl;
- for the docker CLI also ``DOCKER_CONFIG``: its CLI plugins and credential helpers are
  programs it runs from there.

Names are compared ignoring case (``ld_preload`` has no use but to slip past a check, and
some systems fold case). A name must be a name: not empty, no ``=`` and no NUL (the OS would
split or cut it); a value holds no NUL. Variables a particular program reads (``GIT_*``,
``EDITOR``...) are that program's interface, which the extension chose to ship. Container
targets are not checked: their processes run inside the container, not on the host.
"""

from __future__ import annotations

from collections.abc import Mapping

from bridge.errors import InvalidParams

_REFUSED_PREFIXES = ("LD_", "DYLD_", "MALLOC_", "BASH_FUNC_", "LUA_INIT", "LUA_PATH", "LUA_CPATH")
_LIBC = {
    "GCONV_PATH",
    "GETCONF_DIR",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "LOCPATH",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
}
_SHELLS = {
    "BASH_ENV",
    "ENV",
    "ZDOTDIR",
    "SHELLOPTS",
    "BASHOPTS",
    "PS0",
    "PS1",
    "PS2",
    "PS3",
    "PS4",
    "PROMPT_COMMAND",
    "IFS",
    "FPATH",
    "BASH_LOADABLES_PATH",
    "PATH",
}
_INTERPRETERS = {
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "PYTHONPLATLIBDIR",
    "PYTHONEXECUTABLE",
    "PYTHONINSPECT",
    "PYTHONBREAKPOINT",
    "PYTHONWARNINGS",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "PERL5DB",
    "RUBYOPT",
    "RUBYLIB",
    "NODE_OPTIONS",
    "NODE_PATH",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    "PHPRC",
    "PHP_INI_SCAN_DIR",
    "TCLLIBPATH",
}
_REFUSED = _LIBC | _SHELLS | _INTERPRETERS
_DOCKER_CLI = {"DOCKER_CONFIG"}


def check_host_env(env: Mapping[str, str], *, docker_cli: bool = False) -> None:
    """``InvalidParams`` naming the first variable of ``env`` a host process must not get."""
    for name, value in env.items():
        if not name or "=" in name or "\x00" in name:
            raise InvalidParams(
                f"env: {name!r} is not a variable name (empty, or holds '=' or NUL)", field="env"
            )
        field = f"env.{name}"
        if "\x00" in value:
            raise InvalidParams(f"env: the value of {name} holds a NUL character", field=field)
        folded = name.upper()
        refused = _REFUSED | _DOCKER_CLI if docker_cli else _REFUSED
        if folded in refused or folded.startswith(_REFUSED_PREFIXES):
            raise InvalidParams(
                f"env: {name} is refused for host processes: it makes the loader, a shell or an "
                "interpreter run code the binary did not choose",
                field=field,
            )
        if value.startswith("()"):
            raise InvalidParams(
                f"env: the value of {name} starts with '()', which bash imports as a function definition",
                field=field,
            )
