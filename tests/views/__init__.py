"""Tests of :mod:`django_tokenkit.views`, one module per module of the package."""
