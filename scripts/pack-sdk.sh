#!/usr/bin/env bash
# Builds @custos/sdk and the workspace packages it depends on at run time, and packs each into DEST
# as a registry would serve it (workspace: ranges rewritten to versions, only the published files).
#   bash scripts/pack-sdk.sh DEST      prints the tarballs' paths, one a line
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dest="${1:?usage: pack-sdk.sh DEST}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
# shellcheck source=scripts/env.sh
source scripts/env.sh
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
pnpm --silent turbo run build --filter=@custos/sdk... --output-logs=errors-only >&2
for dir in packages/config schemas packages/kafka packages/sdk; do
  (cd "$dir" && pnpm pack --pack-destination "$dest" >/dev/null)
done
ls "$dest"/*.tgz
