"""Domain errors with stable codes; the web layer maps them to HTTP, the CLI to messages."""

from __future__ import annotations

from typing import Any


class TerangaError(Exception):
    status = 400
    code = "error"

    def __init__(self, code: str | None = None, message: str = "", **details: Any) -> None:
        self.code = code or type(self).code
        self.message = message or self.code
        self.details = details
        super().__init__(self.message)


class ValidationFailed(TerangaError):
    status = 422
    code = "validation_failed"

    def __init__(self, field: str, message: str, **details: Any) -> None:
        super().__init__("validation_failed", f"{field}: {message}", field=field, **details)
        self.field = field


class NotFound(TerangaError):
    status = 404
    code = "not_found"


class Conflict(TerangaError):
    status = 409
    code = "conflict"


class Unauthorized(TerangaError):
    status = 401
    code = "unauthorized"


class Forbidden(TerangaError):
    status = 403
    code = "forbidden"


class TooManyRequests(TerangaError):
    status = 429
    code = "rate_limited"

    def __init__(self, code: str | None = None, message: str = "", retry_after: int = 60) -> None:
        super().__init__(code, message, retry_after=retry_after)
        self.retry_after = retry_after


class ResidencyViolation(TerangaError):
    """A store holding personal data is declared outside the allowed jurisdictions."""

    status = 451
    code = "residency_violation"


class ConfigurationError(TerangaError):
    """The platform is configured so that it must not start (raised at start-up)."""

    status = 500
    code = "configuration_error"
