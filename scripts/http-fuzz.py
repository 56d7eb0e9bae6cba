#!/usr/bin/env python3
"""Random HTTP requests against running servers for a bounded time: server-function bodies,
headers, cookies, multipart bodies, paths. Passes when no answer is a server error (5xx) and no
server stopped answering.
usage: scripts/http-fuzz.py SECONDS URL...   (each URL an app or a dev bucket, e.g. http://127.0.0.1:3101)"""
import http.client
import random
import sys
import time
import urllib.parse

FUNCTIONS = ["sign_upload", "confirm_upload", "my_uploads", "page_form", "upload_target", "nope"]
ARGS = ["file_name", "size", "content_type", "access_code", "checksum_sha256", "key", "etag", "receipt", "metadata[a]", "metadata[B C]", "profile"]


def text(n):
    alphabet = "abcXYZ019 /\\.%$&=?#;:\"'<>{}[]\r\n\t\x00é€\u202e"
    return "".join(random.choice(alphabet) for _ in range(random.randint(0, n)))


def form_body():
    pairs = [(random.choice(ARGS), random.choice([text(30), str(random.randint(-5, 10**12)), "uploads/" + "a" * 32 + "/d/x.txt"])) for _ in range(random.randint(0, 8))]
    return urllib.parse.urlencode(pairs).encode()


def multipart_body():
    boundary = random.choice(["B", "----x", ""])
    parts = []
    for _ in range(random.randint(0, 8)):
        name = random.choice(["key", "policy", "x-amz-signature", "x-amz-credential", "x-amz-date", "x-amz-algorithm", "file", text(8)])
        header = f'Content-Disposition: form-data; name="{name}"' + (f'; filename="{text(10)}"' if random.random() < 0.3 else "")
        parts.append(f"--{boundary}\r\n{header}\r\n\r\n{text(60)}\r\n")
    body = "".join(parts) + (f"--{boundary}--\r\n" if random.random() < 0.8 else text(20))
    return body.encode("utf-8", "surrogatepass"), f"multipart/form-data; boundary={boundary}"


def request(base):
    url = urllib.parse.urlsplit(base)
    kind = random.random()
    headers = {"Accept": random.choice(["application/json", "*/*", text(10)])}
    if random.random() < 0.5:
        headers["Cookie"] = random.choice([f"uploader={text(40)}", f"__Host-uploader={text(70)}", text(30)])
    if random.random() < 0.3:
        headers["X-Forwarded-For"] = random.choice(["203.0.113.7", text(20), "::1, 10.0.0.1"])
    if random.random() < 0.2:
        headers["Origin"] = random.choice([base, "http://evil.example", text(10)])
    if kind < 0.5:
        method, path = "POST", "/api/" + random.choice(FUNCTIONS)
        body = form_body() if random.random() < 0.8 else bytes(random.getrandbits(8) for _ in range(random.randint(0, 200)))
        headers["Content-Type"] = random.choice(["application/x-www-form-urlencoded", "application/json", text(12)])
    elif kind < 0.8:
        method, path = "POST", random.choice(["/dev-uploads", "/uploads", "/" + urllib.parse.quote(text(8))])
        body, headers["Content-Type"] = multipart_body()
    else:
        method, body = "GET", b""
        path = random.choice(["/", "/uploaded?" + urllib.parse.urlencode({"session": text(40), "key": text(20), "etag": text(10), "receipt": text(40)}), "/readyz", "/healthz", "/dev-uploads/" + urllib.parse.quote(text(20)), "/pkg/" + urllib.parse.quote(text(5))])
    for name, value in list(headers.items()):
        # http.client refuses control characters in headers: those requests go out without them.
        if any(c in value for c in "\r\n\x00") or not value.isascii():
            del headers[name]
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        return conn.getresponse().status, f"{method} {path}"
    except (ConnectionError, http.client.HTTPException, OSError) as err:
        # Named in the failure, so that a run's tail says which request went unanswered.
        raise Unanswered(f"{method} {path} {headers!r} body={body[:300]!r}: {err}") from err
    finally:
        conn.close()


class Unanswered(Exception):
    pass


def main():
    seconds, urls = float(sys.argv[1]), sys.argv[2:]
    random.seed(int(time.time()))
    deadline = time.time() + seconds
    counts, failures = {}, []
    while time.time() < deadline:
        for base in urls:
            try:
                status, what = request(base)
            except Unanswered as err:
                failures.append(f"{base}: no answer to {err}")
                continue
            counts[status] = counts.get(status, 0) + 1
            if status >= 500:
                failures.append(f"{base}: {status} for {what}")
    total = sum(counts.values())
    print(f"http-fuzz: {total} requests in {seconds:.0f} s, statuses {dict(sorted(counts.items()))}, {len(failures)} failures")
    for failure in failures[:20]:
        print("  " + failure)
    sys.exit(1 if failures or total == 0 else 0)


if __name__ == "__main__":
    main()
