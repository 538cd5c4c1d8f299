"""The client's own calls to the auth endpoints (``token/``, ``token/refresh/``, ...).

These go through an HTTP client of the client's own, never through the
caller's request: a refresh is not part of any one request's flow, and the
threads and tasks waiting for it must not hold a lock across somebody
else's I/O. httpx is used when installed, else requests; pass ``http=`` (an
``httpx.Client`` or a ``requests.Session``) to reuse your own TLS, proxy and
timeout settings.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django_tokenkit.client.errors import MissingDependency

CLIENT_EXTRA_HINT = "pip install 'django-tokenkit[client]'"


class TransportError(Exception):
    """The request did not get an HTTP answer (connection refused, reset, timeout)."""


@dataclass(frozen=True)
class AuthResponse:
    """What an auth endpoint answered: status, headers (lower-cased names), JSON body."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, Any] | None = None

    @property
    def code(self) -> str:
        value = (self.data or {}).get("code")
        return value if isinstance(value, str) else ""

    @property
    def detail(self) -> str:
        value = (self.data or {}).get("detail")
        return value if isinstance(value, str) else ""


def _json_or_none(parse: Any) -> Mapping[str, Any] | None:
    try:
        data = parse()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class AuthEndpoints:
    """POST/GET to ``auth_url`` + path, with whichever HTTP library is available."""

    def __init__(
        self, auth_url: str, *, timeout: float = 10.0, verify: bool | str = True, http: Any = None
    ) -> None:
        self.auth_url = auth_url if auth_url.endswith("/") else auth_url + "/"
        self.timeout = timeout
        self.verify = verify
        self._http = http
        self._owns_http = http is None
        self._kind = self._detect(http)

    @staticmethod
    def _detect(http: Any) -> str:
        if http is not None:
            return "httpx" if type(http).__module__.startswith("httpx") else "requests"
        for name in ("httpx", "requests"):
            try:
                importlib.import_module(name)
            except ImportError:
                continue
            return name
        raise MissingDependency(
            f"TokenkitAuth needs httpx or requests to talk to the auth server: {CLIENT_EXTRA_HINT}"
        )

    def _client(self) -> Any:
        if self._http is None:
            if self._kind == "httpx":
                import httpx

                self._http = httpx.Client(timeout=self.timeout, verify=self.verify)
            else:
                import requests

                self._http = requests.Session()
        return self._http

    def request(
        self,
        method: str,
        path: str,
        payload: Mapping[str, Any] | None = None,
        bearer: str | None = None,
    ) -> AuthResponse:
        """Send one request; raises :class:`TransportError` when no answer came."""
        url = self.auth_url + path
        headers = {"Accept": "application/json"}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        client = self._client()
        if self._kind == "httpx":
            import httpx

            try:
                response = client.request(method, url, json=payload, headers=headers)
            except httpx.TransportError as error:
                raise TransportError(type(error).__name__) from error
            return AuthResponse(
                response.status_code,
                {key.lower(): value for key, value in response.headers.items()},
                _json_or_none(response.json) if response.content else None,
            )
        import requests

        try:
            answer = client.request(
                method, url, json=payload, headers=headers, timeout=self.timeout, verify=self.verify
            )
        except requests.RequestException as error:
            raise TransportError(type(error).__name__) from error
        return AuthResponse(
            answer.status_code,
            {key.lower(): value for key, value in answer.headers.items()},
            _json_or_none(answer.json) if answer.content else None,
        )

    def close(self) -> None:
        """Close the HTTP client the endpoints created (never one passed in as ``http``)."""
        if self._owns_http and self._http is not None:
            self._http.close()
            self._http = None
