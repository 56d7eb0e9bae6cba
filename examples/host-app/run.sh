#!/usr/bin/env bash
# One command for the integration example: the host application on http://localhost:3200/ (its
# page frames the uploader's default profile, its backend mints the tokens and receives the
# webhooks), and the upload service on http://127.0.0.1:3000 (scripts/run.sh), configured for
# it: tokens from the host app, embedding on its origin, events to it. Fresh secrets each run.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=examples/host-app
# The host app's two libraries, in a venv of its own, installed once.
want=$(sha256sum "$here/requirements.txt" | cut -c1-16)
if [ "$(cat "$here/.venv/.requirements" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" > "$here/.venv/.requirements"
fi
token_secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
webhook_secret="whsec_$(head -c 32 /dev/urandom | base64)"
"$here/.venv/bin/python" "$here/app.py" --port 3200 --uploader http://127.0.0.1:3000 \
  --token-secret "$token_secret" --issuer https://host-app.example --audience uploads \
  --webhook-secret "$webhook_secret" &
host=$!
trap 'kill "$host" 2>/dev/null' EXIT
echo "run: the host app is on http://localhost:3200/ once the uploader below has built"
UPLOAD_AUTH=token UPLOAD_TOKEN_HS256_SECRET="$token_secret" \
  UPLOAD_TOKEN_ISSUER=https://host-app.example UPLOAD_TOKEN_AUDIENCE=uploads \
  UPLOAD_EMBED_ORIGINS=http://localhost:3200 \
  UPLOAD_WEBHOOK_URL=http://127.0.0.1:3200/hooks/uploads UPLOAD_WEBHOOK_SECRET="$webhook_secret" \
  scripts/run.sh
