"""An ASGI wrapper that refuses an oversized body to tokenkit's endpoints before it is read.

Under WSGI nothing reads a request body before the view asks for it, and
tokenkit's views check ``Content-Length`` first
(:func:`~django_tokenkit.parsers.check_content_length`). Under ASGI, Django's
``ASGIHandler`` reads the whole body (spooling it to disk past
``FILE_UPLOAD_MAX_MEMORY_SIZE``) before any middleware or view runs, so a 50 MB
login body was received in full before its 400. Wrap the ASGI application::

    # asgi.py
    from django.core.asgi import get_asgi_application
    from django_tokenkit.asgi import BodyLimitMiddleware

    application = BodyLimitMiddleware(get_asgi_application())

For a request to one of tokenkit's URLs (those of ``include("django_tokenkit.urls")``)
a declared ``Content-Length`` over :data:`~django_tokenkit.parsers.MAX_BODY_BYTES`
is answered 400 at once, without reading a byte of the body; a body sent
without ``Content-Length`` (chunked) is read only up to that limit. Every
other request goes to Django untouched.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.urls import Resolver404, resolve

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: Any ASGI 3 application; loose on purpose, as Django's ASGIHandler types its
#: arguments as dict and Mapping.
ASGIApp = Callable[..., Awaitable[None]]

#: The URLconf namespace of django_tokenkit.urls.
APP_NAME = "tokenkit"


class BodyLimitMiddleware:
    """Refuse bodies over ``MAX_BODY_BYTES`` to tokenkit's endpoints before Django reads them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Imported here: asgi.py imports this module before Django is set up,
        # and the parsers module imports DRF, which reads settings.
        from django_tokenkit.parsers import MAX_BODY_BYTES

        if scope["type"] != "http" or not _is_tokenkit_path(scope):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is None:
            await _refuse(send, "Invalid Content-Length header.")
            return
        if declared > MAX_BODY_BYTES:
            await _refuse(send, f"Request body is larger than {MAX_BODY_BYTES} bytes.")
            return
        # No (or a small) Content-Length: read at most the limit, then hand Django
        # what was read. A chunked body has nothing to declare.
        received: list[Message] = []
        size = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break  # http.disconnect: let Django see it
            size += len(message.get("body", b""))
            if size > MAX_BODY_BYTES:
                await _refuse(send, f"Request body is larger than {MAX_BODY_BYTES} bytes.")
                return
            if not message.get("more_body", False):
                break
        replay = iter(received)

        async def replayed() -> Message:
            for message in replay:
                return message
            return await receive()

        await self.app(scope, replayed, send)


def _is_tokenkit_path(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :]
    try:
        match = resolve(path or "/")
    except Resolver404:
        return False
    return APP_NAME in match.app_names


def _content_length(scope: Scope) -> int | None:
    """The declared length (0 when absent), or None when the header is not a number."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None
            return length if length >= 0 else None
    return 0


async def _refuse(send: Send, detail: str) -> None:
    """The 400 tokenkit's views answer for an oversized body (DRF's ``parse_error``)."""
    body = json.dumps({"detail": detail, "code": "parse_error"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                # The body was not read: the connection cannot be reused.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
