#!/usr/bin/env bash
# Builds the CLI and everything it runs (turbo: in dependency order, cached, so a no-op when nothing
# changed) before a command runs the compiled code. Quiet unless the build fails, and never on
# stdout: the CLI's own output (JSON lines) may be piped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
[ -e packages/cli/dist/bin.js ] || echo "custos: building the packages (the first time takes a minute or two)" >&2
if ! out=$(node_modules/.bin/turbo run build --filter="${1:-@custos/cli}..." --output-logs=errors-only 2>&1); then
  printf '%s\n' "$out" >&2
  echo "custos: the build failed (see above)" >&2
  exit 1
fi
