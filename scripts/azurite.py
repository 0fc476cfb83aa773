#!/usr/bin/env python3
"""Minimal Azure Blob client for the test services (stdlib only, Shared Key auth).

    azurite.py URL create-container NAME
    azurite.py URL put CONTAINER BLOB FILE

URL is the Azurite blob endpoint (http://127.0.0.1:PORT). Uses Azurite's published development
account; nothing here is a secret.
"""

import base64
import hashlib
import hmac
import sys
import urllib.error
import urllib.parse
import urllib.request
from email.utils import formatdate

ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
VERSION = "2021-08-06"


def request(base, method, path, query, body=b"", headers=None):
    headers = dict(headers or {})
    # urllib adds a form Content-Type to any request with a body; sign the one actually sent.
    headers.setdefault("Content-Type", "application/octet-stream")
    headers["x-ms-date"] = formatdate(usegmt=True)
    headers["x-ms-version"] = VERSION
    url_path = f"/{ACCOUNT}/{path}"
    canonical_headers = "".join(
        f"{k}:{v}\n" for k, v in sorted((k.lower(), v) for k, v in headers.items() if k.lower().startswith("x-ms-"))
    )
    resource = f"/{ACCOUNT}{urllib.parse.quote(url_path)}" + "".join(
        f"\n{k}:{v}" for k, v in sorted(query.items())
    )
    length = str(len(body)) if body else ""
    content_type = headers.get("Content-Type", "")
    to_sign = "\n".join(
        [method, "", "", length, "", content_type, "", "", "", "", "", "", canonical_headers + resource]
    )
    signature = base64.b64encode(
        hmac.new(base64.b64decode(KEY), to_sign.encode(), hashlib.sha256).digest()
    ).decode()
    headers["Authorization"] = f"SharedKey {ACCOUNT}:{signature}"
    url = base.rstrip("/") + urllib.parse.quote(url_path)
    if query:
        url += "?" + urllib.parse.urlencode(query)
    req = urllib.request.Request(url, data=body if method == "PUT" else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req) as response:
            return response.status
    except urllib.error.HTTPError as error:
        if error.code == 409 and query.get("restype") == "container":
            return 409  # already exists
        sys.exit(f"azurite.py: {method} {path}: HTTP {error.code}: {error.read()[:200]!r}")


def main(argv):
    base, command, *args = argv
    if command == "create-container":
        (name,) = args
        request(base, "PUT", name, {"restype": "container"})
    elif command == "put":
        container, blob, path = args
        with open(path, "rb") as f:
            body = f.read()
        request(
            base,
            "PUT",
            f"{container}/{blob}",
            {},
            body,
            {"x-ms-blob-type": "BlockBlob", "Content-Type": "application/octet-stream"},
        )
    else:
        sys.exit(f"azurite.py: unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
