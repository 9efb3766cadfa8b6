"""A real HTTP proxy between the pipeline and LocalStack, for fault tests (not fixtures: classes).

``ServiceProxy`` forwards every request to LocalStack on a port of its own; the test points one
service at it with boto3's per-service endpoint variable (``AWS_ENDPOINT_URL_S3``, ...). It can
- go **down**: its listening socket closes and its open connections are dropped, so new
  connections are refused, as when a service or the network path to it is away;
- **throttle**: answer a share of the requests of one Kinesis operation with Kinesis's own
  ``ProvisionedThroughputExceededException`` (HTTP 400), counting them.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProxy:
    def __init__(self, upstream_port: int, throttle_target: str | None = None, throttle_share: float = 0.0):
        self.upstream_port = upstream_port
        self.port = free_port()
        self.throttle_target = throttle_target  # e.g. "Kinesis_20131202.GetRecords"
        self.throttle_share = throttle_share
        self.throttled = 0
        self.forwarded = 0
        self.refused_while_down = False
        self._rng = random.Random(7)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._open: set[socket.socket] = set()
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with proxy._lock:
                    proxy._open.add(self.connection)

            def finish(self) -> None:
                with proxy._lock:
                    proxy._open.discard(self.connection)
                super().finish()

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                target = self.headers.get("X-Amz-Target", "")
                if proxy.throttle_target and target == proxy.throttle_target:
                    with proxy._lock:
                        throttle = proxy._rng.random() < proxy.throttle_share
                        proxy.throttled += throttle
                    if throttle:
                        payload = (
                            b'{"__type":"ProvisionedThroughputExceededException",'
                            b'"message":"Rate exceeded for shard (injected by the test proxy)"}'
                        )
                        self.send_response(400)
                        self.send_header("Content-Type", "application/x-amz-json-1.1")
                        self.send_header("x-amzn-ErrorType", "ProvisionedThroughputExceededException")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    upstream.close()
                with proxy._lock:
                    proxy.forwarded += 1

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler, bind_and_activate=False)
        server.allow_reuse_address = True
        server.daemon_threads = True
        server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.server_bind()
        server.server_activate()
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        self._server = server

    def down(self) -> None:
        """Refuse connections: close the listener and drop every open connection."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        with self._lock:
            open_connections, self._open = list(self._open), set()
        for conn in open_connections:
            with contextlib.suppress(OSError):  # already closed by its peer
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def close(self) -> None:
        self.down()
