#!/usr/bin/env bash
# Builds Open Policy Agent from the Go module proxy into infra/.cache/opa-<version>/bin (git-ignored):
# `opa` itself, and `opa-bench-<hash>` (bench/opa/driver, the benchmark's driver on OPA's Go API, the same
# OPA module). Prints the directory. `pnpm bench policy` compares the policy engine with OPA; the Rego
# translation's test (bench/opa/opa.test.ts) runs when `opa` is present. Needs Go ≥ 1.26 on PATH;
# the first build takes a few minutes of CPU. OPA_VERSION overrides the version (the driver's go.mod
# pins the module it is built against).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${OPA_VERSION:-1.22.4}"
dir="$root/infra/.cache/opa-$version"
bin="$dir/bin/opa"
# The driver's name carries a hash of its sources: a changed driver is built anew beside the old one
# instead of a stale one being measured (bench/opa/binary.ts computes the same name).
driver_hash="$(cd "$root/bench/opa/driver" && cat main.go go.mod go.sum | sha256sum | cut -c1-12)"
driver="$dir/bin/opa-bench-$driver_hash"
if [ -x "$bin" ] && [ -x "$driver" ] && "$bin" version 2>/dev/null | grep -q "^Version: $version\$"; then
  echo "$dir/bin"
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "opa.sh: Go is needed to build OPA $version (https://go.dev/dl/)" >&2; exit 1; }
mkdir -p "$dir"
# CGO off: static binaries, and no C toolchain needed.
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
if ! [ -x "$bin" ] || ! "$bin" version 2>/dev/null | grep -q "^Version: $version\$"; then
  echo "opa.sh: building OPA $version from the Go module proxy (a few minutes the first time)" >&2
  GOBIN="$dir/bin" go install "github.com/open-policy-agent/opa@v$version" >&2
fi
echo "opa.sh: building the benchmark driver (bench/opa/driver)" >&2
(cd "$root/bench/opa/driver" && go build -o "$driver" .) >&2
"$bin" version >/dev/null
echo "$dir/bin"
