#!/usr/bin/env bash
# An authenticating proxy in front of the app, as an operator runs one with UPLOAD_AUTH=proxy:
# nginx asks an authenticator (auth_request) about every request and names the user in
# X-Auth-Request-User, overwriting whatever the client sent. nginx reaches the app from
# 127.0.0.2, the only address the app believes the header from (UPLOAD_AUTH_PROXIES), so a
# browser on 127.0.0.1 that calls the app directly with the header is refused.
# usage: scripts/auth-proxy.sh start WORK PORT APP_PORT AUTHENTICATOR_PORT | stop WORK
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: auth-proxy.sh start WORK PORT APP_PORT AUTHENTICATOR_PORT | stop WORK"
cmd=${1:?$usage}
work=${2:?$usage}
mkdir -p "$work"
work=$(cd "$work" && pwd)

case "$cmd" in
  start)
    port=${3:?$usage}
    app_port=${4:?$usage}
    auth_port=${5:?$usage}
    python3 "$root/end2end/scripts/authenticator.py" "$auth_port" >> "$work/authenticator.log" 2>&1 &
    echo $! > "$work/authenticator.pid"
    user_line=""
    [ "$(id -u)" = 0 ] && user_line="user root;"
    cat > "$work/nginx.conf" <<NGINX
$user_line
worker_processes 1;
error_log $work/error.log warn;
pid $work/nginx.pid;
events { worker_connections 256; }
http {
  access_log $work/access.log;
  client_body_temp_path $work/body;
  proxy_temp_path $work/proxy;
  fastcgi_temp_path $work/fastcgi;
  uwsgi_temp_path $work/uwsgi;
  scgi_temp_path $work/scgi;
  server {
    listen 127.0.0.1:$port;
    client_max_body_size 1m;
    location = /_auth {
      internal;
      proxy_pass http://127.0.0.1:$auth_port/;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
    }
    # Health checks need no user.
    location = /healthz {
      proxy_pass http://127.0.0.1:$app_port;
    }
    location / {
      auth_request /_auth;
      auth_request_set \$auth_user \$upstream_http_x_auth_request_user;
      auth_request_set \$auth_groups \$upstream_http_x_auth_request_groups;
      # Set here, whatever the client sent: the app believes these from this proxy only.
      proxy_set_header X-Auth-Request-User \$auth_user;
      proxy_set_header X-Auth-Request-Groups \$auth_groups;
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_bind 127.0.0.2;
      proxy_pass http://127.0.0.1:$app_port;
    }
  }
}
NGINX
    nginx -p "$work" -c "$work/nginx.conf" -g 'daemon off;' >> "$work/stderr.log" 2>&1 &
    echo $! > "$work/nginx-run.pid"
    for _ in $(seq 1 100); do
      # Signed out, a page is a 401: the proxy and its authenticator are up.
      code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/" || true)
      [ "$code" = 401 ] && exit 0
      sleep 0.1
    done
    echo "auth-proxy: nginx did not answer on $port" >&2; exit 1 ;;
  stop)
    for pid_file in "$work/nginx-run.pid" "$work/authenticator.pid"; do
      if [ -f "$pid_file" ]; then
        kill "$(cat "$pid_file")" 2>/dev/null || true
        rm -f "$pid_file"
      fi
    done ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
