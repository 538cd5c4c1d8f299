"""The client imports nothing from Django and names the extra it misses (SPEC section 6)."""

from __future__ import annotations

import subprocess
import sys

import pytest

BLOCKER = (
    "import sys\n"
    "BLOCKED = {blocked!r}\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in BLOCKED:\n"
    "            raise ImportError('blocked: ' + name)\n"
    "sys.meta_path.insert(0, Block())\n"
)


def run_blocked(blocked: set[str], code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER.format(blocked=sorted(blocked)) + code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_client_imports_without_django_or_drf() -> None:
    result = run_blocked(
        {"django", "rest_framework"},
        "from django_tokenkit.client import TokenkitAuth, APITokenAuth, FileTokenStore\n"
        "TokenkitAuth('http://127.0.0.1:9/api/auth/', 'u', 'p')\n"
        "APITokenAuth('tkp_' + 'a' * 49)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('django.', 'rest_framework'))))\n",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_client_with_only_requests_works_without_httpx() -> None:
    result = run_blocked(
        {"django", "rest_framework", "httpx"},
        "from django_tokenkit.client import TokenkitAuth\n"
        "auth = TokenkitAuth('http://127.0.0.1:9/api/auth/', 'u', 'p')\n"
        "print(auth._engine.endpoints._kind)\n",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "requests"


def test_tokenkit_auth_without_http_library_names_the_client_extra() -> None:
    result = run_blocked(
        {"django", "rest_framework", "httpx", "requests"},
        "from django_tokenkit.client import TokenkitAuth, MissingDependency\n"
        "try:\n"
        "    TokenkitAuth('http://127.0.0.1:9/api/auth/', 'u', 'p')\n"
        "except MissingDependency as error:\n"
        "    assert isinstance(error, ImportError)\n"
        "    print(error)\n",
    )

    assert result.returncode == 0, result.stderr
    assert "pip install 'django-tokenkit[client]'" in result.stdout


def test_redis_store_without_redis_names_the_client_redis_extra() -> None:
    result = run_blocked(
        {"django", "rest_framework", "redis"},
        "from django_tokenkit.client import RedisTokenStore, MissingDependency\n"
        "try:\n"
        "    RedisTokenStore('redis://127.0.0.1:6379/0', 'key')\n"
        "except MissingDependency as error:\n"
        "    print(error)\n",
    )

    assert result.returncode == 0, result.stderr
    assert "pip install 'django-tokenkit[client-redis]'" in result.stdout


@pytest.mark.parametrize(("username", "password"), [("u", None), (None, "p")])
def test_tokenkit_auth_half_the_credentials_is_refused(
    username: str | None, password: str | None
) -> None:
    from django_tokenkit.client import TokenkitAuth

    with pytest.raises(ValueError, match="both username and password"):
        TokenkitAuth("http://127.0.0.1:9/api/auth/", username, password)
