"""Refuse request bodies over a size (413) before they are read into memory, and query
parameters or paths holding control characters (422) before any handler sees them."""
from __future__ import annotations

import re
from urllib.parse import parse_qsl

import orjson

from geo.engine.text_rules import control_character


class ControlCharacters:
    """Pure ASGI middleware: a NUL (or other control character) in the path or the query
    string is a 422 naming the parameter, whatever endpoint it was meant for."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            detail = self.problem(scope)
            if detail:
                return await BodySizeLimit._refuse(send, 422, detail)
        return await self.app(scope, receive, send)

    @staticmethod
    def problem(scope) -> str | None:
        if why := control_character(scope.get("path", "")):
            return f"path: {why}"
        query = scope.get("query_string", b"").decode("latin-1")
        for k, v in parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace"):
            if why := control_character(k) or control_character(v):
                return f"{k}: {why}"
        return None


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
        # a body without Content-Length (chunked) is read here, up to the limit, and replayed:
        # refusing it from inside the app would surface as FastAPI's 400 "error parsing the body"
        buffered, seen, more = [], 0, True
        while more:
            msg = await receive()
            buffered.append(msg)
            if msg["type"] != "http.request":
                break
            seen += len(msg.get("body", b""))
            more = msg.get("more_body", False)
            if seen > self.max_bytes:
                return await self._refuse(send, 413, f"request body over {self.max_bytes} bytes")

        async def replay():
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send, status: int, detail: str):
        body = orjson.dumps({"detail": detail})
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class RedactTokens:
    """A logging filter: token secrets (``yz_…``) and ``token=``/``access_token=`` query values
    never reach a log line (uvicorn's access log writes the full path with its query)."""

    _SECRET = re.compile(r"yz_[A-Za-z0-9_\-]+")
    _QUERY = re.compile(r"((?:access_)?token=)[^&\s]*", re.IGNORECASE)

    @classmethod
    def redact(cls, text: str) -> str:
        return cls._QUERY.sub(r"\1[redacted]", cls._SECRET.sub("yz_[redacted]", text))

    def filter(self, record) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        return True


def install_log_redaction() -> None:
    """Attach :class:`RedactTokens` to the access and error loggers (once)."""
    import logging

    for name in ("uvicorn.access", "uvicorn.error", "yizhan.api"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
