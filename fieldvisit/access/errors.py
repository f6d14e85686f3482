"""The one error of account administration, apart so that every access module may raise it."""

from __future__ import annotations


class AccountError(ValueError):
    """A user account cannot be created or changed as asked."""
