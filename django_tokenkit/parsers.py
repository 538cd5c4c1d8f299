"""Body parsers for tokenkit's own views that fail closed, with a 400.

DRF's parsers read a JSON body straight from the socket with no size limit,
and Python's ``json`` raises ``RecursionError`` (which DRF does not catch,
so a 500) on deeply nested input. Auth requests are a few hundred bytes, so
a declared body larger than :data:`MAX_BODY_BYTES` is refused (tokenkit's
views call :func:`check_content_length` first, the parsers check again) and
every decoding failure becomes ``ParseError``.

Under WSGI that refusal comes before the body is read: nothing reads it
before the view. Under ASGI, Django's handler reads the whole body before
any view or middleware runs; :class:`django_tokenkit.asgi.BodyLimitMiddleware`,
wrapped around the ASGI application, refuses it before it is read there too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.core.exceptions import SuspiciousOperation
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser

#: The largest request body tokenkit's endpoints read, in bytes.
MAX_BODY_BYTES = 16 * 1024


def check_content_length(meta: Mapping[str, Any]) -> None:
    """Raise ``ParseError`` when the declared body is larger than ``MAX_BODY_BYTES``.

    Views call this before anything reads the body: DRF (3.16 and later)
    reads the whole body, up to ``DATA_UPLOAD_MAX_MEMORY_SIZE``, before it
    hands a JSON or form parser the stream, which is too late to refuse it.
    """
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        raise ParseError("Invalid Content-Length header.") from None
    if length > MAX_BODY_BYTES:
        raise ParseError(f"Request body is larger than {MAX_BODY_BYTES} bytes.")


def _check_length(parser_context: Mapping[str, Any] | None) -> None:
    request = (parser_context or {}).get("request")
    check_content_length(getattr(request, "META", {}))


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, with too deeply nested input a 400 instead of a 500.

    Public: put it in ``DEFAULT_PARSER_CLASSES`` in place of DRF's
    ``JSONParser`` to give your own views the same guarantee.
    """

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


class BoundedJSONParser(SafeJSONParser):
    """JSON of at most ``MAX_BODY_BYTES``, for tokenkit's own small requests."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        _check_length(parser_context)
        return super().parse(stream, media_type, parser_context)


class BoundedFormParser(FormParser):
    """URL-encoded forms (RFC 7009/7662 clients send these), size-limited."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        _check_length(parser_context)
        try:
            return super().parse(stream, media_type, parser_context)
        except (SuspiciousOperation, UnicodeDecodeError, ValueError):
            raise ParseError("Form parse error.") from None
