"""The account-opening system (CAP) asked live for one customer: one HTTP attempt, its answer
mapped and validated. Retries, the circuit breaker and the cache wrap it (live_lookup.py).

CAP's interface is not public, so the contract is configuration (docs/integrations.md):
``GET <url template with {fund_account}>`` answering 200 with a JSON object that holds the
record at ``record_path`` (dotted; empty = the body itself), whose keys are named by
``fields`` (profile field -> dotted key in the record; unnamed fields keep their own name);
404 means "no such account"."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from domain.forms.customer import check_profile
from domain.forms.live_customers import LiveAnswer, LiveLookupUnavailable
from domain.shared.errors import RuleViolationError
from domain.shared.ids import CUSTOMER_ACCOUNT
from infrastructure.forms.customers import PROFILE_FIELDS

PLACEHOLDER = "{fund_account}"
MAX_ANSWER_BYTES = 64 * 1024  # one customer's profile; more is not an answer we should parse

Text = Annotated[StrictStr | None, Field(max_length=500)]


class TransientLiveError(LiveLookupUnavailable):
    """Worth another attempt: the connection failed, timed out, or CAP answered 5xx or 429."""


class LiveProfile(BaseModel):
    """A live answer's profile as the copy would hold it: text or null in every field (no number
    coerced to text, nothing else kept), an account in the directory's alphabet."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fund_account: Annotated[StrictStr, Field(pattern=CUSTOMER_ACCOUNT.pattern, min_length=1, max_length=32)]
    name: Text = None
    subject: Text = None
    id_type: Text = None
    id_number: Text = None
    phone: Text = None
    department_code: Text = None
    account_manager: Text = None
    opened_on: Text = None
    status: Text = None
    risk_level: Text = None


def parse_fields(setting: str) -> dict[str, str]:
    """``name=custName,id_number=cert.no`` -> {"name": "custName", "id_number": "cert.no"};
    ValueError naming a field the directory does not have, or an entry without ``=``."""
    mapping: dict[str, str] = {}
    for entry in filter(None, (e.strip() for e in setting.split(","))):
        ours, sep, theirs = (p.strip() for p in entry.partition("="))
        if not sep or not theirs or ours not in PROFILE_FIELDS:
            raise ValueError(f"customer field mapping {entry!r}: expected <field>=<answer key> with a field "
                             f"among {', '.join(PROFILE_FIELDS)}")
        mapping[ours] = theirs
    return mapping


def check_url_template(template: str) -> None:
    if not template.startswith(("http://", "https://")) or template.count(PLACEHOLDER) != 1:
        raise ValueError(f"the customer lookup URL must be http(s)://... holding {PLACEHOLDER} exactly once")


@dataclass(frozen=True)
class CapContract:
    url_template: str
    record_path: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # the credential: never logged

    def url(self, fund_account: str) -> str:
        # Checked against the directory's alphabet and percent-encoded anyway: the account can
        # never add a path segment, a query or a fragment to the request.
        if not CUSTOMER_ACCOUNT.fullmatch(fund_account):
            raise LiveLookupUnavailable("not an account the directory can hold")
        return self.url_template.replace(PLACEHOLDER, quote(fund_account, safe=""))

    def profile(self, body: Any, fund_account: str) -> dict[str, Any]:
        record = _at(body, self.record_path)
        if not isinstance(record, dict):
            raise LiveLookupUnavailable(f"the answer holds no record at {self.record_path or '(the body)'!r}")
        raw = {name: _at(record, self.fields.get(name, name)) for name in PROFILE_FIELDS}
        try:
            profile = LiveProfile.model_validate(raw).model_dump()
            check_profile(profile["fund_account"], profile)  # the rules the synced copy obeys
        except (ValidationError, RuleViolationError) as exc:
            fields = sorted({str(e["loc"][0]) for e in exc.errors()} if isinstance(exc, ValidationError)
                            else {exc.field or "?"})
            raise LiveLookupUnavailable(f"the answer fails validation in {', '.join(fields)}") from None
        if profile["fund_account"] != fund_account:
            raise LiveLookupUnavailable("the answer is about another account")
        return profile


def _at(value: Any, path: str) -> Any:
    for part in filter(None, path.split(".")):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class HttpCap:
    """One attempt, bounded: ``timeout`` for connecting and for every read, and the whole answer
    read within it too (a server trickling bytes is cut off), so an attempt ends within about twice
    ``timeout``. Redirects are not followed: the credential goes to the configured host only."""

    def __init__(self, contract: CapContract, *, verify: str | bool = True, client: httpx.Client | None = None):
        self.contract = contract
        self.client = client or httpx.Client(follow_redirects=False, verify=verify)

    def fetch(self, fund_account: str, timeout: float) -> LiveAnswer:
        deadline = time.monotonic() + timeout
        try:
            with self.client.stream("GET", self.contract.url(fund_account), headers=self.contract.headers,
                                    timeout=httpx.Timeout(timeout)) as response:
                status = response.status_code
                if status == 404:
                    return LiveAnswer(None, datetime.now(UTC))
                if status >= 500 or status == 429:
                    raise TransientLiveError(f"HTTP {status}")
                if status != 200:
                    raise LiveLookupUnavailable(f"HTTP {status}")
                body = _read(response, deadline)
        except httpx.TimeoutException:
            raise TransientLiveError(f"no answer within {timeout:g} s") from None
        except httpx.TransportError as exc:
            raise TransientLiveError(type(exc).__name__) from None
        except httpx.HTTPError as exc:  # an undecodable body, a malformed answer: not worth a retry
            raise LiveLookupUnavailable(type(exc).__name__) from None
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise LiveLookupUnavailable("the answer is not JSON") from None
        return LiveAnswer(self.contract.profile(parsed, fund_account), datetime.now(UTC))

    def close(self) -> None:
        self.client.close()


def _read(response: httpx.Response, deadline: float) -> bytes:
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise LiveLookupUnavailable(f"the answer is larger than {MAX_ANSWER_BYTES} bytes")
        if time.monotonic() > deadline:
            raise TransientLiveError("the answer arrived too slowly")
    return bytes(body)
