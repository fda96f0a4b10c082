"""The OpenAI-compatible provider against a scripted server on 127.0.0.1 (RELIABILITY.md J7, and retries).

Timeouts, the token cap, bounded concurrency, the per-user quota, retries only for transient errors,
the response-size cap and the circuit breaker: each is observable from the server's side.
"""

from __future__ import annotations

import threading
import time

import pytest
from fakes import FakeLLM, Reply, chat

from coach.errors import ProviderError
from coach.providers import OpenAICompatProvider, ProviderLimits, provider_from_settings
from coach.settings import Settings

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]


@pytest.fixture
def fake():
    server = FakeLLM()
    yield server
    server.close()


def make(fake, **limits):
    values = {"timeout": 2.0, "backoff": 0.01} | limits
    return OpenAICompatProvider(fake.base_url, model="m", api_key="sk-test", limits=ProviderLimits(**values))


def test_it_sends_a_chat_completion_with_the_model_the_key_and_a_capped_max_tokens(fake):
    fake.script = lambda r: chat("hi")
    provider = make(fake, max_tokens=50)
    result = provider.complete(MESSAGES, user_key="u1", max_tokens=5000, json_schema={"type": "object"})
    assert result.text == "hi"
    [request] = fake.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == "m" and request.body["max_tokens"] == 50
    assert request.body["response_format"]["type"] == "json_schema"
    assert request.body["messages"] == MESSAGES


def test_a_hanging_endpoint_times_out_with_a_typed_error_and_is_not_retried(fake):
    fake.script = lambda r: Reply(hang=True)
    provider = make(fake, timeout=0.5, retries=2)
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        provider.complete(MESSAGES, user_key="u1")
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 3
    assert len(fake.requests) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_transient_statuses_are_retried_then_succeed(fake, status):
    replies = iter([Reply(status=status, body=b"{}"), chat("second time")])
    fake.script = lambda r: next(replies)
    assert make(fake, retries=1).complete(MESSAGES, user_key="u1").text == "second time"
    assert len(fake.requests) == 2


def test_a_lasting_429_ends_as_rate_limited_after_the_retries(fake):
    fake.script = lambda r: Reply(status=429, body=b"{}")
    with pytest.raises(ProviderError) as caught:
        make(fake, retries=2).complete(MESSAGES, user_key="u1")
    assert caught.value.kind == "rate_limited"
    assert len(fake.requests) == 3


@pytest.mark.parametrize("status", [401, 404, 422])
def test_client_errors_are_not_retried(fake, status):
    fake.script = lambda r: Reply(status=status, body=b"{}")
    with pytest.raises(ProviderError) as caught:
        make(fake, retries=3).complete(MESSAGES, user_key="u1")
    assert caught.value.kind == "unavailable"
    assert len(fake.requests) == 1


def test_an_endpoint_that_refuses_json_schemas_is_asked_again_without(fake):
    fake.script = lambda r: Reply(status=400, body=b"{}") if "response_format" in r.body else chat("ok")
    provider = make(fake, retries=0)
    assert provider.complete(MESSAGES, user_key="u1", json_schema={"type": "object"}).text == "ok"
    assert provider.complete(MESSAGES, user_key="u1", json_schema={"type": "object"}).text == "ok"
    assert ["response_format" in r.body for r in fake.requests] == [True, False, False]


def test_a_refused_connection_is_unavailable(fake):
    url = fake.base_url
    fake.close()
    provider = OpenAICompatProvider(url, limits=ProviderLimits(timeout=1, retries=1, backoff=0.01))
    with pytest.raises(ProviderError) as caught:
        provider.complete(MESSAGES, user_key="u1")
    assert caught.value.kind == "unavailable"


def test_a_reply_that_is_not_a_chat_completion_is_bad_output(fake):
    fake.script = lambda r: Reply(body=b"<html>hello</html>")
    with pytest.raises(ProviderError) as caught:
        make(fake).complete(MESSAGES, user_key="u1")
    assert caught.value.kind == "bad_output"


def test_an_oversized_reply_is_refused_without_reading_it_all(fake):
    fake.script = lambda r: chat("x" * 1_000_000)
    with pytest.raises(ProviderError) as caught:
        make(fake, max_response_bytes=100_000).complete(MESSAGES, user_key="u1")
    assert caught.value.kind == "bad_output"


def test_no_more_calls_are_in_flight_than_the_concurrency_bound(fake):
    in_flight, most = 0, 0
    lock = threading.Lock()

    def slow(_request):
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.3)
        with lock:
            in_flight -= 1
        return chat("done")

    fake.script = slow
    provider = make(fake, max_concurrency=2, timeout=10, quota_per_hour=0)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(provider.complete(MESSAGES, user_key=f"u{i}").text))
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["done"] * 8
    assert most == 2


def test_callers_waiting_longer_than_the_timeout_for_a_slot_get_busy(fake):
    fake.script = lambda r: Reply(hang=True)
    provider = make(fake, max_concurrency=1, timeout=0.5, retries=0)
    errors: list[str] = []

    def call():
        try:
            provider.complete(MESSAGES, user_key="u")
        except ProviderError as error:
            errors.append(error.kind)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "busy" in errors and "timeout" in errors
    assert len(fake.requests) < 3


def test_each_user_has_an_hourly_quota_and_the_over_quota_call_sends_nothing(fake):
    fake.script = lambda r: chat("ok")
    provider = make(fake, quota_per_hour=3)
    for _ in range(3):
        provider.complete(MESSAGES, user_key="ada")
    with pytest.raises(ProviderError) as caught:
        provider.complete(MESSAGES, user_key="ada")
    assert caught.value.kind == "quota"
    assert len(fake.requests) == 3
    provider.complete(MESSAGES, user_key="bob")  # another user's quota is untouched
    assert len(fake.requests) == 4


def test_repeated_failures_open_the_circuit_and_calls_then_fail_fast(fake):
    fake.script = lambda r: Reply(status=503, body=b"{}")
    provider = make(fake, retries=0, breaker_failures=3, breaker_seconds=60)
    for _ in range(3):
        with pytest.raises(ProviderError):
            provider.complete(MESSAGES, user_key="u")
    with pytest.raises(ProviderError, match="several times"):
        provider.complete(MESSAGES, user_key="u")
    assert len(fake.requests) == 3


def test_the_provider_is_off_unless_the_operator_configures_an_endpoint(fake):
    assert provider_from_settings(Settings()) is None
    assert provider_from_settings(Settings(llm_base_url=fake.base_url, llm_enabled=False)) is None
    provider = provider_from_settings(Settings(llm_base_url=fake.base_url + "/v1", llm_timeout=7, llm_quota_per_hour=9))
    assert provider is not None and provider.url == fake.base_url + "/v1/chat/completions"
    assert provider.limits.timeout == 7 and provider.limits.quota_per_hour == 9
    assert fake.connections == 0


def test_it_refuses_an_endpoint_that_is_not_an_http_url():
    with pytest.raises(ValueError, match="http"):
        OpenAICompatProvider("file:///etc/passwd")
