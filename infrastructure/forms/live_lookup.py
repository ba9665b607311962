"""The live customer lookup made safe to put in front of every form and flow start (ADR 0019):
a short cache (cachetools), a circuit breaker (pybreaker) and retries with backoff (tenacity)
around one HTTP attempt (cap_live.HttpCap), all inside a time budget.

Order: the cache first (a hit costs nothing), then the retries, each attempt through the breaker.
So every failed attempt counts towards opening the circuit, and once it is open the next attempt
fails at once and is not retried: while CAP is down a lookup costs nothing and the caller serves
the synced copy. A "no such account" answer is a success for the breaker and is cached too.
Breaker and cache live in the process (each API process finds out for itself)."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pybreaker
from cachetools import TTLCache
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from domain.forms.live_customers import LiveAnswer, LiveCustomers, LiveLookupUnavailable
from infrastructure.forms.cap_live import CapContract, HttpCap, TransientLiveError, parse_fields

log = logging.getLogger(__name__)


class Attempt(Protocol):
    def fetch(self, fund_account: str, timeout: float) -> LiveAnswer: ...


@dataclass(frozen=True)
class Resilience:
    timeout: float = 1.0           # one attempt (HttpCap: connect, each read, the whole answer)
    attempts: int = 3
    backoff: float = 0.1           # first wait between attempts; doubles, with jitter
    backoff_max: float = 1.0
    budget: float = 3.0            # a whole lookup, waits included: no attempt starts after it
    breaker_failures: int = 5      # consecutive failed attempts that open the circuit
    breaker_reset: float = 30.0    # seconds open before one trial attempt is let through
    cache_seconds: float = 30.0    # 0 = no cache
    cache_size: int = 10_000


class _BreakerLog(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        log.warning("customer lookup: circuit to the account-opening system %s -> %s",
                    getattr(old_state, "name", old_state), getattr(new_state, "name", new_state))


class ResilientLiveCustomers:
    """The LiveCustomers port over an Attempt (HttpCap, or anything with its ``fetch``)."""

    def __init__(self, attempt: Attempt, resilience: Resilience = Resilience(),
                 sleep: Callable[[float], None] = time.sleep):
        self.attempt, self.r, self.sleep = attempt, resilience, sleep
        self.breaker = pybreaker.CircuitBreaker(fail_max=resilience.breaker_failures,
                                                reset_timeout=resilience.breaker_reset,
                                                listeners=[_BreakerLog()], name="cap-customer-lookup")
        self._cache: TTLCache[str, LiveAnswer] | None = (
            TTLCache(resilience.cache_size, resilience.cache_seconds) if resilience.cache_seconds > 0 else None)
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def fetch(self, fund_account: str) -> LiveAnswer:
        if self._cache is not None:
            with self._lock:
                hit = self._cache.get(fund_account)
            if hit is not None:
                return hit
        answer = self._with_retries(fund_account)
        if self._cache is not None:
            with self._lock:
                self._cache[fund_account] = answer
        return answer

    def _with_retries(self, fund_account: str) -> LiveAnswer:
        deadline = time.monotonic() + self.r.budget
        backoff = (wait_exponential(multiplier=self.r.backoff, max=self.r.backoff_max)
                   + wait_random(0, self.r.backoff))  # jitter: processes do not retry in step

        def wait(state: RetryCallState) -> float:  # never sleep past the budget
            return max(0.0, min(backoff(state), deadline - time.monotonic()))

        retrying = Retrying(stop=stop_after_attempt(self.r.attempts), wait=wait, sleep=self.sleep, reraise=True,
                            retry=retry_if_exception_type(TransientLiveError))
        for attempt in retrying:
            with attempt:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LiveLookupUnavailable(f"no answer within the {self.r.budget:g} s budget")
                try:
                    return self.breaker.call(self.attempt.fetch, fund_account, min(self.r.timeout, remaining))
                except pybreaker.CircuitBreakerError:
                    raise LiveLookupUnavailable("the circuit is open after repeated failures") from None
        raise AssertionError("unreachable: tenacity reraises the last error")

    def close(self) -> None:
        close = getattr(self.attempt, "close", None)
        if close:
            close()


def live_customers(settings: Any) -> LiveCustomers | None:
    """The live adapter the settings describe (LEDGERFLOW_CUSTOMER_LIVE_URL), or None: the copy alone
    is then the source, never stale. The composition root puts it in front of the copy."""
    s = settings
    if not s.customer_live_url:
        return None
    headers = {}
    if s.customer_live_token is not None:
        token = s.customer_live_token.get_secret_value()
        headers[s.customer_live_auth_header] = (f"Bearer {token}" if s.customer_live_auth_header.lower()
                                                == "authorization" else token)
    contract = CapContract(s.customer_live_url, s.customer_live_record_path, parse_fields(s.customer_live_fields),
                           headers)
    http = HttpCap(contract, verify=str(s.customer_live_ca_file) if s.customer_live_ca_file else True)
    resilience = Resilience(
        timeout=s.customer_live_timeout_seconds, attempts=s.customer_live_attempts,
        backoff=s.customer_live_backoff_seconds, backoff_max=s.customer_live_backoff_max_seconds,
        budget=s.customer_live_budget_seconds, breaker_failures=s.customer_live_breaker_failures,
        breaker_reset=s.customer_live_breaker_reset_seconds, cache_seconds=s.customer_live_cache_seconds,
        cache_size=s.customer_live_cache_size)
    return ResilientLiveCustomers(http, resilience)
