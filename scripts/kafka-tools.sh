#!/usr/bin/env bash
# Gathers Kafka's own performance tools (kafka-producer-perf-test / kafka-consumer-perf-test, the
# classes org.apache.kafka.tools.ProducerPerformance and ConsumerPerformance) from Maven Central into
# infra/.cache/kafka-tools-<version>/libs (git-ignored) and prints that directory. The broker's own
# jars (infra/.cache/kafka-<version>) do not include them. KAFKA_VERSION overrides the version.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${KAFKA_VERSION:-3.9.2}"
dir="$root/infra/.cache/kafka-tools-$version"
if [ -f "$dir/.complete" ]; then
  echo "$dir/libs"
  exit 0
fi
command -v mvn >/dev/null 2>&1 || { echo "kafka-tools.sh: Maven ('mvn') is needed once to fetch org.apache.kafka:kafka-tools:$version" >&2; exit 1; }
mkdir -p "$dir"
echo "kafka-tools.sh: fetching org.apache.kafka:kafka-tools:$version from Maven Central" >&2
if ! mvn -B -ntp -q -Dstyle.color=never -f "$root/bench/java/pom.xml" -Dkafka.version="$version" \
  dependency:copy-dependencies -DoutputDirectory="$dir/libs" >"$dir/mvn.log" 2>&1; then
  echo "kafka-tools.sh: Maven failed; see $dir/mvn.log" >&2
  exit 1
fi
touch "$dir/.complete"
echo "$dir/libs"
