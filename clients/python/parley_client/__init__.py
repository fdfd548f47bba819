"""parley_client: the Python client of the Parley dialog API (pure Python; the standard library,
plus `websockets` for voice sessions). See clients/python/README.md."""

from .client import Client, Session, Token, check_turn
from .errors import (Conflict, InvalidArgument, MethodNotAllowed, NotFound, ParleyError, PayloadTooLarge,
                     PermissionDenied, RateLimited, ServerError, TurnFailed, Unauthenticated, Unavailable,
                     UpgradeRequired)

__version__ = "0.1.0"
__all__ = ["Client", "Session", "Token", "check_turn", "ParleyError", "InvalidArgument", "Unauthenticated",
           "PermissionDenied", "NotFound", "MethodNotAllowed", "Conflict", "PayloadTooLarge", "UpgradeRequired",
           "RateLimited", "ServerError", "Unavailable", "TurnFailed"]
