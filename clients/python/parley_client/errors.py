"""Typed errors of the Parley API: one class per error code of {"error": {"code", "message"}}
(services/dialog/openapi.yaml, Error), so callers catch what they can act on."""


class ParleyError(Exception):
    """An error answer of the API (or a failure to reach it: status 0)."""

    def __init__(self, status, code, message, retry_after=None):
        super().__init__(f"{code} (HTTP {status}): {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds, when the server said (429, 503)


class InvalidArgument(ParleyError):
    """400: a bad body or parameter, a bot definition with errors (file:line:col each)."""


class Unauthenticated(ParleyError):
    """401: no API key, or an unknown one."""


class PermissionDenied(ParleyError):
    """403: the key lacks the scope (admin/client), or the bot is another tenant's."""


class NotFound(ParleyError):
    """404: no such bot or session (or another tenant's)."""


class MethodNotAllowed(ParleyError):
    """405."""


class Conflict(ParleyError):
    """409: the session changed concurrently on another replica; retry."""


class PayloadTooLarge(ParleyError):
    """413: a body or bot definition over its limit."""


class UpgradeRequired(ParleyError):
    """426: a WebSocket endpoint reached with plain HTTP."""


class RateLimited(ParleyError):
    """429: rate limit, failed-key lockout, a quota, a full queue (see retry_after)."""


class ServerError(ParleyError):
    """500."""


class Unavailable(ParleyError):
    """503: busy, too many connections, a dependency down (see retry_after); or unreachable."""


class TurnFailed(ParleyError):
    """A streamed turn ended with an `error` event after the stream started."""


_BY_CODE = {
    "INVALID_ARGUMENT": InvalidArgument, "BAD_REQUEST": InvalidArgument, "FAILED_PRECONDITION": InvalidArgument,
    "OUT_OF_RANGE": InvalidArgument,
    "UNAUTHENTICATED": Unauthenticated, "PERMISSION_DENIED": PermissionDenied, "NOT_FOUND": NotFound,
    "METHOD_NOT_ALLOWED": MethodNotAllowed, "ABORTED": Conflict, "ALREADY_EXISTS": Conflict,
    "PAYLOAD_TOO_LARGE": PayloadTooLarge, "UPGRADE_REQUIRED": UpgradeRequired,
    "RESOURCE_EXHAUSTED": RateLimited, "INTERNAL": ServerError, "UNAVAILABLE": Unavailable,
    "DEADLINE_EXCEEDED": Unavailable,
}
_BY_STATUS = {400: InvalidArgument, 401: Unauthenticated, 403: PermissionDenied, 404: NotFound,
              405: MethodNotAllowed, 409: Conflict, 413: PayloadTooLarge, 426: UpgradeRequired,
              429: RateLimited, 500: ServerError, 503: Unavailable}


def error_from(status, code, message, retry_after=None):
    """The typed error for an answer: by its code first, else by its HTTP status."""
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status) or ParleyError
    return cls(status, code or f"HTTP_{status}", message, retry_after)
