"""Fakes for what is outside the project: Twilio's HTTP layer and an ESP's HTTP layer.

Only the HTTP exchange is faked; the real twilio and anymail code builds the
request and reads the response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import requests
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token"


def twilio_message(sid: str = "SM" + "a" * 32, status: str = "queued", **fields: Any) -> TwilioResponse:
    """What the Messages API answers when it accepts a message."""
    return TwilioResponse(201, json.dumps({"sid": sid, "status": status, "account_sid": ACCOUNT_SID, **fields}))


def twilio_error(status: int, code: int, message: str = "error") -> TwilioResponse:
    return TwilioResponse(
        status,
        json.dumps(
            {
                "code": code,
                "message": message,
                "status": status,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
            }
        ),
    )


class FakeTwilioHttp(HttpClient):
    """Answers each request with the next queued response (or raises it when it is an exception)."""

    def __init__(self, responses: Iterable[TwilioResponse | BaseException] = ()):
        super().__init__(logging.getLogger("tests.twilio"), False, None)
        self.responses = list(responses)
        self.requests: list[dict[str, Any]] = []

    def request(
        self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False
    ):
        self.requests.append({"method": method, "url": url, "data": dict(data or {}), "auth": auth})
        response = self.responses.pop(0) if self.responses else twilio_message()
        if isinstance(response, BaseException):
            raise response
        return response


def http_response(status: int, payload: Any, url: str = "https://api.example.com/") -> requests.Response:
    """A requests.Response as an ESP would send it back."""
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(payload).encode()
    response.headers["Content-Type"] = "application/json"
    response.reason = {
        200: "OK",
        400: "Bad Request",
        422: "Unprocessable Entity",
        429: "Too Many Requests",
        500: "Internal Server Error",
        503: "Service Unavailable",
    }.get(status, "")
    response.url = url
    response.encoding = "utf-8"
    return response


class FakeEspHttp:
    """Stands in for requests.Session.request (set on the class, so it is called without the session).

    Records each call and answers with the queued responses.
    """

    def __init__(self, responses: Iterable[requests.Response | BaseException] = ()):
        self.responses = list(responses)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append({"method": method, "url": url, **kwargs})
        response = self.responses.pop(0)
        if isinstance(response, BaseException):
            raise response
        return response

    def sent_json(self, index: int = -1) -> dict[str, Any]:
        return json.loads(self.calls[index]["data"])
