"""A small asyncio HTTP/1.1 client for bench/load.py: one keep-alive connection and one cookie jar per
simulated patron, as a browser has, for a fraction of httpx's CPU per request (the load generator
shares the portal's cores, so every millisecond it spends is one the portal does not get).

Just what the portal's pages need: GET and form POST, Content-Length or chunked bodies, no
redirect following, cookies by name (a Set-Cookie with Max-Age=0 or an expired date deletes).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import urlencode


class HttpError(Exception):
    """The connection broke or the answer was not HTTP/1.1 the client can read."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; Set-Cookie is applied to the jar, not kept here
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Client:
    def __init__(self, host: str, port: int, *, headers: dict[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}
        self.base_headers = f"Host: {host}:{port}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, data: dict[str, str] | None = None) -> Response:
        """One request; reconnects once if a kept-alive connection turns out closed before any answer."""
        body = urlencode(data).encode() if data is not None else b""
        head = f"{method} {path} HTTP/1.1\r\n{self.base_headers}"
        if self.cookies:
            head += "Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()) + "\r\n"
        if data is not None:
            head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        payload = head.encode("latin-1") + b"\r\n" + body
        for attempt in (1, 2):
            fresh = self._writer is None
            if fresh:
                try:
                    self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
                except OSError as exc:
                    raise HttpError(f"connect: {exc!r}") from exc
            try:
                self._writer.write(payload)
                return await self._read()
            except (OSError, asyncio.IncompleteReadError, HttpError) as exc:
                await self.close()
                if fresh or attempt == 2 or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                    raise HttpError(repr(exc)) from exc
        raise AssertionError("unreachable")

    async def _read(self) -> Response:
        reader = self._reader
        status_line = await reader.readuntil(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HttpError(f"not an HTTP status line: {status_line[:80]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        while True:
            line = await reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                self._set_cookie(value)
            else:
                headers[name] = value
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    while await reader.readuntil(b"\r\n") != b"\r\n":
                        pass
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(chunks)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        else:
            body = await reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, body)

    def _set_cookie(self, value: str) -> None:
        pair, *attributes = value.split(";")
        name, _, cookie = pair.strip().partition("=")
        lowered = [a.strip().lower() for a in attributes]
        if any(a == "max-age=0" for a in lowered) or any(a.startswith("expires=") and "1970" in a for a in lowered):
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = cookie

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
