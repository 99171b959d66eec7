# Shared set-up steps for scripts/demo and scripts/test: each installs only what is missing,
# so a fresh Debian machine is brought up and a prepared one is left alone.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DDBRIDGE_VENV:-$REPO/.venv}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# apt_install PACKAGE...: install the Debian packages not yet installed.
apt_install() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    ((${#missing[@]})) || return 0
    say "installing Debian packages: ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# python_env EXTRAS: a virtualenv at $VENV with ddbridge installed editable (with EXTRAS).
python_env() {
    local extras="${1:-}"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating the virtualenv $VENV"
        python3 -m venv "$VENV"
    fi
    local stamp="$VENV/.installed$extras"
    if [ ! -f "$stamp" ] || [ "$REPO/pyproject.toml" -nt "$stamp" ]; then
        say "installing ddbridge${extras} into $VENV"
        local log="$VENV/pip-install.log"
        if ! { "$VENV/bin/python" -m pip install --upgrade pip \
                && "$VENV/bin/python" -m pip install -e "$REPO$extras"; } >"$log" 2>&1; then
            cat "$log" >&2
            echo "ddbridge: pip install failed (log above, also in $log)" >&2
            exit 1
        fi
        touch "$stamp"
    fi
    export PATH="$VENV/bin:$PATH"
}

# node_env: the npm packages of package-lock.json, and the UI bundles built from them.
node_env() {
    if [ ! -d "$REPO/node_modules" ] || [ "$REPO/package-lock.json" -nt "$REPO/node_modules/.package-lock.json" ]; then
        say "installing npm packages (package-lock.json)"
        # Not `npm ci`: the lock npm writes here leaves out other platforms' optional packages
        # (rollup's native builds), which `npm ci` then refuses. `install --no-save` still takes
        # the locked versions and leaves the lock as it is.
        (cd "$REPO" && npm install --no-save --no-audit --no-fund --loglevel=error)
    fi
    say "building the UI bundles"
    (cd "$REPO" && node scripts/build-ui.mjs)
}
