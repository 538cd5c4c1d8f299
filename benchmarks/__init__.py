"""Benchmarks of django-tokenkit against the packages its users come from.

Not part of the test suite: ``make bench`` runs them (see README.md).
"""
