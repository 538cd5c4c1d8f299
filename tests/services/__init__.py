"""Tests of :mod:`django_tokenkit.services`, one module per lifecycle module."""
