"""Demo helpers for the example project (the ``demo_users`` command)."""
