"""Sealing personal fields in stored events (crypto-shredding, ADR 0028).

On encode the mapper replaces each declared personal value (domain/privacy/personal.py) with a
``Sealed`` value, which the transcoder stores as ``{"_type_": "sealed", "_data_": {"s": subject,
"n": nonce, "c": ciphertext}}``: the value (as the transcoder would have stored it) encrypted
with AES-256-GCM under the subject's key, the subject as associated data. On decode every sealed
value is opened wherever it sits, so readers see clear values until the subject is erased and
``ERASED`` after. The audit chain hashes the stored bytes, which erasure never touches."""
from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import EventStore, Mapper, StoredEvent, Transcoding
from eventsourcing.utils import get_topic

from domain.privacy.personal import ERASED, declared, transform
from infrastructure.privacy.keyring import Keyring


@dataclass(frozen=True)
class Sealed:
    subject: str
    value: Any


class SealedValueTamperedError(ValueError):
    """A sealed value does not open under its subject's key: altered, or moved from another subject."""


class SealedAsAesGcm(Transcoding):
    type = Sealed
    name = "sealed"

    def __init__(self, keyring: Keyring, transcoder: Any):
        self.keyring = keyring
        self.transcoder = transcoder  # the value inside is tagged like any other stored value

    def encode(self, obj: Sealed) -> dict[str, str]:
        plain = orjson.dumps(self.transcoder._tag(obj.value, 0))
        nonce = os.urandom(12)
        cipher = AESGCM(self.keyring.sealing_key(obj.subject)).encrypt(nonce, plain, obj.subject.encode())
        return {"s": obj.subject, "n": base64.b64encode(nonce).decode(), "c": base64.b64encode(cipher).decode()}

    def decode(self, data: dict[str, str]) -> Any:
        subject = data["s"]
        key = self.keyring.opening_key(subject)
        if key is None:
            return ERASED
        try:
            plain = AESGCM(key).decrypt(base64.b64decode(data["n"]), base64.b64decode(data["c"]), subject.encode())
        except InvalidTag:
            raise SealedValueTamperedError(f"a sealed value of {subject} does not open under its key") from None
        return self.transcoder._untag(orjson.loads(plain))


class SealingMapper(Mapper[Any]):
    """The library's Mapper with the declared personal values sealed before encoding."""

    def __init__(self, transcoder: Any, keyring: Keyring):
        super().__init__(transcoder=transcoder)
        self.keyring = keyring

    def prepare(self, domain_events: Sequence[Any]) -> None:
        """Fetch or create, in one go, the keys these events' personal values will need."""
        refs: set[str] = set()
        for e in domain_events:
            if declared(type(e)):
                transform(dict(vars(e)), type(e), lambda ref, value: refs.add(ref))
        if refs:
            self.keyring.prepare(refs)

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        cls = type(domain_event)
        # Sealed while the subject's id (the originator, for most) is still in the state.
        event_state = transform(dict(vars(domain_event)), cls, Sealed)
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        class_version = getattr(cls, "class_version", 1)
        if class_version > 1:
            event_state["class_version"] = class_version
        return StoredEvent(originator_id=originator_id, originator_version=originator_version,
                           topic=get_topic(cls), state=self.transcoder.encode(event_state))


class SealingEventStore(EventStore[Any]):
    """The library's EventStore, which has the mapper prepare the keys of a whole save at once."""

    def put(self, domain_events: Sequence[Any], **kwargs: Any) -> Any:
        if isinstance(self.mapper, SealingMapper):
            self.mapper.prepare(domain_events)
        return super().put(domain_events, **kwargs)
