"""The package :mod:`django_tokenkit.services`: its public names, imported on first use."""

from __future__ import annotations

import importlib

import pytest

from django_tokenkit import services


@pytest.mark.parametrize("name", services.__all__)
def test_services_public_name_is_its_lifecycle_modules_object(name: str) -> None:
    home = importlib.import_module(f"django_tokenkit.services.{services._HOMES[name]}")

    assert getattr(services, name) is getattr(home, name)


def test_services_refresh_stays_the_function_once_its_module_is_imported() -> None:
    importlib.import_module("django_tokenkit.services.rotation")

    assert callable(services.refresh)
    assert services.refresh.__module__ == "django_tokenkit.services.rotation"


def test_services_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_service"):
        services.no_such_service  # noqa: B018


def test_services_dir_lists_every_public_name() -> None:
    assert set(services.__all__) <= set(dir(services))
