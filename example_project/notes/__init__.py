"""A small per-user notes API: something real for the demo's tokens to protect."""
