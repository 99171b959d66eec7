"""scripts/lib.sh, what scripts/demo and scripts/test set a machine up with, run by bash in a
temporary HOME (its log goes to ~/.cache/ddbridge/setup.log there): one line per step on the
terminal, the installers' output in the log, and one line when something the README requires is
missing or too old."""

from __future__ import annotations

import importlib.util
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import REPO

pytestmark = pytest.mark.integration

LIB = REPO / "scripts" / "lib.sh"


def run_lib(
    home: Path, script: str, *, path: str | None = None, lib: Path = LIB
) -> subprocess.CompletedProcess[str]:
    """``script`` in bash after ``source scripts/lib.sh`` (``lib``), stderr not a terminal (as in CI)."""
    env = {**os.environ, "HOME": str(home), "PATH": path or os.environ["PATH"]}
    env.pop("XDG_CACHE_HOME", None)
    env.pop("DDBRIDGE_SETUP_LOG", None)
    return subprocess.run(
        ["bash", "-c", f'source "{lib}"\n{script}'],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def log_of(home: Path) -> Path:
    return home / ".cache" / "ddbridge" / "setup.log"


def lines(text: str) -> list[str]:
    return [line.replace("\033[1m", "").replace("\033[0m", "") for line in text.splitlines()]


def test_a_step_shows_one_line_and_logs_what_the_command_printed(tmp_path: Path) -> None:
    done = run_lib(
        tmp_path,
        'step "configuring" bash -c "echo debconf: delaying package configuration; echo warning >&2"',
    )
    assert done.returncode == 0, done.stderr
    assert lines(done.stderr) == [
        f"==> the installers' output goes to {log_of(tmp_path)}",
        "… configuring",
        "✓ configuring (0s)",
    ]
    log = log_of(tmp_path).read_text()
    assert "debconf: delaying package configuration\nwarning\n" in log


def test_on_a_terminal_the_line_shows_the_elapsed_time_and_the_logs_last_line(tmp_path: Path) -> None:
    """What a newcomer sees during the first run's minute of pip: the step, its seconds and
    what pip is fetching, redrawn in place."""
    parent, child = pty.openpty()
    script = 'step "installing" bash -c "echo Downloading fastapi-0.115.whl; sleep 2.5; echo Successfully"'
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("XDG_CACHE_HOME", None)
    with subprocess.Popen(
        ["bash", "-c", f'source "{LIB}"\n{script}'], env=env, stderr=child, stdout=subprocess.DEVNULL
    ) as process:
        os.close(child)
        output = b""
        while True:
            try:
                chunk = os.read(parent, 4096)
            except OSError:  # the terminal's other end closed: bash exited
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(10) == 0
    os.close(parent)
    text = output.decode()
    # Each redraw: the step, the whole seconds since it started and the log's last line. Bash's
    # SECONDS ticks on the clock's second, so which counts a run shows depends on when it started;
    # over 2.5 s the count goes up at least twice, and the line follows it.
    drawn = re.findall(r"\r\033\[K… installing \((\d+)s\)( — Downloading fastapi-0\.115\.whl)?", text)
    seconds = [int(count) for count, _ in drawn]
    assert seconds == sorted(seconds) and len(set(seconds)) >= 2, text
    assert any(detail for _, detail in drawn), text
    finished = re.search(r"\r\033\[K✓ installing \((\d+)s\)\r\n$", text)
    assert finished and int(finished[1]) >= max(seconds) and int(finished[1]) >= 2, text
    assert "Successfully" not in text


def test_a_failed_step_shows_its_own_last_lines_and_names_the_log(tmp_path: Path) -> None:
    done = run_lib(
        tmp_path,
        'step "first" echo earlier output\n'
        'step "installing x" bash -c "echo E: Unable to locate x; exit 100"',
    )
    assert done.returncode == 1
    assert lines(done.stderr)[-3:] == [
        "… installing x",
        "E: Unable to locate x",
        "ddbridge: installing x failed (exit 100; its last lines above, all of its output in "
        f"{log_of(tmp_path)})",
    ]
    assert "earlier output" not in done.stderr


def test_apt_install_of_installed_packages_says_nothing(tmp_path: Path) -> None:
    done = run_lib(tmp_path, "apt_install bash coreutils")
    assert (done.returncode, done.stderr) == (0, "")
    assert not log_of(tmp_path).exists()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("apt-get") is None, reason="installs a package: root")
def test_apt_install_sends_apt_and_debconf_to_the_log(tmp_path: Path) -> None:
    """A real install (Debian's 50 KiB ``hello``, purged before and after): the terminal gets
    the steps only, apt's and debconf's lines go to the log."""
    purge = ["apt-get", "purge", "-y", "-q", "hello"]
    subprocess.run(purge, capture_output=True, check=False)
    try:
        done = run_lib(tmp_path, "apt_install hello bash")
        assert done.returncode == 0, done.stderr
        assert lines(done.stderr) == [
            f"==> the installers' output goes to {log_of(tmp_path)}",
            "… apt-get update",
            lines(done.stderr)[2],
            "… installing Debian packages: hello",
            lines(done.stderr)[4],
        ]
        assert lines(done.stderr)[4].startswith("✓ installing Debian packages: hello (")
        log = log_of(tmp_path).read_text()
        assert "Setting up hello" in log
        hello = subprocess.run(["hello"], capture_output=True, text=True, check=True)
        assert hello.stdout == "Hello, world!\n"
    finally:
        subprocess.run(purge, capture_output=True, check=False)


def test_the_node_on_path_is_new_enough(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("no node here")
    done = run_lib(tmp_path, "require_node")
    assert (done.returncode, done.stderr) == (0, "")


def test_an_old_node_stops_the_script_with_one_line(tmp_path: Path) -> None:
    """A Node.js 16 first on PATH (an older install the machine kept): with Debian's nodejs
    already installed there is nothing apt can do, so the script stops and says why."""
    installed = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", "nodejs"], capture_output=True, text=True, check=False
    )
    if "install ok installed" not in installed.stdout:
        pytest.skip("nodejs is not installed as a Debian package here: the script would install it")
    old = tmp_path / "old-node"
    old.mkdir()
    (old / "node").write_text("#!/bin/sh\necho v16.20.2\n")
    (old / "node").chmod(0o755)
    done = run_lib(tmp_path, "require_node", path=f"{old}:{os.environ['PATH']}")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"ddbridge: needs Node.js 18 or later, and {old}/node is v16.20.2: put a newer one first on PATH"
        " (Debian 12's nodejs package is 18)"
    ]


def test_a_second_run_says_it_reuses_the_virtualenv(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (venv / ".installed").touch()
    done = run_lib(tmp_path, f'VENV="{venv}"\npython_env ""')
    assert done.returncode == 0, done.stderr
    assert lines(done.stderr) == [
        f"==> reusing {venv} (ddbridge installed; delete the folder to start afresh)"
    ]
    assert not log_of(tmp_path).exists()


def test_the_virtualenv_step_leaves_current_bytecode_beside_ddbridges_modules(tmp_path: Path) -> None:
    """Also where PYTHONDONTWRITEBYTECODE is set, so that the daemon does not compile its own
    modules at every start: each module's bytecode records its source's size and mtime."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (venv / ".installed").touch()
    stale = Path(importlib.util.cache_from_source(str(REPO / "bridge" / "entry.py")))
    stale.unlink(missing_ok=True)
    done = run_lib(tmp_path, f'export PYTHONDONTWRITEBYTECODE=1\nVENV="{venv}"\npython_env ""')
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    modules = sorted((REPO / "bridge").rglob("*.py"))
    assert len(modules) > 50
    for module in modules:
        cached = Path(importlib.util.cache_from_source(str(module)))
        source = module.stat()
        recorded = struct.pack("<II", int(source.st_mtime) & 0xFFFFFFFF, source.st_size & 0xFFFFFFFF)
        assert cached.read_bytes()[8:16] == recorded, module


def test_a_checkout_whose_bytecode_cannot_be_written_is_set_up_all_the_same(tmp_path: Path) -> None:
    """The compile is only a speed-up: here ``__pycache__`` is a file, so that no bytecode can
    be written beside the module (as in a checkout mounted read-only), root or not."""
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(LIB, checkout / "scripts" / "lib.sh")
    (checkout / "bridge").mkdir()
    (checkout / "bridge" / "module.py").write_text("VALUE = 1\n")
    (checkout / "bridge" / "__pycache__").write_text("not a folder\n")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (venv / ".installed").touch()
    lib = checkout / "scripts" / "lib.sh"
    done = run_lib(tmp_path, f'VENV="{venv}"\npython_env ""\necho set up', lib=lib)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "set up\n"
    reused = f"==> reusing {venv} (ddbridge installed; delete the folder to start afresh)"
    assert lines(done.stderr) == [reused]


def untracked() -> set[str]:
    """The checkout's files that git neither tracks nor ignores."""
    listed = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(listed.stdout.splitlines())


def test_a_test_run_leaves_its_files_under_test_artifacts() -> None:
    """Hypothesis's database goes to test-artifacts/ with the screenshots, not to .hypothesis/
    in the checkout (a pytest run of a Hypothesis test, as a developer types it), and the run
    leaves no new file git does not ignore."""
    shutil.rmtree(REPO / ".hypothesis", ignore_errors=True)
    before = untracked()
    env = {name: value for name, value in os.environ.items() if not name.startswith("HYPOTHESIS_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/test_service_target.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (REPO / ".hypothesis").exists()
    assert (REPO / "test-artifacts" / "hypothesis" / "constants").is_dir()
    assert untracked() - before == set()
