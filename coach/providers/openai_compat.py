"""A client for any OpenAI-compatible `/v1/chat/completions` endpoint (llama.cpp, vLLM, Ollama, hosted).

Bounded by construction: a per-call timeout, a `max_tokens` cap, at most `max_concurrency` calls in
flight, a per-user hourly quota, a response-size cap, retries only for transient failures, and a circuit
breaker that fails fast after repeated failures. Every failure is a ProviderError with a `kind`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from coach.errors import ProviderError
from coach.providers.base import Completion, Message, ProviderLimits, UsageQuota

if TYPE_CHECKING:
    from coach.settings import Settings

log = logging.getLogger(__name__)

TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
RESPONSE_FORMATS = ("json_schema", "json_object", "none")


class OpenAICompatProvider:
    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        limits: ProviderLimits | None = None,
        response_format: str = "json_schema",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"The LLM endpoint must be an http(s) URL, got {base_url!r}.")
        self.base_url = base_url.rstrip("/")
        self.host = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.model = model or "default"
        self.limits = limits or ProviderLimits()
        self.quota = UsageQuota(self.limits.quota_per_hour)
        self._slots = threading.BoundedSemaphore(self.limits.max_concurrency)
        self._breaker_lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0
        if response_format not in RESPONSE_FORMATS:
            raise ValueError(f"response_format must be one of {', '.join(RESPONSE_FORMATS)}, not {response_format!r}.")
        self.response_format = response_format
        self._schema_supported = response_format != "none"
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(self.limits.timeout, connect=min(5.0, self.limits.timeout))
        # trust_env=False: no proxy or netrc from the environment sees the answers.
        self._client = httpx.Client(headers=headers, timeout=timeout, transport=transport, trust_env=False)

    @property
    def url(self) -> str:
        path = "/chat/completions" if self.base_url.endswith("/v1") else "/v1/chat/completions"
        return self.base_url + path

    def close(self) -> None:
        self._client.close()

    # --- the one public call -------------------------------------------------------------------------

    def complete(
        self,
        messages: list[Message],
        *,
        user_key: str,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        self._check_breaker()
        if not self.quota.take(user_key):
            raise ProviderError(
                f"You have used this hour's {self.limits.quota_per_hour} AI coach calls; the deterministic "
                "feedback is unaffected. Try again later.",
                kind="quota",
            )
        if not self._slots.acquire(timeout=self.limits.timeout):
            raise ProviderError("The AI coach is busy with other requests; try again in a moment.", kind="busy")
        try:
            completion = self._with_retries(messages, json_schema, min(max_tokens or 10**9, self.limits.max_tokens))
        except ProviderError as error:
            if error.kind in ("timeout", "unavailable", "rate_limited"):
                self._record(ok=False)
            raise
        finally:
            self._slots.release()
        self._record(ok=True)
        return completion

    # --- internals -----------------------------------------------------------------------------------

    def _with_retries(self, messages: list[Message], schema: dict[str, Any] | None, max_tokens: int) -> Completion:
        attempt = 0
        while True:
            try:
                return self._post(messages, schema, max_tokens)
            except _Transient as error:
                if error.kind == "schema":
                    continue  # asked again at once without response_format (at most once: it is remembered)
                if attempt >= self.limits.retries:
                    raise ProviderError(error.message, kind=error.kind) from None
                time.sleep(self.limits.backoff * (2**attempt))
                attempt += 1

    def _post(self, messages: list[Message], schema: dict[str, Any] | None, max_tokens: int) -> Completion:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0.2,
            "stream": False,
        }
        if schema is not None and self._schema_supported:
            if self.response_format == "json_object":  # llama-cpp-python: a grammar built from the schema
                body["response_format"] = {"type": "json_object", "schema": schema}
            else:  # the OpenAI form, which vLLM, Ollama and llama.cpp's own server also take
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "coach_output", "strict": True, "schema": schema},
                }
        try:
            with self._client.stream("POST", self.url, json=body) as response:
                if response.status_code in TRANSIENT_STATUS:
                    kind = "rate_limited" if response.status_code == 429 else "unavailable"
                    raise _Transient(f"The LLM endpoint answered HTTP {response.status_code}.", kind)
                if response.status_code in (400, 422) and "response_format" in body:
                    # Some servers do not take JSON schemas; ask again without, and validate ourselves.
                    self._schema_supported = False
                    raise _Transient("The LLM endpoint refused the JSON schema.", "schema")
                if response.status_code >= 400:
                    raise ProviderError(
                        f"The LLM endpoint refused the request (HTTP {response.status_code}).", kind="unavailable"
                    )
                raw = self._read_capped(response)
        except httpx.TimeoutException:
            raise ProviderError(
                f"The LLM endpoint did not answer within {self.limits.timeout:g} s.", kind="timeout"
            ) from None
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as error:
            raise _Transient(f"Could not reach the LLM endpoint ({type(error).__name__}).", "unavailable") from None
        except httpx.HTTPError as error:
            raise ProviderError(f"The LLM call failed ({type(error).__name__}).", kind="unavailable") from None
        return _parse(raw, self.model)

    def _read_capped(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.limits.max_response_bytes:
                raise ProviderError(
                    f"The LLM endpoint sent more than {self.limits.max_response_bytes} bytes; ignored.",
                    kind="bad_output",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _check_breaker(self) -> None:
        with self._breaker_lock:
            if time.monotonic() < self._open_until:
                raise ProviderError(
                    "The LLM endpoint failed several times in a row; it is left alone for a short while.",
                    kind="unavailable",
                )

    def _record(self, *, ok: bool) -> None:
        with self._breaker_lock:
            if ok:
                self._failures = 0
                return
            self._failures += 1
            if self._failures >= self.limits.breaker_failures:
                self._open_until = time.monotonic() + self.limits.breaker_seconds
                self._failures = 0
                log.warning("LLM endpoint %s: circuit open for %g s", self.host, self.limits.breaker_seconds)


class _Transient(Exception):
    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


def _parse(raw: bytes, model: str) -> Completion:
    try:
        data = json.loads(raw)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ProviderError("The LLM endpoint's reply was not a chat completion.", kind="bad_output") from None
    if not isinstance(content, str):
        raise ProviderError("The LLM endpoint's reply had no text.", kind="bad_output")
    return Completion(text=content, model=str(data.get("model") or model))


def provider_from_settings(settings: Settings) -> OpenAICompatProvider | None:
    """The configured provider, or None when the operator has not enabled one (the default)."""
    if not settings.llm_enabled or not settings.llm_base_url:
        return None
    limits = ProviderLimits(
        timeout=settings.llm_timeout,
        max_tokens=settings.llm_max_tokens,
        max_concurrency=settings.llm_max_concurrency,
        quota_per_hour=settings.llm_quota_per_hour,
    )
    return OpenAICompatProvider(
        settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        limits=limits,
        response_format=settings.llm_response_format,
    )
