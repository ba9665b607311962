"""Which lead a phone is (ADR 0028): lead ids derive from the phone's keyed hash, so finding
the lead of a phone needs the index key, and the id alone says nothing about the phone.

A phone's current lead is, in order: its lead from before keyed ids (``legacy_lead_id``, still
found so existing deployments keep de-duplicating), else generation 0, 1, ... of the keyed id,
passing over erased leads: after an erasure the same phone comes in as a new lead."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from uuid import UUID

from application.shared.base import Loader
from domain.leads.lead import Lead, lead_id, legacy_lead_id
from domain.privacy.personal import subject_ref
from infrastructure.eventstore.store import EventStore


@dataclass(frozen=True)
class PhoneLead:
    id: UUID            # the current lead's id, or the id a new lead of the phone takes
    lead: Lead | None   # None: the phone has no (unerased) lead yet
    digest: str         # the phone's keyed hash


class LeadIdentity:
    load: Loader
    existing: Callable[[Iterable[UUID]], set[UUID]]
    _store: EventStore

    def phone_digest(self, phone: str) -> str:
        """The keyed hash of a normalised phone (lead ids, read-model lookups)."""
        return self._store.keyring.digest("phone", phone)

    def current_leads(self, business_line: str, phones: Iterable[str]) -> dict[str, PhoneLead]:
        """Each normalised phone's current lead in the line: one existence query per round, and
        one round for every phone whose lead was never erased."""
        digests = {p: self.phone_digest(p) for p in phones}
        generation = dict.fromkeys(digests, 0)
        out: dict[str, PhoneLead] = {}
        todo, first = set(digests), True
        while todo:
            candidates = {p: ([legacy_lead_id(business_line, p)] if first else [])
                          + [lead_id(business_line, digests[p], generation[p])] for p in todo}
            found = self.existing(i for ids in candidates.values() for i in ids)
            # Erasure as the key table says, not as a cached key or aggregate would: a lead erased
            # by another process is passed over at once (nothing new may be recorded about it).
            erased = self._store.keyring.erased_among({subject_ref("lead", i) for i in found})
            todo, first = set(), False
            for p, ids in candidates.items():
                for i in (i for i in ids if i in found):
                    lead = self.load(i, Lead)
                    if not lead.erased and subject_ref("lead", i) not in erased:
                        out[p] = PhoneLead(i, lead, digests[p])
                        break
                else:
                    if ids[-1] in found:  # this generation was erased: look at the next
                        generation[p] += 1
                        todo.add(p)
                    else:
                        out[p] = PhoneLead(ids[-1], None, digests[p])
        return out
