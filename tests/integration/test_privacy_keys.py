"""Subject keys and sealed values on real PostgreSQL (ADR 0028): what the events table holds,
how long another process may still open an erased subject's values, tampering, leads from
before keyed ids, that nothing new is recorded about an erased subject, not even by a process that
still holds its key, and that read models keep the marker for events applied after an erasure. Engine-independent
(the same PostgreSQL SQL in both modes): embedded only."""
from __future__ import annotations

from uuid import UUID

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from domain.forms.customer import Customer
from domain.leads.lead import Lead, legacy_lead_id
from domain.privacy.errors import SubjectErasedError
from domain.shared.context import CommandContext, acting_as
from domain.shared.ids import natural_id
from infrastructure.eventstore.sealing import Sealed, SealedValueTamperedError
from infrastructure.privacy.keyring import Keyring
from infrastructure.privacy.keywrap import LocalKeyWrapper
from tests.engines import running_container

ADMIN = CommandContext("admin:test", "setup")
LINE = "brokerage"


@pytest.fixture(scope="module")
def firm(engines, tmp_path_factory):
    if engines.mode != "embedded":
        pytest.skip("what this module checks does not depend on the engine mode")
    with running_container(engines, tmp_path_factory.mktemp("keys")) as c:
        c.access.create_business_line(ADMIN, LINE, "Brokerage")
        online = str(c.access.create_department(ADMIN, "online", "网金部", "online_finance", None).id)
        c.leads.create_channel(ADMIN, "ths", "同花顺", "tonghuashun", "同花顺", LINE, online)
        yield c


def _intake(c, phone: str, **fields):
    return c.leads.intake(ADMIN, "ths", [{"phone": phone, **fields}], "api")["results"][0]


def _stored(c, aggregate_id) -> list[bytes]:
    with c.store.datastore.get_connection() as conn:
        rows = conn.execute(f"SELECT state FROM {c.settings.events_table} WHERE originator_id = %s"
                            " ORDER BY originator_version", (aggregate_id,)).fetchall()
    return [bytes(r["state"]) for r in rows]


def _keyring_of_another_process(c, seconds: float) -> Keyring:
    return Keyring(c.store.datastore, LocalKeyWrapper(c.settings.master_key.get_secret_value().encode()),
                   cache_seconds=seconds)


def test_the_events_table_holds_personal_values_sealed_and_readers_see_them_clear(firm):
    result = _intake(firm, "13811110001", name="Sealed Person")
    stored = _stored(firm, result["lead_id"])[0]
    assert b"13811110001" not in stored and b"Sealed Person" not in stored and b'"_type_":"sealed"' in stored
    lead = firm.leads.lead(result["lead_id"])
    assert lead.phone == "+8613811110001" and lead.intakes[0]["fields"] == {"name": "Sealed Person"}
    assert len(lead.phone_digest) == 64  # the keyed hash, kept for lookups


def test_another_process_opens_an_erased_subject_until_its_cached_key_expires(firm):
    lead_id = _intake(firm, "13811110002")["lead_id"]
    ref = f"lead:{lead_id}"
    caching, uncached = _keyring_of_another_process(firm, 60), _keyring_of_another_process(firm, 0)
    assert caching.opening_key(ref) is not None and uncached.opening_key(ref) is not None
    firm.privacy.erase(ADMIN, "lead", lead_id, "request")
    assert firm.store.keyring.opening_key(ref) is None  # the erasing process: at once
    assert uncached.opening_key(ref) is None            # no cache: at once
    assert caching.opening_key(ref) is not None         # within LEDGERFLOW_PRIVACY_KEY_CACHE_SECONDS
    caching.forget()
    assert caching.opening_key(ref) is None
    with firm.store.datastore.get_connection() as conn:
        row = conn.execute("SELECT wrapped, erased_at FROM subject_keys WHERE subject = %s", (ref,)).fetchone()
    assert row["wrapped"] is None and row["erased_at"] is not None


def test_nothing_new_is_recorded_about_an_erased_lead(firm):
    lead_id = _intake(firm, "13811110003")["lead_id"]
    firm.privacy.erase(ADMIN, "lead", lead_id, "request")
    with pytest.raises(SubjectErasedError):
        firm.leads.follow_up(ADMIN, lead_id, "called again", True, None, None, None, [])
    assert firm.leads.lead(lead_id).erased


def test_a_sealed_value_moved_to_another_subject_does_not_open(firm):
    a, b = _intake(firm, "13811110004")["lead_id"], _intake(firm, "13811110005")["lead_id"]
    encoded = firm.store.transcoder.encode({"v": Sealed(f"lead:{a}", "secret")})
    assert firm.store.transcoder.decode(encoded) == {"v": "secret"}
    with pytest.raises(SealedValueTamperedError):
        firm.store.transcoder.decode(encoded.replace(f"lead:{a}".encode(), f"lead:{b}".encode()))


def test_a_lead_from_before_keyed_ids_is_still_found_by_its_phone_and_reads_without_a_digest(firm):
    old_id = legacy_lead_id(LINE, "+8613811110006")
    with acting_as(ADMIN):
        old = Lead.create(old_id, LINE, "+8613811110006", None, {  # type: ignore[arg-type]
            "channel_code": "ths", "channel_name": "同花顺", "channel_type": "tonghuashun",
            "promotion_type": "同花顺", "source": "api", "at": "2026-01-05T02:00:00+00:00", "row": 1, "fields": {}},
            "valid", None, str(firm.leads.channel("ths").department_id), None, [])
    firm.leads.save_all(old)
    again = _intake(firm, "138 1111 0006")
    assert (again["lead_id"], again["flag"]) == (str(old_id), "repeat")
    # A Created event stored before class_version 2 has no digest: upcast to None.
    state = orjson.loads(_stored(firm, old_id)[0])
    del state["phone_digest"], state["class_version"]
    event = firm.store.mapper.to_domain_event(StoredEvent(old_id, 1, "domain.leads.lead:Lead.Created",
                                                          orjson.dumps(state)))
    assert event.phone_digest is None and event.phone == "+8613811110006"


def test_a_batch_of_subjects_gets_its_keys_in_one_go_and_an_erased_one_stays_erased(firm):
    erased_id = _intake(firm, "13811110007")["lead_id"]
    firm.privacy.erase(ADMIN, "lead", erased_id, "request")
    other = _keyring_of_another_process(firm, 60)
    refs = {f"lead:batch-{i}" for i in range(50)} | {f"lead:{erased_id}"}
    with pytest.raises(SubjectErasedError):  # the new keys are stored all the same
        other.prepare(refs)
    with firm.store.datastore.get_connection() as conn:
        stored = conn.execute("SELECT count(*) AS n FROM subject_keys WHERE subject LIKE 'lead:batch-%%'"
                              " AND wrapped IS NOT NULL").fetchone()["n"]
    assert stored == 50
    assert other.sealing_key("lead:batch-7") == _keyring_of_another_process(firm, 0).sealing_key("lead:batch-7")
    with pytest.raises(SubjectErasedError):
        other.sealing_key(f"lead:{erased_id}")


def _timeline_and_intakes(c, lead_id) -> str:
    with c.store.datastore.get_connection() as conn:
        rows = conn.execute("SELECT detail::text AS t FROM leads_timeline WHERE lead_id = %(id)s UNION ALL"
                            " SELECT fields::text || phone FROM leads_intakes WHERE lead_id = %(id)s UNION ALL"
                            " SELECT phone || coalesce(phone_hash, '') FROM leads_leads WHERE id = %(id)s",
                            {"id": lead_id}).fetchall()
    return " ".join(r["t"] for r in rows)


def test_a_process_still_holding_an_erased_key_records_nothing_new_and_read_models_keep_the_marker(firm):
    """What another process that cached the key before the erasure would do: its writes are
    refused (erasure is read from the table), and an event it sealed just before the erasure
    but committed after it reaches the read models as erased."""
    lead_id = UUID(_intake(firm, "13811110008", name="Cached Person")["lead_id"])
    ref, keyring = f"lead:{lead_id}", firm.store.keyring
    key = keyring.opening_key(ref)
    lead = firm.leads.lead(lead_id)
    with acting_as(ADMIN):
        lead.follow_up("late note about Cached Person", True, None, None, None, [], "2026-01-06T02:00:00+00:00",
                       "admin:test")
    late = [firm.store.mapper.to_stored_event(e) for e in lead.collect_events()]  # sealed before the erasure
    firm.privacy.erase(ADMIN, "lead", lead_id, "request")
    firm.store.recorder.insert_events(late)                                         # committed after it
    version = len(_stored(firm, lead_id))

    keyring._remember(ref, key)  # the key as another process still holds it
    with pytest.raises(SubjectErasedError):
        firm.leads.follow_up(ADMIN, lead_id, "called again", True, None, None, None, [])
    keyring._remember(ref, key)
    again = _intake(firm, "13811110008", name="Cached Person")
    assert again["flag"] == "new" and UUID(again["lead_id"]) != lead_id  # not a repeat of the erased lead
    assert len(_stored(firm, lead_id)) == version

    keyring._remember(ref, key)  # the projection worker too
    firm.runners["leads.leads"].catch_up()
    read = _timeline_and_intakes(firm, lead_id)
    assert "late note" not in read and "Cached Person" not in read and "13811110008" not in read
    assert firm.leads.phone_digest("+8613811110008") not in read  # phone_hash is gone with the phone
    keyring.forget()


def test_a_customer_update_sealed_before_the_erasure_and_applied_after_it_leaves_the_row_erased(firm):
    firm.forms.sync_customers(ADMIN, [{"fund_account": "88000011", "name": "Early Customer",
                                       "phone": "13700000011"}])
    customer_id = natural_id("customer", "88000011")
    customer = firm.forms.load(customer_id, Customer)
    with acting_as(ADMIN):
        customer.sync({"fund_account": "88000011", "name": "Renamed Customer", "phone": "13700000012"})
    late = [firm.store.mapper.to_stored_event(e) for e in customer.collect_events()]
    key = firm.store.keyring.opening_key(f"customer:{customer_id}")
    firm.privacy.erase(ADMIN, "customer", customer_id, "request")
    firm.store.recorder.insert_events(late)
    firm.store.keyring._remember(f"customer:{customer_id}", key)  # a projection worker still holding the key
    firm.runners["forms.catalogue"].catch_up()
    with firm.store.datastore.get_connection() as conn:
        row = conn.execute("SELECT name, phone, id_number FROM forms_customers WHERE customer_id = %s",
                           (customer_id,)).fetchone()
    firm.store.keyring.forget()
    assert (row["name"], row["phone"], row["id_number"]) == ("erased", "erased", None)
