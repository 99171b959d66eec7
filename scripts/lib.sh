# Shared set-up steps for scripts/demo and scripts/test: each installs only what is missing,
# so a fresh Debian machine is brought up and a prepared one is left alone.
#
# What the installers print (apt, debconf, needrestart, pip, npm) goes to one log file, $LOG;
# the terminal gets one line per step, as ddbridge's own progress (bridge/progress.py) does: on
# a terminal it is redrawn with the log's last line and the elapsed seconds, elsewhere (CI) a
# start and an outcome line. A failed step shows the log's last lines and names the log.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DDBRIDGE_VENV:-$REPO/.venv}"
LOG="${DDBRIDGE_SETUP_LOG:-${XDG_CACHE_HOME:-$HOME/.cache}/ddbridge/setup.log}"
NODE_MAJOR=18

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# die MESSAGE: one line naming what is wrong, and exit 1.
die() {
    printf 'ddbridge: %s\n' "$*" >&2
    exit 1
}

_log_started=""

# step TITLE COMMAND...: runs COMMAND (stdin closed) with its output appended to $LOG.
step() {
    local title="$1"
    shift
    if [ -z "$_log_started" ]; then
        mkdir -p "$(dirname "$LOG")"
        : >"$LOG"
        _log_started=1
        say "the installers' output goes to $LOG"
    fi
    {
        printf '\n==> %s\n$' "$title"
        printf ' %q' "$@"
        printf '\n'
    } >>"$LOG"
    local started=$SECONDS status=0 offset
    offset=$(stat -c %s "$LOG")
    if [ -t 2 ]; then
        "$@" >>"$LOG" 2>&1 </dev/null &
        local pid=$!
        # A background command ignores Ctrl-C: it is stopped with the script.
        trap 'kill "$pid" 2>/dev/null; exit 130' INT TERM
        local width=$(($(tput cols 2>/dev/null || echo 100) - ${#title} - 14)) line="" drawn=""
        while kill -0 "$pid" 2>/dev/null; do
            # The log's last line, as pip, apt or npm wrote it, is how far the step got.
            local detail
            detail="$(tail -c 400 "$LOG" | tr '\r' '\n' | grep -v '^[[:space:]]*$' | tail -n 1 | tr -cd '[:print:]' || true)"
            ((width > 10)) && detail="${detail:0:width}" || detail=""
            line="… $title ($((SECONDS - started))s)${detail:+ — $detail}"
            [ "$line" = "$drawn" ] || printf '\r\033[K%s' "$line" >&2
            drawn="$line"
            sleep 0.2
        done
        wait "$pid" || status=$?
        trap - INT TERM
        printf '\r\033[K' >&2
    else
        printf '… %s\n' "$title" >&2
        "$@" >>"$LOG" 2>&1 </dev/null || status=$?
    fi
    if [ "$status" -ne 0 ]; then
        tail -c +$((offset + 1)) "$LOG" | tail -n 20 >&2
        die "$title failed (exit $status; its last lines above, all of its output in $LOG)"
    fi
    printf '✓ %s (%ds)\n' "$title" $((SECONDS - started)) >&2
}

_apt_updated=""

# apt_install PACKAGE...: install the Debian packages not yet installed.
apt_install() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null || die "needs the Debian packages ${missing[*]} (no apt-get here: install them)"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        sudo=(sudo)
        # Asks for the password here, on the terminal, not inside a step whose output is logged.
        sudo -v
    fi
    if [ -z "$_apt_updated" ]; then
        step "apt-get update" "${sudo[@]}" apt-get update
        _apt_updated=1
    fi
    # No questions (debconf), and needrestart neither asks nor prints which services to restart.
    step "installing Debian packages: ${missing[*]}" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        NEEDRESTART_SUSPEND=1 apt-get install -y --no-install-recommends "${missing[@]}"
}

# require_python: Python 3.11 or later with its venv module (Debian's python3-venv).
require_python() {
    command -v python3 >/dev/null || apt_install python3
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "needs Python 3.11 or later; python3 is $(python3 --version 2>&1)"
    # Debian's python3 has the venv module but not ensurepip, without which `venv` fails halfway.
    python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
}

# The major version of the node on PATH, 0 when there is none.
_node_major() { node --version 2>/dev/null | sed -n 's/^v\([0-9]*\)\..*/\1/p' | grep . || echo 0; }

# require_node: Node.js 18 or later and npm (Debian's nodejs and npm packages when missing).
require_node() {
    (($(_node_major) >= NODE_MAJOR)) || apt_install nodejs
    (($(_node_major) >= NODE_MAJOR)) || die "needs Node.js $NODE_MAJOR or later, and $(command -v node)" \
        "is $(node --version): put a newer one first on PATH (Debian 12's nodejs package is 18)"
    # NodeSource's nodejs has npm in it; Debian's comes apart.
    command -v npm >/dev/null || apt_install npm
}

# python_env EXTRAS: a virtualenv at $VENV with ddbridge installed editable (with EXTRAS).
python_env() {
    local extras="${1:-}"
    require_python
    # A virtualenv whose creation failed halfway has a python but no pip: made again.
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import pip' 2>/dev/null; then
        step "creating the virtualenv $VENV" python3 -m venv --clear "$VENV"
    fi
    local stamp="$VENV/.installed$extras"
    if [ ! -f "$stamp" ] || [ "$REPO/pyproject.toml" -nt "$stamp" ]; then
        step "upgrading pip in $VENV" "$VENV/bin/python" -m pip install --upgrade pip
        step "installing ddbridge$extras into $VENV" \
            "$VENV/bin/python" -m pip install -e "$REPO$extras"
        touch "$stamp"
    else
        say "reusing $VENV (ddbridge$extras installed; delete the folder to start afresh)"
    fi
    # pip leaves bytecode beside a regular install's modules, not beside an editable one's; where
    # PYTHONDONTWRITEBYTECODE is set (CI images, containers) every start of the daemon compiled
    # its modules again, a quarter of its start-up. compileall rewrites only what changed. Only
    # a speed-up: a checkout it cannot write (mounted read-only) is set up all the same.
    "$VENV/bin/python" -m compileall -q "$REPO/bridge" >/dev/null 2>&1 || true
    export PATH="$VENV/bin:$PATH"
}

# node_env: the npm packages of package-lock.json, and the UI bundles built from them.
node_env() {
    require_node
    if [ ! -d "$REPO/node_modules" ] || [ "$REPO/package-lock.json" -nt "$REPO/node_modules/.package-lock.json" ]; then
        # Not `npm ci`: the lock npm writes here leaves out other platforms' optional packages
        # (rollup's native builds), which `npm ci` then refuses. `install --no-save` still takes
        # the locked versions and leaves the lock as it is.
        step "installing npm packages (package-lock.json)" \
            env -C "$REPO" npm install --no-save --no-audit --no-fund --loglevel=error
    else
        say "reusing node_modules"
    fi
    step "building the UI bundles" node "$REPO/scripts/build-ui.mjs"
}
