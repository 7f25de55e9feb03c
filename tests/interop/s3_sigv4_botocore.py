#!/usr/bin/python3
"""s3_sigv4_botocore.py -- the S3 requests Quiver signs, checked against botocore's signer.

s3rver does not check signatures, so this script stands in for S3 itself: a small HTTP listener
records every request a real quiver-server sends during a BGBACKUP (ListObjectsV2, PUT of an
object, a multipart upload -- create, parts, complete -- and the manifest) and during
`quiver-server --s3-list`, answers each one as S3 would, and then recomputes each request's
Authorization header with Debian's python3-botocore (botocore.auth.S3SigV4Auth, the signer of
boto3 and the AWS CLI) from the method, URL, headers and body that arrived. Both must be equal,
byte for byte. botocore hashes the body itself, so the payload hash is checked too.

The credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (so the
session token header is signed), the region is not us-east-1, the prefix holds a space and the
upload id characters that must be percent-encoded: the canonical URI and query are exercised.
Both addressings are checked: path style (http://host/bucket/key) and virtual-host style
(http://bucket.host/key, with CONFIG SET s3-force-path-style no).

Starts its own server (src/quiver-server, or $QUIVER_SERVER) on a free port and stops it.
Run from the repository root:  /usr/bin/python3 tests/interop/s3_sigv4_botocore.py
"""
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER = os.environ.get("QUIVER_SERVER", os.path.join(ROOT, "src", "quiver-server"))

ACCESS_KEY = "AKIDQUIVERINTEROP1"
SECRET_KEY = "interop/Secret+Key=0123456789abcdefXYZ"
SESSION_TOKEN = "FwoGZXIvYXdzEJr//////////wEaDH+token/with=chars"
REGION = "eu-west-3"
BUCKET = "interop-bucket"
PREFIX = "quiver backups/"
UPLOAD_ID = "2~upload/id+with=chars"

requests_seen = []
lock = threading.Lock()


class FakeS3(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        with lock:
            requests_seen.append({
                "method": self.command,
                "path": path,
                "query": query,
                "headers": [(k, v) for k, v in self.headers.items()],
                "body": body,
            })
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        if self.command == "GET" and "list-type" in params:
            xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>"
                   "<Name>%s</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
                   "</ListBucketResult>" % BUCKET)
            self._answer(200, xml.encode())
        elif self.command == "POST" and "uploads" in params:
            xml = ("<InitiateMultipartUploadResult><Bucket>%s</Bucket><UploadId>%s</UploadId>"
                   "</InitiateMultipartUploadResult>" % (BUCKET, UPLOAD_ID))
            self._answer(200, xml.encode())
        elif self.command == "POST" and "uploadId" in params:
            self._answer(200, b"<CompleteMultipartUploadResult><ETag>\"x-2\"</ETag>"
                              b"</CompleteMultipartUploadResult>")
        elif self.command == "PUT":
            self._answer(200, b"", {"ETag": "\"%s\"" % hashlib.md5(body).hexdigest()})
        elif self.command == "DELETE":
            self._answer(204)
        else:
            self._answer(404, b"<Error><Code>NoSuchKey</Code><Message>no</Message></Error>")

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def botocore_authorization(req):
    """What botocore's S3 SigV4 signer puts in Authorization for this request."""
    headers = dict(req["headers"])
    lower = {k.lower(): v for k, v in headers.items()}
    amz_date = lower["x-amz-date"]
    url = "http://%s%s%s" % (lower["host"], req["path"], "?" + req["query"] if req["query"] else "")
    # What S3 would see: every header but the transport's Content-Length and the signature
    # itself. x-amz-content-sha256, x-amz-date and the token are dropped too: botocore sets them
    # again from the body, the timestamp and the credentials, as it does when it signs.
    keep = {k: v for k, v in headers.items()
            if k.lower() not in ("authorization", "content-length", "x-amz-content-sha256",
                                 "x-amz-date", "x-amz-security-token")}
    aws = AWSRequest(method=req["method"], url=url, data=req["body"], headers=keep)
    aws.context["timestamp"] = amz_date
    signer = S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN), "s3", REGION)
    signer._modify_request_before_signing(aws)
    canonical = signer.canonical_request(aws)
    sts = signer.string_to_sign(aws, canonical)
    signature = signer.signature(sts, aws)
    signed = signer.signed_headers(signer.headers_to_sign(aws))
    return ("AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=%s, Signature=%s"
            % (signer.scope(aws), signed, signature)), canonical


def main():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeS3)
    s3port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    port = free_port()
    workdir = tempfile.mkdtemp(prefix="qv-s3-sigv4-",
                               dir=os.environ.get("QUIVER_TEST_TMPDIR") or None)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
               AWS_SESSION_TOKEN=SESSION_TOKEN)
    s3args = ["--s3-bucket", BUCKET, "--s3-endpoint", "http://127.0.0.1:%d" % s3port,
              "--s3-force-path-style", "yes", "--s3-region", REGION, "--s3-prefix", PREFIX,
              "--s3-part-size", "5mb", "--s3-max-retries", "0"]
    log = open(os.path.join(workdir, "server.log"), "wb")
    proc = subprocess.Popen([SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir,
                             "--save", "", "--enable-protected-configs", "yes"] + s3args,
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        r = None
        for _ in range(200):
            try:
                r = redis.Redis(host="127.0.0.1", port=port)
                r.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        # A small index (one PUT) and one above the 5 MB part size (a multipart upload).
        r.execute_command("VADD", "idx:small", "VALUES", 3, 1.0, 2.0, 3.0, "a b")
        pipe = r.pipeline(transaction=False)
        for i in range(9000):
            vec = struct.pack("<128f", *[((i * 31 + d * 7) % 97) / 97.0 for d in range(128)])
            pipe.execute_command("VADD", "big", "FP32", vec, "e%d" % i, "NOQUANT")
        pipe.execute()
        check(r.execute_command("BGBACKUP") == b"Background backup started", "BGBACKUP")
        info = {}
        for _ in range(1200):
            info = r.info("persistence")
            if info.get("s3_uploads", 0) + info.get("s3_upload_failures", 0) >= 1:
                break
            time.sleep(0.05)
        check(info.get("s3_last_upload_status") == "ok",
              "backup failed: %s" % info.get("s3_last_upload_error"))
        listing = subprocess.run([SERVER, "--s3-list"] + s3args, env=env, capture_output=True,
                                 timeout=30)
        check(listing.returncode == 0 and b"0 backup(s)" in listing.stdout,
              "--s3-list: %r %r" % (listing.stdout, listing.stderr))
        # Virtual-host style (AWS's default): Host is <bucket>.<endpoint host>, the path has no
        # bucket. curl resolves *.localhost to the loopback address itself.
        vhost = ["--s3-bucket", BUCKET, "--s3-endpoint", "http://localhost:%d" % s3port,
                 "--s3-force-path-style", "no", "--s3-region", REGION, "--s3-prefix", PREFIX]
        listing = subprocess.run([SERVER, "--s3-list"] + vhost, env=env, capture_output=True,
                                 timeout=30)
        check(listing.returncode == 0, "--s3-list (virtual-host style): %r" % listing.stderr)
        r.config_set("s3-force-path-style", "no")
        r.config_set("s3-endpoint", "http://localhost:%d" % s3port)
        r.execute_command("VADD", "idx:small", "VALUES", 3, 3.0, 2.0, 1.0, "changed")
        check(r.execute_command("BGBACKUP") == b"Background backup started", "BGBACKUP vhost")
        for _ in range(1200):
            info = r.info("persistence")
            if info.get("s3_uploads", 0) + info.get("s3_upload_failures", 0) >= 2:
                break
            time.sleep(0.05)
        check(info.get("s3_last_upload_status") == "ok",
              "vhost backup failed: %s" % info.get("s3_last_upload_error"))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        httpd.shutdown()

    kinds = {}
    for req in requests_seen:
        lower = {k.lower(): v for k, v in req["headers"]}
        params = urllib.parse.parse_qs(req["query"], keep_blank_values=True)
        if req["method"] == "GET" and "list-type" in params:
            kind = "list"
        elif req["method"] == "POST" and "uploads" in params:
            kind = "create-multipart"
        elif req["method"] == "PUT" and "partNumber" in params:
            kind = "upload-part"
            check(params["uploadId"] == [UPLOAD_ID], "upload id round trip: %r" % params)
        elif req["method"] == "POST" and "uploadId" in params:
            kind = "complete-multipart"
            check(b"<PartNumber>2</PartNumber>" in req["body"], "complete lists the parts")
        elif req["method"] == "PUT":
            kind = "put-manifest" if req["path"].endswith(".manifest") else "put-object"
        else:
            kind = req["method"].lower()
        if lower["host"].startswith(BUCKET + ".localhost:"):
            kind = "vhost-" + kind
            check(urllib.parse.unquote(req["path"]).startswith("/" + PREFIX) or
                  kind == "vhost-list", "path %s" % req["path"])
        else:
            check(urllib.parse.unquote(req["path"]).startswith("/%s/%s" % (BUCKET, PREFIX)) or
                  kind == "list", "path %s" % req["path"])
        kinds[kind] = kinds.get(kind, 0) + 1
        want, canonical = botocore_authorization(req)
        got = lower.get("authorization", "")
        check(got == want, "%s %s?%s\n  quiver:   %s\n  botocore: %s\n  canonical request:\n%s"
              % (req["method"], req["path"], req["query"], got, want, canonical))
        # Every x-amz-* header sent is signed (S3 refuses unsigned ones).
        signed = got.split("SignedHeaders=")[1].split(",")[0].split(";")
        for k in lower:
            if k.startswith("x-amz-") or k == "host":
                check(k in signed, "%s sent but not signed" % k)
    for k in ("list", "put-object", "create-multipart", "upload-part", "complete-multipart",
              "put-manifest", "vhost-list", "vhost-put-object", "vhost-put-manifest"):
        check(kinds.get(k, 0) >= 1, "no %s request seen: %r" % (k, kinds))
    check(kinds["upload-part"] >= 2, "a multipart upload of at least two parts: %r" % kinds)
    shutil.rmtree(workdir, ignore_errors=True)
    print("s3_sigv4_botocore: %d requests signed as botocore signs them (%s); %d checks passed"
          % (len(requests_seen), ", ".join("%s %d" % kv for kv in sorted(kinds.items())), checks))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("FAIL s3_sigv4_botocore: %s" % e)
        sys.exit(1)
