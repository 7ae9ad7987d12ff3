"""A minimal keep-alive HTTP/1.1 client for load generation on loopback.

Benchmarks measure the server, so the client must cost little CPU per request: one
persistent connection per simulated client, requests written as bytes, responses parsed by
Content-Length. Not a general HTTP client (no chunked bodies, no redirects).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode


class KeepAlive:
    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.cookies: dict[str, str] = {}

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """One request; ``form`` sends a urlencoded body. Cookies the server sets are kept
        and sent back (name=value only: enough for a session or CSRF cookie)."""
        if self.writer is None or self.reader is None:
            await self.connect()
        assert self.writer is not None
        assert self.reader is not None
        if form is not None:
            payload, ctype = urlencode(form).encode(), "application/x-www-form-urlencoded"
        else:
            payload = json.dumps(body).encode() if body is not None else b""
            ctype = "application/json"
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        if self.cookies:
            extra += "Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()) + "\r\n"
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.extra}{extra}"
            f"Content-Type: {ctype}\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"set-cookie":
                k, _, v = value.strip().split(b";", 1)[0].partition(b"=")
                self.cookies[k.decode()] = v.decode()
        data = await self.reader.readexactly(length) if length else b""
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()
