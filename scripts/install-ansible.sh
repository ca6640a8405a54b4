#!/usr/bin/env bash
# Installs a pinned ansible-core from PyPI into a virtualenv the tests and examples use.
#
#   scripts/install-ansible.sh        # prints the venv's bin directory on its last line
#
# Idempotent and fast when the pinned version is already there (one file check). The venv lives
# under target/ (wiped by `cargo clean`); set HISTORY_ANSIBLE_VENV to put it elsewhere. The tests
# find it at the same place, or through HISTORY_ANSIBLE_BIN_DIR.
set -euo pipefail

ANSIBLE_CORE_VERSION="2.19.14"

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${HISTORY_ANSIBLE_VENV:-$root/target/ansible-venv}"
marker="$venv/.ansible-core-$ANSIBLE_CORE_VERSION"

# A venv records absolute paths: one that was moved or copied (a target/ dir reused elsewhere)
# no longer runs, so the marker holds the venv's own path and the venv's python must start.
installed() {
    [[ -f "$marker" && "$(cat "$marker")" == "$venv" && -x "$venv/bin/ansible-playbook" \
        && -x "$venv/bin/ansible" ]] && "$venv/bin/python" -c '' 2>/dev/null
}

if installed; then
    echo "$venv/bin"
    exit 0
fi

mkdir -p "$(dirname "$venv")"
# One installer at a time (test binaries may call this script concurrently).
exec 9>"$venv.lock"
flock 9
if installed; then
    echo "$venv/bin"
    exit 0
fi

python="${PYTHON:-python3}"
echo "installing ansible-core==$ANSIBLE_CORE_VERSION into $venv" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ansible-core==$ANSIBLE_CORE_VERSION" >&2
"$venv/bin/ansible-playbook" --version >/dev/null
echo "$venv" > "$marker"
echo "$venv/bin"
