#!/usr/bin/env bash
# Packs the published packages (@custos/sdk and its runtime dependencies @custos/schemas,
# @custos/config, @custos/kafka) into DEST (default .packages/) as a registry would serve them:
# builds them (turbo), then `pnpm pack`s each, which turns `workspace:` specs into versions and
# publishConfig.exports into exports (built files only). kafkajs stays an ordinary dependency: the
# SDK works with the registry's kafkajs (it probes for the workspace's patch at start-up and sends
# ordinary messages without it), so nothing patched is bundled.
#   scripts/pack.sh [DEST]      prints the tarballs' paths, one a line
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dest=$(realpath -m "${1:-.packages}")
mkdir -p "$dest"
# shellcheck source=scripts/env.sh
source scripts/env.sh
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
node_modules/.bin/turbo run build --filter=@custos/sdk... --output-logs=errors-only >&2
for p in config schemas kafka sdk; do
  pnpm --filter "@custos/$p" pack --pack-destination "$dest" >/dev/null
done
ls "$dest"/custos-*.tgz
