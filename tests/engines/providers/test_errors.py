import pytest

from engines.providers.errors import is_retryable_status, is_twilio_opt_out


@pytest.mark.parametrize("code", [21610, "21610", " 21610 "])
def test_twilio_opt_out_is_recognised_from_the_rest_client_and_from_callbacks(code):
    assert is_twilio_opt_out(code)


@pytest.mark.parametrize("code", [None, "", 21611, "30003", "2161"])
def test_other_twilio_codes_are_not_opt_outs(code):
    assert not is_twilio_opt_out(code)


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (503, True), (400, False), (404, False)])
def test_rate_limits_and_server_errors_may_be_retried(status, retryable):
    assert is_retryable_status(status) is retryable
