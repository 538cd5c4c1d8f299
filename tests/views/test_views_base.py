"""What every view shares (:mod:`django_tokenkit.views.base`): the exception handler."""

from __future__ import annotations

from rest_framework.exceptions import NotAuthenticated, ValidationError

from django_tokenkit import views
from django_tokenkit.exceptions import StoreUnavailable
from django_tokenkit.views.base import exception_handler


def test_exception_handler_is_importable_from_the_documented_dotted_path() -> None:
    assert views.exception_handler is exception_handler


def test_exception_handler_store_unavailable_is_503_service_unavailable() -> None:
    response = exception_handler(StoreUnavailable(), {})

    assert response is not None
    assert response.status_code == 503
    assert response.data == {
        "detail": "Service temporarily unavailable, try again.",
        "code": "service_unavailable",
    }


def test_exception_handler_lone_detail_gets_its_code() -> None:
    response = exception_handler(NotAuthenticated(), {})

    assert response is not None
    assert response.data["code"] == "not_authenticated"


def test_exception_handler_validation_errors_keep_field_shape() -> None:
    response = exception_handler(ValidationError({"refresh": ["required"]}), {})

    assert response is not None
    assert set(response.data) == {"refresh"}
