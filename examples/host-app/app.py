#!/usr/bin/env python3
"""A small application that embeds the uploader (docs/embed.md) and receives its events
(docs/events.md): what an integration needs, and nothing else.

- Its backend mints the token for its signed-in user (here a fixed demo user): an HS256 JWT
  with PyJWT, signed with the secret the uploader checks (UPLOAD_TOKEN_HS256_SECRET).
- Its page frames the uploader's /embed/PROFILE?origin=<this page's origin>, hands it the token
  on `upload:ready` and on `upload:token-expired`, sizes the frame on `upload:height`, and shows
  every message it gets.
- It receives the uploader's webhooks on /hooks/uploads, verified with the Standard Webhooks
  library (PyPI standardwebhooks), and shows them too (GET /events: what arrived, as JSON).

    app.py --port 3200 --uploader http://127.0.0.1:3000 --profile default \\
           --token-secret HEX --issuer https://host-app.example --audience uploads \\
           --webhook-secret whsec_...

The page takes, to show what the uploader guards against (the tests use them):
`?first_token=expired` (its first token expired two minutes ago: the frame says
`upload:token-expired` and gets a fresh one), `?first_token=none` (it hands no token at all),
`?origin=ORIGIN` (the origin it claims when framing: a page cannot claim another's), and
`?other_origin=URL` (a page at URL, on another origin, tries to hand the frame a token: ignored).
"""

import argparse
import html
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import jwt
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Host application</title>
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto}
iframe{width:100%;border:1px solid #ccc;height:20rem}li{font-family:monospace}</style></head>
<body>
<h1>Host application</h1>
<p>Signed in as <b>demo-user</b>. The uploader below is the upload service's, framed.</p>
<iframe id="uploader" title="Upload files" src="__FRAME__"></iframe>
__OTHER__
<h2>What the uploader said</h2><ol id="messages"></ol>
<h2>Events received (webhooks)</h2><ol id="events"></ol>
<script>
const uploader = __UPLOADER__;
const frame = document.getElementById("uploader");
const firstToken = new URLSearchParams(location.search).get("first_token");
let handed = 0;
async function token() {
  const expired = handed++ === 0 && firstToken === "expired";
  return (await fetch("/upload-token" + (expired ? "?expired=1" : ""))).text();
}
const handing = firstToken !== "none";
window.addEventListener("message", async (event) => {
  if (event.origin !== uploader || event.source !== frame.contentWindow) return;
  const message = event.data;
  if (message?.v !== 1) return;
  const item = document.createElement("li");
  item.textContent = JSON.stringify(message);
  item.dataset.type = message.type;
  document.getElementById("messages").append(item);
  if (handing && (message.type === "upload:ready" || message.type === "upload:token-expired")) {
    frame.contentWindow.postMessage({ v: 1, type: "upload:token", token: await token() }, uploader);
  } else if (message.type === "upload:height") {
    frame.style.height = `${message.height + 2}px`;
  }
});
setInterval(async () => {
  const events = await (await fetch("/events")).json();
  document.getElementById("events").replaceChildren(...events.map((e) => {
    const item = document.createElement("li");
    item.textContent = `${e.type} ${e.data.key} ${e.data.checksum?.value ?? ""}`;
    return item;
  }));
}, 1000);
</script>
</body></html>
"""


# A page on another origin that tries to hand the framed uploader (its parent's first frame) a
# token: the uploader ignores messages from any origin but its parent's.
OTHER_ORIGIN_PAGE = """<!DOCTYPE html><title>other origin</title><script>
fetch("/upload-token").then((r) => r.text()).then((token) => {
  // Again and again for ten seconds: whenever the uploader has started listening.
  let times = 0;
  const send = setInterval(() => {
    parent.frames[0].postMessage({ v: 1, type: "upload:token", token }, "*");
    document.title = `sent ${++times}`;
    if (times === 40) clearInterval(send);
  }, 250);
});
</script>"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=3200)
    parser.add_argument("--uploader", default="http://127.0.0.1:3000", help="the upload service's origin")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--token-secret", required=True, help="UPLOAD_TOKEN_HS256_SECRET")
    parser.add_argument("--issuer", default="https://host-app.example", help="UPLOAD_TOKEN_ISSUER")
    parser.add_argument("--audience", default="uploads", help="UPLOAD_TOKEN_AUDIENCE")
    parser.add_argument("--webhook-secret", required=True, help="UPLOAD_WEBHOOK_SECRET")
    args = parser.parse_args()
    hook = Webhook(args.webhook_secret)
    events, lock = [], threading.Lock()

    def mint(expired):
        now = int(time.time())
        exp = now - 120 if expired else now + 300
        claims = {"iss": args.issuer, "aud": args.audience, "sub": "demo-user", "iat": min(now, exp - 1), "exp": exp}
        return jwt.encode(claims, args.token_secret, algorithm="HS256")

    class Handler(BaseHTTPRequestHandler):
        def answer(self, status, body, content_type="text/plain; charset=utf-8"):
            data = body.encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.send_header("cache-control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path == "/":
                own = f"http://{self.headers.get('host')}"
                claimed = query.get("origin", [own])[0]
                frame = f"{args.uploader}/embed/{args.profile}?origin={quote(claimed, safe='')}"
                other = query.get("other_origin", [None])[0]
                other = f'<iframe hidden src="{html.escape(other)}/other-origin"></iframe>' if other else ""
                page = (
                    PAGE.replace("__FRAME__", html.escape(frame))
                    .replace("__UPLOADER__", json.dumps(args.uploader))
                    .replace("__OTHER__", other)
                )
                self.answer(200, page, "text/html; charset=utf-8")
            elif url.path == "/upload-token":
                # A real application checks its own session here: the token is its user's.
                self.answer(200, mint(expired="expired" in query))
            elif url.path == "/other-origin":
                self.answer(200, OTHER_ORIGIN_PAGE, "text/html; charset=utf-8")
            elif url.path == "/healthz":
                self.answer(200, "ok")
            elif url.path == "/events":
                with lock:
                    self.answer(200, json.dumps(events), "application/json")
            else:
                self.answer(404, "not found")

        def do_POST(self):
            if urlsplit(self.path).path != "/hooks/uploads":
                return self.answer(404, "not found")
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            try:
                event = hook.verify(body, dict(self.headers.items()))
            except WebhookVerificationError as err:
                return self.answer(400, f"not verified: {err}")
            with lock:
                if all(e["id"] != self.headers["webhook-id"] for e in events):
                    events.append({"id": self.headers["webhook-id"], **event})
            self.answer(204, "")

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"host app on http://localhost:{args.port}/ framing {args.uploader}/embed/{args.profile}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
