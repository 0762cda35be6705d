#!/usr/bin/env bash
# Builds Open Policy Agent from the Go module proxy into infra/.cache/opa-<version>/bin/opa (git-ignored)
# and prints the binary's path. The benchmark suite compares the policy engine with it; the
# Rego translation's test runs when the binary is present. Needs Go ≥ 1.24 on PATH.
# OPA_VERSION overrides the version.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${OPA_VERSION:-1.22.4}"
dir="$root/infra/.cache/opa-$version"
bin="$dir/bin/opa"
if [ -x "$bin" ] && "$bin" version 2>/dev/null | grep -q "^Version: $version\$"; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "opa.sh: Go is needed to build OPA $version (https://go.dev/dl/)" >&2; exit 1; }
mkdir -p "$dir"
echo "opa.sh: building OPA $version from the Go module proxy (a few minutes the first time)" >&2
# CGO off: a static binary, and no C toolchain needed.
CGO_ENABLED=0 GOBIN="$dir/bin" GOFLAGS=-buildvcs=false go install "github.com/open-policy-agent/opa@v$version" >&2
"$bin" version >/dev/null
echo "$bin"
