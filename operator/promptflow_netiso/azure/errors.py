"""One error type for everything that goes wrong at the Azure boundary, classified by what the caller should do.

Handlers never look at HTTP statuses: they look at `AzureError.kind` (wait for Retry-After, back off, wait for a
concurrent operation, or report a user-fixable problem and retry slowly) and show `str(err)`, which is the ARM
`<Code>: <message>` verbatim. Pure module: no I/O, no metrics, nothing secret (ARM error bodies carry no tokens,
and request headers are never read here).
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import enum
import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from azure.core import exceptions as core_exc


class ErrorKind(enum.Enum):
    THROTTLED = "Throttled"  # 429: wait `retry_after`
    TRANSIENT = "Transient"  # 5xx, 408, connection errors, timeouts: retry with backoff
    CONFLICT = "Conflict"  # another operation in progress / state changed under us: a short wait, then read again
    NOT_FOUND = "NotFound"  # 404 (the caller decides whether that is fine or user-fixable)
    USER_FIXABLE = "UserFixable"  # 400/401/403, bad configuration, failed credentials: report, retry slowly
    UNKNOWN = "Unknown"


class AzureError(Exception):
    """`str(err) == f"{code}: {message}"`, verbatim from the ARM error envelope."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        kind: ErrorKind,
        retry_after: float | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status  # HTTP status of the response that carried the error; 0 when there was none
        self.code = code
        self.message = message
        self.kind = kind
        self.retry_after = retry_after
        self.operation = operation  # bounded operation name ("workspace.get"), never a URL

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"AzureError(kind={self.kind.name}, status={self.status}, code={self.code!r}, operation={self.operation!r})"


# ARM codes meaning "someone else is changing this right now": wait and read again (never user-fixable).
CONFLICT_CODES = frozenset(
    {
        "AnotherOperationInProgress",
        "OperationInProgress",
        "ConflictingOperationInProgress",
        "ConcurrentOperation",
        "ResourceBusy",
        "RetryableError",
        "PrivateEndpointConnectionStatusNotPending",  # the connection changed state since we read it
    }
)
# 409s that no amount of waiting fixes.
USER_FIXABLE_CONFLICT_CODES = frozenset({"ScopeLocked"})
# 4xx codes Azure documents as replication delay (a workspace identity that Entra ID has not propagated yet).
REPLICATION_DELAY_CODES = frozenset({"PrincipalNotFound"})
# Codes of failed long-running operations (reported inside a 200 poll body) that are worth a quick retry.
TRANSIENT_CODES = frozenset(
    {"InternalServerError", "InternalError", "ServiceUnavailable", "GatewayTimeout", "Timeout", "RequestTimeout", "TooManyRequests"}
)


def classify(status: int, code: str) -> ErrorKind:
    """The action an error calls for, from the HTTP status and the ARM error code."""
    if code in CONFLICT_CODES:
        return ErrorKind.CONFLICT
    if code in REPLICATION_DELAY_CODES:
        return ErrorKind.TRANSIENT
    if status == 429:
        return ErrorKind.THROTTLED
    if status == 408 or status >= 500:
        return ErrorKind.TRANSIENT
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status in (409, 412):
        return ErrorKind.USER_FIXABLE if code in USER_FIXABLE_CONFLICT_CODES else ErrorKind.CONFLICT
    if 400 <= status < 500:
        return ErrorKind.USER_FIXABLE
    # A long-running operation that failed is reported with a 2xx poll and an error body.
    if code in TRANSIENT_CODES:
        return ErrorKind.TRANSIENT
    if status and status < 400:
        return ErrorKind.USER_FIXABLE  # the service accepted the request and then rejected it: shown to the user
    return ErrorKind.UNKNOWN


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from `retry-after-ms`, `x-ms-retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    lower = {k.lower(): v for k, v in headers.items()}
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        raw = lower.get(name)
        if raw:
            try:
                return max(float(raw) / 1000.0, 0.0)
            except ValueError:
                pass
    raw = lower.get("retry-after")
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max((when - _dt.datetime.now(_dt.timezone.utc)).total_seconds(), 0.0)


def parse_error_body(text: str | bytes | None) -> tuple[str | None, str | None]:
    """(code, message) from an ARM error body: `{"error": {code, message}}`, a failed operation
    `{"status": "Failed", "error": {...}}`, or the bare `{code, message}` some providers answer."""
    if not text:
        return None, None
    try:
        body = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None, None
    return error_fields(body)


def error_fields(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from an already decoded ARM error body (see `parse_error_body`)."""
    if not isinstance(body, dict):
        return None, None
    err: Any = body.get("error", body)
    if isinstance(err, dict):
        err = {k.lower(): v for k, v in err.items()}
        code, message = err.get("code"), err.get("message")
        return (str(code) if code else None), (str(message) if message is not None else None)
    return None, None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def from_response(
    status: int,
    headers: Mapping[str, str],
    body: str | bytes | None,
    operation: str | None = None,
) -> AzureError:
    """The AzureError for an ARM response that carries an error (HTTP >= 400, or a failed LRO poll)."""
    code, message = parse_error_body(body)
    code = code or _reason(status).replace(" ", "").replace("-", "")
    if message is None:
        message = _reason(status)
    return AzureError(
        status=status,
        code=code,
        message=message,
        kind=classify(status, code),
        retry_after=parse_retry_after(headers),
        operation=operation,
    )


def _response_text(response: Any) -> str | None:
    try:
        return response.text()
    except Exception:  # body not loaded or not text: classify by status alone
        return None


def from_exception(exc: BaseException, operation: str | None = None) -> AzureError:
    """Translate an azure-core / azure-identity / transport exception into an AzureError."""
    if isinstance(exc, AzureError):
        return exc
    if isinstance(exc, core_exc.ClientAuthenticationError) and getattr(exc, "response", None) is None:
        return credential_error(exc, operation)
    response = getattr(exc, "response", None)
    if isinstance(exc, core_exc.HttpResponseError) and response is not None:
        status = int(getattr(response, "status_code", 0) or 0)
        text = _response_text(response)
        if status < 400 and parse_error_body(text)[0] is None:
            # A failed LRO whose poll body had no error envelope: keep azure-core's description of it.
            return AzureError(
                status=status, code="OperationFailed", message=_first_line(exc), kind=classify(status, "OperationFailed"), operation=operation
            )
        return from_response(status, dict(response.headers or {}), text, operation)
    if isinstance(exc, (core_exc.ServiceRequestError, core_exc.ServiceResponseError, core_exc.ServiceRequestTimeoutError)):
        return AzureError(status=0, code=type(exc).__name__, message=_first_line(exc), kind=ErrorKind.TRANSIENT, operation=operation)
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return AzureError(status=0, code=type(exc).__name__, message=_first_line(exc) or "timed out", kind=ErrorKind.TRANSIENT, operation=operation)
    if isinstance(exc, core_exc.AzureError):
        return AzureError(status=0, code=type(exc).__name__, message=_first_line(exc), kind=ErrorKind.UNKNOWN, operation=operation)
    raise TypeError(f"not an Azure error: {type(exc).__name__}")


def credential_error(exc: BaseException, operation: str | None = None) -> AzureError:
    """Token acquisition failed (azure-identity): wrong client secret, federated token rejected, no identity at all.
    Entra ID being unavailable (5xx, 429) is transient; everything else needs a person."""
    response = getattr(exc, "response", None)
    status = int(getattr(response, "status_code", 0) or 0) if response is not None else 0
    code = "CredentialUnavailable" if type(exc).__name__ == "CredentialUnavailableError" else "AuthenticationFailed"
    kind = ErrorKind.TRANSIENT if status >= 500 or status in (408, 429) else ErrorKind.USER_FIXABLE
    return AzureError(status=status, code=code, message=_identity_message(exc), kind=kind, operation=operation)


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__


def _identity_message(exc: BaseException) -> str:
    # azure-identity messages name the credential and the Entra error (AADSTS...), never the secret.
    text = str(getattr(exc, "message", None) or exc).strip()
    return " ".join(text.split())[:1000] or type(exc).__name__


def translatable(exc: BaseException) -> bool:
    """Whether `from_exception` understands this exception (so callers can convert without swallowing bugs)."""
    return isinstance(exc, (AzureError, core_exc.AzureError, TimeoutError, ConnectionError))
