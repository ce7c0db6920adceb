"""Errors a user can act on.

`InputError` is raised for bad input anywhere (a file, a field, a flag). The CLI prints it as
`error:` / `hint:` and exits 2; the API turns it into RFC 9457 problem+json with a 4xx status.
Depends on nothing.
"""

from __future__ import annotations


class FabgridError(Exception):
    """Base of the errors fabgrid raises on purpose."""


class InputError(FabgridError):
    """Bad input: says what is wrong, where, and what to do.

    Parameters
    ----------
    message
        What is wrong and where (name the file, key or field).
    hint
        What the user can do about it.
    code
        A short stable identifier (e.g. ``"mesh.empty"``) that clients and tests can match on.
    status
        The HTTP status the API answers with (400, 404, 413, 422 ...).
    """

    def __init__(self, message: str, *, hint: str | None = None, code: str = "input.invalid",
                 status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return self.message


class NotFoundError(InputError):
    """A named thing (site, machine model, part, order) does not exist or is not visible."""

    def __init__(self, message: str, *, hint: str | None = None, code: str = "not_found") -> None:
        super().__init__(message, hint=hint, code=code, status=404)


class LimitError(InputError):
    """An explicit, documented limit (size, count, time) was exceeded."""

    def __init__(self, message: str, *, hint: str | None = None, code: str = "limit.exceeded") -> None:
        super().__init__(message, hint=hint, code=code, status=413)
