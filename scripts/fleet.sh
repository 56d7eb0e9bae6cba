#!/usr/bin/env bash
# Several instances of the app behind a load balancer, on loopback, for the tests (and for
# trying it out): Redis (Debian's redis-server, no persistence), app instances sharing one
# secret and that Redis, and nginx (Debian's) in front, round robin. Everything lives in WORK:
# WORK/instance.env holds the settings every instance shares (the caller writes it), and each
# process's pid and log are there too.
# usage: scripts/fleet.sh start-redis WORK PORT | stop-redis WORK
#        scripts/fleet.sh start-instance WORK NAME PORT | stop-instance WORK NAME (SIGTERM, waits)
#          (an instance on PORT serves its metrics on PORT+1000)
#        scripts/fleet.sh start-balancer WORK PORT UPSTREAM_PORT... | stop-all WORK
# SERVER_BIN picks the server binary (default target/debug/server; the benchmarks use release).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: fleet.sh start-redis|stop-redis|start-instance|stop-instance|start-balancer|stop-all WORK ..."
cmd=${1:?$usage}
work=${2:?$usage}
mkdir -p "$work"
work=$(cd "$work" && pwd)

wait_for() { # what, url
  for _ in $(seq 1 150); do
    curl -fs -o /dev/null "$2" && return 0
    sleep 0.2
  done
  echo "fleet: $1 did not answer at $2" >&2
  return 1
}

stop_pid() { # pid file, seconds to wait
  local pid_file=$1
  [ -f "$pid_file" ] || return 0
  local pid
  pid=$(cat "$pid_file")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $(( $2 * 10 ))); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pid_file"; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pid_file"
}

case "$cmd" in
  start-redis)
    port=${3:?$usage}
    mkdir -p "$work/redis"
    echo "$port" > "$work/redis.port"
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work/redis" \
      >> "$work/redis.log" 2>&1 &
    echo $! > "$work/redis.pid"
    for _ in $(seq 1 100); do
      redis-cli -p "$port" ping > /dev/null 2>&1 && exit 0
      sleep 0.1
    done
    echo "fleet: redis did not start on $port" >&2; exit 1 ;;
  stop-redis)
    stop_pid "$work/redis.pid" 5 ;;
  start-instance)
    name=${3:?$usage}
    port=${4:?$usage}
    echo "$port" > "$work/instance-$name.port"
    (
      # Written at run time: nothing for shellcheck to follow.
      set -a
      # shellcheck source=/dev/null
      . "$work/instance.env"
      set +a
      cd "$root"
      # Its metrics on the port 1000 above its own.
      # Its own embedded state without Redis (with Redis, the fleet's is there).
      LEPTOS_SITE_ADDR=127.0.0.1:$port UPLOAD_METRICS_ADDR=127.0.0.1:$((port + 1000)) UPLOAD_INSTANCE_ID=$name \
        UPLOAD_STATE_DIR="${UPLOAD_STATE_DIR:-$work/state-$name}" exec "${SERVER_BIN:-target/debug/server}"
    ) >> "$work/app-$name.log" 2>&1 &
    echo $! > "$work/instance-$name.pid"
    wait_for "instance $name" "http://127.0.0.1:$port/healthz" ;;
  stop-instance)
    name=${3:?$usage}
    # SIGTERM: the instance stops accepting, finishes what is in flight, exits.
    stop_pid "$work/instance-$name.pid" 30 ;;
  start-balancer)
    port=${3:?$usage}
    shift 3
    [ $# -gt 0 ] || { echo "fleet: name the instances' ports" >&2; exit 2; }
    upstreams=""
    for upstream in "$@"; do
      # max_fails=0: a stopped instance is not taken out for a while; each request to it is
      # refused at once and retried on the next.
      upstreams+="    server 127.0.0.1:$upstream max_fails=0;"$'\n'
    done
    mkdir -p "$work/nginx"
    user_line=""
    [ "$(id -u)" = 0 ] && user_line="user root;"
    cat > "$work/nginx/nginx.conf" <<NGINX
$user_line
worker_processes 1;
error_log $work/nginx/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log $work/nginx/access.log;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream app {
$upstreams    keepalive 32;
  }
  server {
    listen 127.0.0.1:$port;
    client_max_body_size 1m;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      # A refused or reset connection (an instance stopping) is retried on the next one; the
      # server functions are safe to retry (signing twice only spends budget).
      proxy_next_upstream error timeout http_502 non_idempotent;
      proxy_connect_timeout 2s;
    }
  }
}
NGINX
    nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' >> "$work/nginx/stderr.log" 2>&1 &
    echo $! > "$work/nginx.pid"
    wait_for "nginx" "http://127.0.0.1:$port/healthz" ;;
  stop-all)
    for pid_file in "$work"/instance-*.pid "$work/nginx.pid" "$work/redis.pid"; do
      [ -f "$pid_file" ] && stop_pid "$pid_file" 5
    done
    exit 0 ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
