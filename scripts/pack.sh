#!/usr/bin/env bash
# Packs the published packages (@custos/sdk, @custos/schemas, @custos/config, @custos/kafka) into
# DEST (default .packages/): builds them, `pnpm pack`s each (pnpm turns `workspace:` specs into
# versions and publishConfig.exports into exports), then bundles the patched kafkajs into
# @custos/kafka's tarball. The SDK's sender depends on the patch (patches/kafkajs@2.2.4.patch: its
# ranged messages); an unpatched kafkajs from the registry would send them with a null key and
# value. pnpm cannot pack bundleDependencies in an isolated workspace, so the tarball is repacked
# with npm, which takes node_modules/kafkajs in as a bundled dependency.
#   scripts/pack.sh [DEST]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dest=$(realpath -m "${1:-.packages}")
mkdir -p "$dest"
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
node_modules/.bin/turbo run build --filter=@custos/sdk... --output-logs=errors-only >&2
for p in sdk schemas config kafka; do
  pnpm --filter "@custos/$p" pack --pack-destination "$dest" >/dev/null
done

version=$(node -p 'require("./packages/kafka/package.json").version')
tarball="$dest/custos-kafka-$version.tgz"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
tar -xzf "$tarball" -C "$stage"
# the patched copy the workspace installed (pnpm's store keeps it apart from the plain one)
kafkajs=$(cd packages/kafka && node -p 'require("path").dirname(require.resolve("kafkajs/package.json"))')
grep -q releaseMessages "$kafkajs/src/consumer/batch.js" || { echo "pack: $kafkajs is not the patched kafkajs" >&2; exit 1; }
mkdir -p "$stage/package/node_modules"
cp -rL "$kafkajs" "$stage/package/node_modules/kafkajs"
node -e '
  const fs = require("fs");
  const file = process.argv[1];
  const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
  const kafkajs = JSON.parse(fs.readFileSync(process.argv[2], "utf8")).version;
  pkg.dependencies.kafkajs = kafkajs; // the version the patch is for
  pkg.bundleDependencies = ["kafkajs"];
  fs.writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
' "$stage/package/package.json" "$kafkajs/package.json"
rm "$tarball"
(cd "$stage/package" && npm pack --silent --pack-destination "$dest" >/dev/null)
ls "$dest"/custos-*.tgz
