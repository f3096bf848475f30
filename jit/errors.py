"""Errors the JIT services raise to views."""


class NotAllowed(Exception):
    """The person may not do this to this request (any more)."""
