"""The django-tokenkit example project (SPEC section 7)."""
