#!/bin/sh
# The container's entry point (see Dockerfile): enforcer, sink or api runs that service alone;
# anything else is a custos command (default: start).
set -e
app=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-start}" in
  enforcer | sink | api)
    service=$1
    shift
    exec node "$app/services/$service/dist/main.js" "$@"
    ;;
  *) exec node "$app/packages/cli/dist/bin.js" "${@:-start}" ;;
esac
