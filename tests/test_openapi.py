"""The OpenAPI schema: drf-spectacular extensions, the example project's schema and docs."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from django_tokenkit import contrib
from django_tokenkit.contrib import spectacular
from tests.e2e import HTTP_TIMEOUT, Server, example_env, manage, running_servers, seed_users

#: What each tokenkit operation documents besides its success (SPEC section 5).
EXPECTED_ERRORS = {
    ("/api/auth/token/", "post"): {"400", "401", "403", "429", "503"},
    ("/api/auth/token/refresh/", "post"): {"400", "401", "403", "503"},
    ("/api/auth/logout/", "post"): {"400", "401", "403", "503"},
    ("/api/auth/sessions/", "get"): {"401", "503"},
    ("/api/auth/sessions/{session_id}/", "delete"): {"401", "404", "503"},
    ("/api/auth/revoke/", "post"): {"400", "503"},
    ("/api/auth/introspect/", "post"): {"400", "401", "403", "503"},
    ("/api/auth/.well-known/jwks.json", "get"): {"404"},
    ("/api/auth/api-tokens/", "get"): {"401", "403", "404", "503"},
    ("/api/auth/api-tokens/", "post"): {"400", "401", "403", "409", "503"},
    ("/api/auth/api-tokens/{token_id}/", "delete"): {"401", "403", "404", "503"},
    ("/api/auth/api-tokens/{token_id}/rotate/", "post"): {"400", "401", "403", "404", "503"},
}


@pytest.fixture
def schema(settings: Any) -> dict[str, Any]:
    """The test project's schema, as drf-spectacular generates it."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    }
    generator = SchemaGenerator()  # type: ignore[no-untyped-call]  # drf-spectacular is unannotated
    generated: dict[str, Any] = generator.get_schema(  # type: ignore[no-untyped-call]  # idem
        request=None, public=True
    )
    return generated


def tokenkit_routes() -> list[str]:
    """Every route of ``django_tokenkit.urls``, as OpenAPI paths under /api/auth/."""
    resolver = get_resolver("django_tokenkit.urls")
    routes = []
    for entry in resolver.url_patterns:
        assert isinstance(entry, URLPattern | URLResolver)
        route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(entry.pattern))
        routes.append("/api/auth/" + route)
    return routes


def test_spectacular_schemes_are_bearer_jwt_and_bearer_api_token(schema: dict[str, Any]) -> None:
    schemes = schema["components"]["securitySchemes"]

    assert schemes[spectacular.JWT_SCHEME] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert schemes[spectacular.API_TOKEN_SCHEME]["scheme"] == "bearer"
    introspect = schema["paths"]["/api/auth/introspect/"]["post"]
    assert introspect["security"] == [
        {spectacular.JWT_SCHEME: []},
        {spectacular.API_TOKEN_SCHEME: []},
    ]


def test_spectacular_every_tokenkit_route_documents_its_errors(schema: dict[str, Any]) -> None:
    documented = {
        (path, method)
        for path, operations in schema["paths"].items()
        if path.startswith("/api/auth/")
        for method in operations
    }
    assert set(tokenkit_routes()) == {path for path, _ in EXPECTED_ERRORS}
    assert documented == set(EXPECTED_ERRORS)

    for (path, method), errors in EXPECTED_ERRORS.items():
        responses = schema["paths"][path][method]["responses"]
        assert errors <= set(responses), (path, method)
        for status in errors - {"400"}:
            body = responses[status]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}, (path, status)


def test_spectacular_error_body_is_detail_and_code(schema: dict[str, Any]) -> None:
    error = schema["components"]["schemas"]["Error"]

    assert set(error["required"]) == {"detail", "code"}


def test_spectacular_rfc_endpoints_take_forms(schema: dict[str, Any]) -> None:
    for path in ("/api/auth/revoke/", "/api/auth/introspect/"):
        content = schema["paths"][path]["post"]["requestBody"]["content"]
        assert "application/x-www-form-urlencoded" in content


def test_contrib_load_without_drf_spectacular_imports_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "drf_spectacular", None)  # as if not installed

    assert contrib.load() == []


def test_contrib_load_with_drf_spectacular_imports_the_extensions() -> None:
    assert contrib.load() == ["django_tokenkit.contrib.spectacular"]


# --- the example project -------------------------------------------------------------


def test_example_project_schema_validates_with_warnings_as_errors(tmp_path: Path) -> None:
    env = example_env(tmp_path / "db.sqlite3")
    output = tmp_path / "schema.yaml"

    result = manage(env, "spectacular", "--validate", "--fail-on-warn", "--file", str(output))

    assert "Warnings" not in result.stderr, result.stderr
    generated = yaml.safe_load(output.read_text())
    assert spectacular.JWT_SCHEME in generated["components"]["securitySchemes"]
    assert "/api/auth/introspect/" in generated["paths"]


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The example project under gunicorn with DEBUG off, as it would be deployed."""
    workdir = tmp_path_factory.mktemp("openapi_server")
    env = example_env(workdir / "db.sqlite3", DJANGO_DEBUG="0", TOKENKIT_LOGIN_RATE="1000/min")
    seed_users(env)
    with running_servers(env, workdir) as (server,):
        yield server


@pytest.mark.e2e
def test_example_server_serves_schema_and_docs_from_local_static_files(
    production_server: Server,
) -> None:
    schema = requests.get(production_server.url("/api/schema/"), timeout=HTTP_TIMEOUT)
    docs = requests.get(production_server.url("/api/docs/"), timeout=HTTP_TIMEOUT)

    assert schema.status_code == 200
    assert yaml.safe_load(schema.text)["openapi"].startswith("3.")
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets, docs.text
    # Nothing from a CDN: every asset is this server's own static file, and it is served.
    for asset in assets:
        assert asset.startswith("/static/drf_spectacular_sidecar/"), asset
        response = requests.get(production_server.url(asset), timeout=HTTP_TIMEOUT)
        assert response.status_code == 200, asset
