#!/bin/sh
# The container's entrypoint: mbwa with the arguments given. In a Kubernetes StatefulSet (MBWA_STATEFULSET=1,
# hostnames NAME-0, NAME-1, …) only member 0 reads the wikis and runs the edit sink, so the wikis see one
# reader and one writer whatever the number of members; the others project their partitions and serve queries.
set -eu
if [ "${MBWA_STATEFULSET:-0}" = 1 ]; then
  ordinal="${HOSTNAME##*-}"
  if [ "$ordinal" != 0 ]; then
    export MBWA_SOURCES__EVENT_STREAMS__ENABLED=false
    export MBWA_SOURCES__RECENT_CHANGES__ENABLED=false
    export MBWA_SOURCES__SNAPSHOT__ENABLED=false
    export MBWA_SINK__ENABLED=false
  fi
fi
exec node --max-semi-space-size=32 --heap-growing-percent=100 /app/dist/src/cli/main.js "$@"
