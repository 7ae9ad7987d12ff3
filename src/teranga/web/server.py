"""The HTTP server: uvicorn with httptools, plus a hand-over of the socket to live streams.

A live stream writes the same pre-encoded bytes to thousands of sockets per message. Through
ASGI each write is a ``send`` coroutine per client (checks, chunk framing, a join, then the
socket write), which costs several times the write itself. ``StreamingHttpTools`` puts the
connection's transport in the request scope (``scope["extensions"]["teranga.transport"]``)
for stream requests; the stream hub then writes each message's chunk straight to it. The
response still starts and ends through ASGI ``send``, so uvicorn's own bookkeeping (status,
headers, chunked framing, keep-alive, shutdown) is untouched; only the body chunks in
between bypass it. Without this protocol (tests through ``httpx``, other servers) streams
take the plain ASGI path.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

TRANSPORT_EXTENSION = "teranga.transport"
_STREAMS_PATH = b"/api/v1/streams/"


class StreamingHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, exposing the transport to stream requests."""

    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        # Only a request that starts now owns the socket (not a pipelined one, not an upgrade).
        if (
            cycle is None
            or cycle is previous
            or (previous is not None and not previous.response_complete)
            or self.scope.get("method") != "GET"
            or not self.scope.get("raw_path", b"").startswith(_STREAMS_PATH)
        ):
            return
        extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
        extensions[TRANSPORT_EXTENSION] = self.transport


HTTP_PROTOCOL = "teranga.web.server:StreamingHttpTools"
