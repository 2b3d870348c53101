"""Refuse request bodies over a size (413) before they are read into memory."""
from __future__ import annotations

import orjson


class BodySizeLimit:
    """Pure ASGI middleware: checks Content-Length and counts streamed bodies."""

    def __init__(self, app, *, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for k, v in scope.get("headers", ()):
            if k == b"content-length":
                try:
                    too_big = int(v) > self.max_bytes
                except ValueError:
                    return await self._refuse(send, 400, "bad Content-Length")
                if too_big:
                    return await self._refuse(send, 413, f"request body over {self.max_bytes} bytes")
        seen = 0

        async def limited():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooBig()
            return msg

        try:
            await self.app(scope, limited, send)
        except _TooBig:
            await self._refuse(send, 413, f"request body over {self.max_bytes} bytes")

    @staticmethod
    async def _refuse(send, status: int, detail: str):
        body = orjson.dumps({"detail": detail})
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooBig(Exception):
    pass
