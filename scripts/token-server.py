"""A small token service for the bearer-token test registry (docker-registry `auth.token`).

GET /token?service=S&scope=repository:NAME:ACTIONS with HTTP Basic credentials USER:PASS issues
an RS256 JWT (signed with openssl, certificate chain in `x5c`) granting the asked actions; wrong
credentials get 401, no credentials get a token without access (as public registries do).

    python3 token-server.py PORT KEY.pem CERT.pem ISSUER SERVICE USER PASS
"""
import base64
import http.server
import json
import subprocess
import sys
import time
import urllib.parse

port, key, cert, issuer, service, user, password = sys.argv[1:8]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


with open(cert) as handle:
    pem = handle.read()
der = base64.b64decode("".join(line for line in pem.splitlines() if "-----" not in line))


def token(access):
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
    claims = {"iss": issuer, "sub": user, "aud": service, "exp": now + 300, "nbf": now - 10,
              "iat": now, "jti": str(time.time_ns()), "access": access}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input.encode(),
                               capture_output=True, check=True).stdout
    return f"{signing_input}.{b64(signature)}"


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/token":
            self.send_error(404)
            return
        query = urllib.parse.parse_qs(url.query)
        header = self.headers.get("Authorization", "")
        granted = []
        if header:
            given = base64.b64decode(header.removeprefix("Basic ")).decode(errors="replace")
            if given != f"{user}:{password}":
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            for scope in query.get("scope", []):
                kind, name, actions = scope.split(":")
                granted.append({"type": kind, "name": name, "actions": actions.split(",")})
        body = json.dumps({"token": token(granted)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
