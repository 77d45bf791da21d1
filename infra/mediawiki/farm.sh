#!/usr/bin/env bash
# A farm of real MediaWiki 1.39 wikis on loopback for mbwa's tests: Debian's mediawiki package, PHP's built-in
# server (one per wiki, with the router the package ships), SQLite. No Apache, no Docker.
#
#   infra/mediawiki/farm.sh start     install packages if missing (root), create or update the wikis, start them
#   infra/mediawiki/farm.sh stop      stop the servers (content stays)
#   infra/mediawiki/farm.sh status    exit 0 when every wiki's API answers
#   infra/mediawiki/farm.sh reset     stop and delete everything (the next start makes fresh wikis)
#   infra/mediawiki/farm.sh teardown  the same as reset
#   infra/mediawiki/farm.sh path      print where farm.json is
#
# Environment: MBWA_FARM_DIR (default ~/.local/state/mbwa/farm: one farm per machine, shared by every checkout,
# so a second checkout, CI included, reuses the running farm instead of failing to bind), MBWA_FARM_PORT (first port, default 18081; wiki i
# listens on PORT+i), MBWA_FARM_LANGS (default "en fr de nl"), MBWA_FARM_COGNATE=1 (the wikis share a store of
# titles and link same titles by themselves, as Wikimedia's Wiktionaries do with Cognate: MbwaCognate/, mbwa's own
# stand-in; give such a farm its own MBWA_FARM_DIR and MBWA_FARM_PORT). The farm is described in $MBWA_FARM_DIR/farm.json
# (API URLs, bot and admin credentials) for the tests. Idempotent: a second start keeps content.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
FARM_DIR=${MBWA_FARM_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/mbwa/farm}
BASE_PORT=${MBWA_FARM_PORT:-18081}
read -r -a LANGS <<< "${MBWA_FARM_LANGS:-en fr de nl}"
MW=/usr/share/mediawiki
ADMIN_PASS=AdminPass-12345
BOT_USER=InterwikiBot
BOT_PASS=BotMainPass-12345
# Bot passwords must match ^[0-9a-w]{32,}$ or login fails without saying why.
BOT_APP_PASS=0123456789abcdefghijklmnopqrstuv
ADMIN_APP_PASS=abcdefghijklmnopqrstuvw012345678

log() { echo "farm.sh: $*" >&2; }

for lang in "${LANGS[@]}"; do
  [[ $lang =~ ^[a-z][a-z0-9-]*$ ]] || { log "bad language code: $lang"; exit 2; }
done

ensure_packages() {
  # grep without -q reads all of php -m: with -q it stops early and pipefail would see php die of SIGPIPE.
  if [ -f "$MW/maintenance/install.php" ] && command -v php >/dev/null && php -m 2>/dev/null | grep -i pdo_sqlite >/dev/null && command -v curl >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "MediaWiki/PHP are missing and this is not root on Debian: install mediawiki php8.2-cli php8.2-cgi php-sqlite3 php-intl php-mbstring php-xml curl"
    exit 1
  fi
  log "installing MediaWiki and PHP with apt-get"
  # php8.2-cgi and micro-httpd satisfy mediawiki's "httpd" and "php" alternatives without Apache.
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    mediawiki php8.2-cli php8.2-cgi php-sqlite3 php-intl php-mbstring php-xml micro-httpd curl >&2
  # micro-httpd's only unit is a systemd socket; keep it from listening where systemd runs.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now micro-httpd.socket >/dev/null 2>&1 || true
  fi
}

port_of() { # index → port
  echo $((BASE_PORT + $1))
}

mwphp() { # lang script args...: a maintenance script against one wiki
  local lang=$1; shift
  MW_CONFIG_FILE="$FARM_DIR/$lang/LocalSettings.php" php "$MW/maintenance/$1" "${@:2}"
}

setup_wiki() { # index lang
  local i=$1 lang=$2 port dir
  port=$(port_of "$i")
  dir=$FARM_DIR/$lang
  mkdir -p "$dir/data"
  if [ ! -f "$dir/LocalSettings.installer.php" ]; then
    rm -f "$dir/LocalSettings.php"
    php "$MW/maintenance/install.php" --confpath "$dir" --dbtype sqlite --dbpath "$dir/data" \
      --dbname "${lang//-/_}wiki" --server "http://127.0.0.1:$port" --scriptpath "" --lang "$lang" \
      --pass "$ADMIN_PASS" --skins Vector "Wikifarm $lang" Admin >"$dir/install.log" 2>&1 \
      || { log "install of $lang failed"; tail -n 20 "$dir/install.log" >&2; return 1; }
    mv "$dir/LocalSettings.php" "$dir/LocalSettings.installer.php"
  fi
  cat > "$dir/LocalSettings.php" <<PHP
<?php
// Written by farm.sh on every start: the installer's settings, this wiki's address, the farm's settings.
require __DIR__ . '/LocalSettings.installer.php';
\$wgServer = 'http://127.0.0.1:$port';
\$wgScriptPath = '';
\$mbwaWikiDir = __DIR__;
require dirname( __DIR__ ) . '/FarmSettings.php';
PHP
  if [ "${MBWA_FARM_COGNATE:-0}" = 1 ]; then
    {
      echo "wfLoadExtension( 'MbwaCognate', dirname( __DIR__ ) . '/MbwaCognate/extension.json' );"
      echo "\$wgMbwaCognateStore = dirname( __DIR__ ) . '/cognate.sqlite';"
      local other
      for other in "${LANGS[@]}"; do echo "\$wgMbwaCognateWikis['$other'] = dirname( __DIR__ ) . '/$other/data/${other//-/_}wiki.sqlite';"; done
    } >> "$dir/LocalSettings.php"
  fi
  # Every language of the farm is an interwiki prefix on every wiki (its own too, made local by FarmSettings).
  {
    local j=0 other
    for other in "${LANGS[@]}"; do
      local p; p=$(port_of "$j")
      echo "INSERT OR REPLACE INTO interwiki (iw_prefix, iw_url, iw_api, iw_wikiid, iw_local, iw_trans) VALUES ('$other', 'http://127.0.0.1:$p/index.php/\$1', 'http://127.0.0.1:$p/api.php', '${other//-/_}wiki', 1, 0);"
      j=$((j + 1))
    done
  } > "$dir/interwiki.sql"
  mwphp "$lang" sql.php "$dir/interwiki.sql" >"$dir/sql.log" 2>&1 || { log "interwiki rows for $lang failed"; cat "$dir/sql.log" >&2; return 1; }
  if [ ! -f "$dir/users.done" ]; then
    mwphp "$lang" createAndPromote.php --force --bot "$BOT_USER" "$BOT_PASS" >"$dir/users.log" 2>&1
    mwphp "$lang" createAndPromote.php --force --sysop --bureaucrat Admin "$ADMIN_PASS" >>"$dir/users.log" 2>&1
    mwphp "$lang" createBotPassword.php --appid farm \
      --grants basic,highvolume,editpage,createeditmovepage,delete,protect,patrol,rollback \
      "$BOT_USER" "$BOT_APP_PASS" >>"$dir/users.log" 2>&1
    mwphp "$lang" createBotPassword.php --appid farm \
      --grants basic,highvolume,editpage,createeditmovepage,delete,protect,patrol,rollback \
      Admin "$ADMIN_APP_PASS" >>"$dir/users.log" 2>&1
    touch "$dir/users.done"
  fi
}

server_pid() { # lang → pid of a live server (zombies count as gone)
  local f=$FARM_DIR/$1/server.pid pid state
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  state=$(ps -o stat= -p "$pid" 2>/dev/null | tr -d ' ') || return 1
  [ -n "$state" ] && [ "${state#Z}" = "$state" ] && echo "$pid"
}

api_answers() { # port
  curl -sf --max-time 5 "http://127.0.0.1:$1/api.php?action=query&meta=siteinfo&format=json" >/dev/null 2>&1
}

start_server() { # index lang
  local i=$1 lang=$2 port
  port=$(port_of "$i")
  if server_pid "$lang" >/dev/null && api_answers "$port"; then return 0; fi
  if api_answers "$port"; then log "port $port answers but is not this farm's $lang wiki"; return 1; fi
  MW_CONFIG_FILE="$FARM_DIR/$lang/LocalSettings.php" setsid php -d opcache.enable_cli=1 -d memory_limit=256M \
    -S "127.0.0.1:$port" -t "$MW" "$MW/maintenance/dev/includes/router.php" \
    >"$FARM_DIR/$lang/server.log" 2>&1 </dev/null &
  echo $! > "$FARM_DIR/$lang/server.pid"
}

write_farm_json() {
  local i=0 first=1 lang port
  {
    printf '{\n  "mediawiki": "%s",\n  "capitalLinks": %s,\n  "cognate": %s,\n  "farmDir": "%s",\n  "wikis": [\n' \
      "$(sed -n "s/.*MW_VERSION', '\([^']*\)'.*/\1/p" "$MW/includes/Defines.php" | head -1)" \
      "$([ "${MBWA_FARM_CAPITAL_LINKS:-0}" = 1 ] && echo true || echo false)" \
      "$([ "${MBWA_FARM_COGNATE:-0}" = 1 ] && echo true || echo false)" "$FARM_DIR"
    for lang in "${LANGS[@]}"; do
      port=$(port_of "$i")
      [ $first = 1 ] || printf ',\n'
      first=0
      printf '    {"lang": "%s", "dbname": "%swiki", "port": %s, "server": "http://127.0.0.1:%s", "api": "http://127.0.0.1:%s/api.php", "index": "http://127.0.0.1:%s/index.php", "dir": "%s/%s"}' \
        "$lang" "${lang//-/_}" "$port" "$port" "$port" "$port" "$FARM_DIR" "$lang"
      i=$((i + 1))
    done
    printf '\n  ],\n  "bot": {"user": "%s", "mainPassword": "%s", "botPasswordUser": "%s@farm", "botPassword": "%s"},\n' \
      "$BOT_USER" "$BOT_PASS" "$BOT_USER" "$BOT_APP_PASS"
    printf '  "admin": {"user": "Admin", "mainPassword": "%s", "botPasswordUser": "Admin@farm", "botPassword": "%s"}\n}\n' \
      "$ADMIN_PASS" "$ADMIN_APP_PASS"
  } > "$FARM_DIR/farm.json"
}

start() {
  local started=$SECONDS i lang pids=() failed=0
  ensure_packages
  mkdir -p "$FARM_DIR"
  # The farm's own copy: running servers never depend on the checkout that started them.
  cp "$here/FarmSettings.php" "$FARM_DIR/FarmSettings.php"
  if [ "${MBWA_FARM_COGNATE:-0}" = 1 ]; then rm -rf "$FARM_DIR/MbwaCognate"; cp -r "$here/MbwaCognate" "$FARM_DIR/MbwaCognate"; fi
  i=0
  for lang in "${LANGS[@]}"; do
    setup_wiki "$i" "$lang" & pids+=($!)
    i=$((i + 1))
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  [ $failed = 0 ] || exit 1
  i=0
  for lang in "${LANGS[@]}"; do start_server "$i" "$lang"; i=$((i + 1)); done
  i=0
  for lang in "${LANGS[@]}"; do
    local port; port=$(port_of "$i")
    for _ in $(seq 1 100); do
      api_answers "$port" && break
      server_pid "$lang" >/dev/null || { log "$lang server exited"; tail -n 20 "$FARM_DIR/$lang/server.log" >&2; exit 1; }
      sleep 0.2
    done
    api_answers "$port" || { log "$lang did not answer on port $port"; exit 1; }
    i=$((i + 1))
  done
  write_farm_json
  log "farm up in $((SECONDS - started)) s: ${LANGS[*]} on ports $BASE_PORT..$(port_of $((${#LANGS[@]} - 1))) ($FARM_DIR/farm.json)"
}

stop() {
  local lang pid
  for lang in "${LANGS[@]}"; do
    if pid=$(server_pid "$lang"); then
      # setsid made the server its own process group
      kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    fi
    rm -f "$FARM_DIR/$lang/server.pid"
  done
}

status() {
  local i=0 lang
  for lang in "${LANGS[@]}"; do
    api_answers "$(port_of "$i")" || return 1
    i=$((i + 1))
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  reset|teardown) stop; rm -rf "$FARM_DIR" ;;
  path) echo "$FARM_DIR/farm.json" ;;
  *) echo "usage: $0 start|stop|status|reset|path" >&2; exit 2 ;;
esac
