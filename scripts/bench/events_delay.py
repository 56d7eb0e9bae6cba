#!/usr/bin/env python3
"""From verdict to delivery: uploads N small files through an instance as the page does (sign,
POST to the bucket, confirm), one after the other, noting when each confirm returned (the
verdict), and reads when the receiver (scripts/webhook-receiver.py) got each event. Prints
"count p50_ms p99_ms max_ms".

    events_delay.py APP_URL RECEIVER_URL N
"""
import base64
import hashlib
import sys
import time

import requests


def main():
    app, receiver, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    confirmed = {}
    for i in range(count):
        session = requests.Session()
        body = f"event {i}".encode()
        signed = session.post(
            f"{app}/api/sign_upload",
            data={
                "access_code": "",
                "file_name": f"e{i}.txt",
                "size": len(body),
                "content_type": "text/plain",
                "checksum_sha256": base64.b64encode(hashlib.sha256(body).digest()).decode(),
            },
            headers={"accept": "application/json"},
        ).json()
        posted = requests.post(
            signed["url"], data=signed["fields"], files={"file": (f"e{i}.txt", body, "text/plain")}
        )
        etag = posted.text.split("<ETag>")[1].split("</ETag>")[0].replace("&quot;", '"')
        stored = session.post(
            f"{app}/api/confirm_upload",
            data={"key": signed["key"], "etag": etag, "receipt": signed["receipt"]},
            headers={"accept": "application/json"},
        ).json()
        assert stored["key"] == signed["key"], stored
        confirmed[signed["key"]] = time.time()
    deadline = time.time() + 30
    arrived = {}
    while len(arrived) < count and time.time() < deadline:
        for d in requests.get(f"{receiver}/deliveries").json():
            key = (d.get("event") or {}).get("data", {}).get("key")
            if key in confirmed and d["verified"] and key not in arrived:
                arrived[key] = d["at"]
        time.sleep(0.2)
    delays = sorted((arrived[k] - confirmed[k]) * 1000 for k in arrived)
    if len(delays) < count:
        print(f"only {len(delays)} of {count} events arrived", file=sys.stderr)
        sys.exit(1)
    pick = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
    print(f"{len(delays)} {pick(0.5):.1f} {pick(0.99):.1f} {delays[-1]:.1f}")


if __name__ == "__main__":
    main()
