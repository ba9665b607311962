import datetime as dt
import uuid
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from infrastructure.eventstore.transcoder import OrjsonTranscoder

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text(max_size=20),
    st.uuids(), st.dates(), st.datetimes(timezones=st.just(dt.timezone.utc)),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, max_value=10**12, min_value=-(10**12)),
)
values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)), max_leaves=20)


@given(values)
def test_any_supported_value_round_trips_with_its_type(value):
    t = OrjsonTranscoder()
    assert t.decode(t.encode({"v": value})) == {"v": value}


def test_types_survive_storage():
    t = OrjsonTranscoder()
    obj = {"id": uuid.uuid4(), "at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
           "amount": Decimal("12.30"), "day": dt.date(2026, 2, 28)}
    back = t.decode(t.encode(obj))
    assert back == obj
    assert isinstance(back["id"], uuid.UUID) and isinstance(back["amount"], Decimal)
    assert str(back["amount"]) == "12.30"


def test_unregistered_type_is_refused_with_a_clear_message():
    import pytest

    with pytest.raises(TypeError, match="register a Transcoding"):
        OrjsonTranscoder().encode({"x": object()})
