"""Error classification decides what a user sees (verbatim ARM code and message) and how soon the operator retries."""

from __future__ import annotations

import email.utils
import json
import time

import pytest
from azure.core import exceptions as core_exc

from promptflow_netiso.azure.errors import AzureError, ErrorKind, classify, from_exception, from_response, parse_retry_after


def arm_error(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message, "target": None, "details": [], "additionalInfo": []}})


class FakeResponse:
    """What azure-core's HttpResponseError reads from a response."""

    def __init__(self, status: int, body: str = "", headers: dict | None = None):
        self.status_code = status
        self.reason = "reason"
        self.headers = headers or {}
        self.request = None
        self._body = body

    def text(self, encoding=None):
        return self._body

    def body(self):
        return self._body.encode()


@pytest.mark.parametrize(
    "status, code, kind",
    [
        (429, "TooManyRequests", ErrorKind.THROTTLED),
        (500, "InternalServerError", ErrorKind.TRANSIENT),
        (503, "ServiceUnavailable", ErrorKind.TRANSIENT),
        (408, "RequestTimeout", ErrorKind.TRANSIENT),
        (409, "AnotherOperationInProgress", ErrorKind.CONFLICT),
        (409, "Conflict", ErrorKind.CONFLICT),
        (409, "ScopeLocked", ErrorKind.USER_FIXABLE),
        (400, "PrivateEndpointConnectionStatusNotPending", ErrorKind.CONFLICT),
        (409, "PrivateEndpointConnectionStatusNotPending", ErrorKind.CONFLICT),
        (404, "ResourceNotFound", ErrorKind.NOT_FOUND),
        (404, "ResourceGroupNotFound", ErrorKind.NOT_FOUND),
        (400, "InvalidRequestContent", ErrorKind.USER_FIXABLE),
        (401, "InvalidAuthenticationToken", ErrorKind.USER_FIXABLE),
        (403, "AuthorizationFailed", ErrorKind.USER_FIXABLE),
        (400, "PrincipalNotFound", ErrorKind.TRANSIENT),  # identity not replicated yet: retry soon
        (200, "InternalServerError", ErrorKind.TRANSIENT),  # a failed LRO reported in a 200 poll body
        (200, "ManagedNetworkProvisioningFailed", ErrorKind.USER_FIXABLE),
    ],
)
def test_classification(status, code, kind):
    assert classify(status, code) is kind


def test_403_keeps_code_and_message_verbatim():
    message = (
        "The client 'abc' with object id 'abc' does not have authorization to perform action "
        "'Microsoft.MachineLearningServices/workspaces/write' over scope '/subscriptions/s/resourceGroups/rg' "
        "or the scope is invalid."
    )
    err = from_response(403, {}, arm_error("AuthorizationFailed", message), "workspace.patch")
    assert str(err) == f"AuthorizationFailed: {message}"
    assert (err.status, err.code, err.message, err.kind, err.operation) == (403, "AuthorizationFailed", message, ErrorKind.USER_FIXABLE, "workspace.patch")


def test_429_carries_retry_after_seconds():
    err = from_response(429, {"Retry-After": "17"}, arm_error("TooManyRequests", "slow down"))
    assert err.kind is ErrorKind.THROTTLED and err.retry_after == 17.0


def test_error_without_envelope_uses_http_reason():
    err = from_response(502, {}, "<html>bad gateway</html>")
    assert str(err) == "BadGateway: Bad Gateway" and err.kind is ErrorKind.TRANSIENT


def test_bare_code_message_body_is_understood():
    err = from_response(400, {}, json.dumps({"Code": "BadRequest", "Message": "name is invalid"}))
    assert str(err) == "BadRequest: name is invalid"


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({"Retry-After": "5"}, 5.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"x-ms-retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({}, None),
        ({"Retry-After": "soon"}, None),
    ],
)
def test_retry_after_header_forms(headers, expected):
    assert parse_retry_after(headers) == expected


def test_retry_after_http_date_is_seconds_from_now():
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert 100 <= parse_retry_after({"Retry-After": when}) <= 121


def test_sdk_http_error_translates_from_its_response():
    response = FakeResponse(404, arm_error("ResourceNotFound", "The Resource 'x' was not found."))
    err = from_exception(core_exc.ResourceNotFoundError(response=response), "vnet.get")
    assert str(err) == "ResourceNotFound: The Resource 'x' was not found." and err.kind is ErrorKind.NOT_FOUND


def test_failed_lro_poll_body_reports_the_operation_error():
    body = json.dumps({"status": "Failed", "error": {"code": "SubnetConflict", "message": "address space overlaps"}})
    err = from_exception(core_exc.HttpResponseError(response=FakeResponse(200, body)), "outboundRule.put")
    assert str(err) == "SubnetConflict: address space overlaps" and err.kind is ErrorKind.USER_FIXABLE


def test_credential_failure_is_user_fixable_and_names_no_secret():
    exc = core_exc.ClientAuthenticationError(message="ClientSecretCredential.get_token failed: AADSTS7000215: Invalid client secret provided.")
    err = from_exception(exc, "workspace.get")
    assert err.kind is ErrorKind.USER_FIXABLE and err.code == "AuthenticationFailed"
    assert "AADSTS7000215" in err.message


def test_connection_errors_are_transient():
    err = from_exception(core_exc.ServiceRequestError("Cannot connect to host 127.0.0.1:1"))
    assert err.kind is ErrorKind.TRANSIENT and err.status == 0


def test_timeouts_are_transient():
    assert from_exception(TimeoutError()).kind is ErrorKind.TRANSIENT


def test_programming_errors_are_not_swallowed():
    with pytest.raises(TypeError):
        from_exception(KeyError("bug"))


def test_azure_error_is_an_exception_with_verbatim_str():
    err = AzureError(status=409, code="AnotherOperationInProgress", message="Wait.", kind=ErrorKind.CONFLICT)
    with pytest.raises(AzureError, match=r"^AnotherOperationInProgress: Wait\.$"):
        raise err
