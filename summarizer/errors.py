"""The one error root of the package.

Every failure a user can act on is a ``SummarizerError``. The CLI prints ``str(error)`` as a
single line and exits with ``error.exit_code``; tests catch the real exception.

    SummarizerError                 exit 1
    ├── ConfigurationError          exit 2   bad flag, missing extra, unusable setting
    ├── InputError                  exit 3   missing/empty/binary/invalid UTF-8/oversized article
    ├── EndpointError               exit 4   endpoint unreachable or failing after retries
    │   └── AuthenticationError     exit 5   401: the key is wrong for every article
    ├── ModelResponseError          exit 6   refusal, empty choices, truncated or invalid output
    └── BatchError                  exit 7   ledger or output file problems

This module imports nothing of ours.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BatchError",
    "ConfigurationError",
    "EndpointError",
    "InputError",
    "ModelResponseError",
    "SummarizerError",
]


class SummarizerError(Exception):
    """Root of every error the package raises on purpose.

    ``kind`` is a short stable name used in dead-letter records; ``attempts`` and ``usage``
    carry what a failed model call cost, so a failure is never free of accounting.
    """

    exit_code = 1
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        attempts: int = 0,
        usage: dict[str, int] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts
        self.usage = usage or {}
        self.request_id = request_id

    def __str__(self) -> str:
        # One line, always: the CLI prints exactly this.
        return " ".join(self.message.split())


class ConfigurationError(SummarizerError):
    exit_code = 2
    kind = "configuration"


class InputError(SummarizerError):
    exit_code = 3
    kind = "input"


class EndpointError(SummarizerError):
    exit_code = 4
    kind = "endpoint"


class AuthenticationError(EndpointError):
    exit_code = 5
    kind = "authentication"


class ModelResponseError(SummarizerError):
    exit_code = 6
    kind = "model_response"


class BatchError(SummarizerError):
    exit_code = 7
    kind = "batch"


def internal_error(exc: BaseException) -> SummarizerError:
    """An unexpected exception on one article, as the one-line error it is recorded with."""
    return SummarizerError(f"internal error on this article: {type(exc).__name__}: {exc}; please report it")
