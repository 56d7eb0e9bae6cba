"""A test authenticator for nginx's auth_request, standing in for oauth2-proxy: the browser is
signed in when it carries a `demo_user` cookie; the answer names that user (and a role) in the
headers nginx passes on. Usage: authenticator.py PORT"""

import http.cookies
import http.server
import sys


class Check(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        cookies = http.cookies.SimpleCookie(self.headers.get("Cookie", ""))
        user = cookies.get("demo_user")
        if user is None or not user.value:
            self.send_response(401)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("X-Auth-Request-User", user.value)
        self.send_header("X-Auth-Request-Groups", "uploader")
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Check).serve_forever()
