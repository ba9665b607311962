"""The AML screening rule: names match across simplified and traditional characters and against
pinyin spellings, up to a threshold; ID numbers match exactly after normalisation."""
from __future__ import annotations

import pytest

from application.compliance.names import ChineseNameMatcher
from domain.compliance.lists import ListEntry
from domain.compliance.matching import PreparedList, Subject, id_key, mask_id, screen
from domain.compliance.subjects import subjects_of
from domain.shared.errors import InvalidInputError

MATCHER = ChineseNameMatcher()


def score(a: str, b: str) -> float:
    return MATCHER.score(MATCHER.prepare(a), MATCHER.prepare(b))


def internal(*entries: ListEntry, version: int = 1) -> PreparedList:
    return PreparedList.of("internal", version, entries, MATCHER)


WANG = ListEntry(entry_id="INT-001", name="王建国", aliases=("Wang Jianguo",), id_type="cn_ric",
                 id_number="110101196503071234")


@pytest.mark.parametrize(("a", "b"), [("张伟", "張偉"), ("王建國", "王建国"), ("Zhang Wei", "张伟"),
                                      ("ZHANGWEI", "張偉"), ("Wei Zhang", "张伟"), ("Jianguo Wang", "王建國"),
                                      ("吕布", "Lü Bu"), ("单雄信", "Shan Xiongxin"), ("ｚｈａｎｇ ｗｅｉ", "张伟")])
def test_the_same_name_in_another_script_or_spelling_scores_one(a, b):
    assert score(a, b) == 1.0


@pytest.mark.parametrize(("a", "b"), [("李娜", "李四"), ("王建国", "王建军"), ("Li Na", "Li Si"), ("张伟", "章伟")])
def test_different_people_score_below_the_default_threshold(a, b):
    assert score(a, b) < 0.85


def test_a_score_exactly_at_the_threshold_hits_and_just_below_does_not():
    near = score("Zhang Wen", "张伟")
    assert near == 0.875
    subject = [Subject("tenant_name", "Zhang Wen")]
    lists = [internal(ListEntry(entry_id="E1", name="张伟"))]
    assert [h.score for h in screen(subject, lists, MATCHER, threshold=0.875)] == [0.875]
    assert screen(subject, lists, MATCHER, threshold=0.876) == []


def test_a_traditional_spelling_of_a_listed_name_is_a_name_hit_with_the_list_version():
    hits = screen([Subject("tenant_name", "王建國")], [internal(WANG, version=3)], MATCHER)
    assert [(h.entry_id, h.list_kind, h.list_version, h.matched_on, h.score) for h in hits] == [
        ("INT-001", "internal", 3, "name", 1.0)]


def test_an_id_number_hits_exactly_whatever_the_name_and_is_reported_once():
    for written in ("110101196503071234", "1101 0119 6503 0712 34", "１１０１０１１９６５０３０７１２３４"):
        hits = screen([Subject("legal_rep", "王建国", written)], [internal(WANG)], MATCHER)
        assert [(h.matched_on, h.score) for h in hits] == [("id", 1.0)]
    assert screen([Subject("x", "Someone Else", "110101196503071235")], [internal(WANG)], MATCHER) == []
    assert [h.matched_on for h in screen([Subject("x", "", "110101196503071234")], [internal(WANG)], MATCHER)] == ["id"]


def test_id_numbers_are_normalised_upper_case_without_separators_and_15_digits_become_18():
    assert id_key(" 11010519491231002x ") == "11010519491231002X"
    assert id_key("E1234-5678") == "E12345678"
    # A first-generation card (15 digits) and its 18-digit successor are one person.
    assert id_key("110105491231002") == "11010519491231002X"
    assert id_key("110101196503071234") == "110101196503071234"  # a wrong check digit is kept as written
    assert mask_id("110101196503071234") == "110101********1234"


def test_subjects_come_from_fields_and_list_items_with_their_paired_ids():
    form = {"tenant_name": "王建國", "id_number": "110101196503071234",
            "contacts": [{"name": "张伟", "id": "A1"}, {"name": ""}, {"name": "Li Na"}],
            "legal_rep": {"name": "赵六"}}
    subjects = subjects_of(form, ["tenant_name", "contacts[].name", "legal_rep.name", "missing"],
                           ["id_number", "contacts[].id"])
    assert subjects == [Subject("tenant_name", "王建國", "110101196503071234"), Subject("contacts[0].name", "张伟", "A1"),
                        Subject("contacts[2].name", "Li Na", ""), Subject("legal_rep.name", "赵六", "")]


@pytest.mark.parametrize("fields", [[], ["bad path"], ["a..b"], ["contacts[0].name"]])
def test_a_field_path_outside_the_syntax_is_refused(fields):
    with pytest.raises(InvalidInputError):
        subjects_of({}, fields)
