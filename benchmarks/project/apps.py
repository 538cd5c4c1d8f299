"""The benchmark project as an app: every login also writes ``User.last_login``.

tokenkit's login does not save the user; a project that wants ``last_login``
connects Django's ``update_last_login`` to ``token_obtained``, as
docs/migrating-from-simplejwt.rst says (simplejwt's ``UPDATE_LAST_LOGIN``).
The benchmark project does, so that a login pays for that save and the
requests after it run in the window the save opens: the user row changed,
its cached copy tombstoned and then refreshed (``tokenkit-redis-post-login``).
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def _update_last_login(sender: Any, user: Any, **kwargs: Any) -> None:
    from django.contrib.auth.models import update_last_login

    update_last_login(sender, user)


class BenchmarkProjectConfig(AppConfig):
    name = "benchmarks.project"
    label = "benchmark_project"

    def ready(self) -> None:
        from django_tokenkit import signals

        signals.token_obtained.connect(
            _update_last_login, dispatch_uid="benchmarks.project.update_last_login"
        )
