"""Errors that services raise and every interface (API, web, CLI) turns into a clear answer."""

from __future__ import annotations


class ComptoirError(Exception):
    """Base for errors a user can act on: `code` for machines, the message for people."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "field": self.field, "message": self.message}


class ValidationError(ComptoirError):
    code = "invalid"
    status = 422


class NotFound(ComptoirError):
    code = "not_found"
    status = 404


class Conflict(ComptoirError):
    code = "conflict"
    status = 409
