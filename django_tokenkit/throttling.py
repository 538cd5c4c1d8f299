"""Login throttling under its own DRF scope, ``tokenkit_login``."""

from __future__ import annotations

import logging

from django.core.cache import BaseCache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from django_tokenkit.cache import get_cache, warn_cache_unavailable
from django_tokenkit.conf import tokenkit_settings

logger = logging.getLogger(__name__)


class LoginRateThrottle(SimpleRateThrottle):
    """Limit login attempts per client IP to ``TOKENKIT["LOGIN_THROTTLE_RATE"]``.

    The counters live in tokenkit's shared cache, so the limit holds across
    processes. If that cache is down the throttle lets requests through
    rather than locking every user out; the failure is logged.
    """

    scope = "tokenkit_login"

    def __init__(self) -> None:
        # DRF's class attribute is the default cache; ours follows CACHE_ALIAS.
        self.cache: BaseCache = get_cache()
        super().__init__()

    def get_rate(self) -> str | None:
        return tokenkit_settings.login_throttle_rate

    def get_ident(self, request: Request) -> str:
        """The client's address: ``REMOTE_ADDR`` unless ``NUM_PROXIES`` says otherwise.

        DRF's default trusts a client-sent ``X-Forwarded-For`` when
        ``NUM_PROXIES`` is unset, so an attacker inventing a new address per
        attempt would never be throttled. Like ``services.issue.client_details``
        we trust ``REMOTE_ADDR``; DRF's proxy handling applies only once
        ``NUM_PROXIES`` is configured.
        """
        if api_settings.NUM_PROXIES is None:
            return str(request.META.get("REMOTE_ADDR") or "")
        return str(super().get_ident(request))

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as error:  # the cache backend's connection error
            warn_cache_unavailable("login throttling", error)
            return True
