#!/usr/bin/env bash
# A single-node KRaft Kafka broker on loopback for mbwa's tests and local runs, from Apache Kafka's own jars
# fetched from Maven Central (pom.xml beside this file). No Docker.
#
#   infra/kafka/kafka.sh start    fetch (cached), format storage once, start, wait until it answers
#   infra/kafka/kafka.sh stop     stop it (the data stays; `reset` removes it)
#   infra/kafka/kafka.sh status   exit 0 when the broker answers
#   infra/kafka/kafka.sh reset    stop and remove the data directory
#
# Environment: MBWA_KAFKA_PORT (default 19092; the controller uses the next port), MBWA_KAFKA_HOME (state,
# default infra/kafka/.state), KAFKA_HEAP (default 512m).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port=${MBWA_KAFKA_PORT:-19092}
cport=$((port + 1))
home=${MBWA_KAFKA_HOME:-$here/.state}
lib=$here/target/lib
pidfile=$home/broker.pid

listening() {
  # bash's /dev/tcp needs no extra tool.
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

answers() {
  # Our broker answers when its listener accepts connections and it has logged that it started.
  listening && grep -q "Kafka Server started" "$home/logs/server.log" 2>/dev/null
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid; pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

fetch() {
  local version; version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
  if [ -f "$lib/kafka_2.13-$version.jar" ]; then return 0; fi
  if ! command -v mvn >/dev/null || ! command -v java >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "kafka.sh: installing Java and Maven with apt-get" >&2
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven >&2
    fi
  fi
  command -v mvn >/dev/null || { echo "kafka.sh: mvn not found (apt-get install maven)" >&2; exit 1; }
  command -v java >/dev/null || { echo "kafka.sh: java not found (Java 17 is needed)" >&2; exit 1; }
  echo "kafka.sh: fetching Apache Kafka $version jars with Maven" >&2
  rm -rf "$lib"
  mvn -q -B -f "$here/pom.xml" package >&2
}

configure() {
  mkdir -p "$home/data" "$home/logs"
  cat > "$home/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$home/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.consumer.min.session.timeout.ms=1000
group.classic.min.session.timeout.ms=1000
PROPS
}

java_args() {
  java_opts=(-Xms256m -Xmx"${KAFKA_HEAP:-512m}" -XX:+UseG1GC -Djava.awt.headless=true
    -Dkafka.logs.dir="$home/logs" -Dlog4j2.configurationFile="$here/log4j2.properties" -cp "$lib/*")
}

start() {
  if running_pid >/dev/null && answers; then echo "kafka.sh: broker already running on 127.0.0.1:$port"; return 0; fi
  if running_pid >/dev/null; then stop; fi
  if listening; then
    # Another checkout's broker (or one started by hand) holds the port: use it rather than fail to bind.
    echo "kafka.sh: a broker already listens on 127.0.0.1:$port (not started from $home); using it"
    return 0
  fi
  fetch
  configure
  java_args
  if [ ! -f "$home/data/meta.properties" ]; then
    java "${java_opts[@]}" kafka.tools.StorageTool format -t "$(java "${java_opts[@]}" kafka.tools.StorageTool random-uuid)" \
      -c "$home/server.properties" >"$home/logs/format.log" 2>&1 \
      || { cat "$home/logs/format.log" >&2; exit 1; }
  fi
  : > "$home/logs/server.log"
  # setsid: the broker outlives the test run or shell that started it; `stop` ends it.
  setsid java "${java_opts[@]}" kafka.Kafka "$home/server.properties" >"$home/logs/stdout.log" 2>&1 </dev/null &
  echo $! > "$pidfile"
  for _ in $(seq 1 120); do
    if answers; then echo "kafka.sh: broker up on 127.0.0.1:$port"; return 0; fi
    if ! running_pid >/dev/null; then
      echo "kafka.sh: broker exited during startup" >&2; tail -n 40 "$home/logs/stdout.log" "$home/logs/server.log" >&2; exit 1
    fi
    sleep 0.5
  done
  echo "kafka.sh: broker did not answer within 60 s" >&2; tail -n 40 "$home/logs/server.log" >&2; exit 1
}

stop() {
  local pid
  if pid=$(running_pid); then
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) listening ;;
  reset) stop; rm -rf "$home" ;;
  fetch) fetch ;;
  *) echo "usage: $0 start|stop|status|reset|fetch" >&2; exit 2 ;;
esac
