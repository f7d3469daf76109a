"""The built-in sample set: well-formed, stable, and each conversation is what its `expect` says."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from omnitalk.data.sample import (
    DROP_REASONS,
    KEEP,
    SAMPLE_DATA,
    SampleDataError,
    read_sample_file,
    sample_conversations,
)
from omnitalk.text.speech import normalise_for_speech

CONVERSATIONS = sample_conversations()
MAX_KEEP_ANSWER_WORDS = 40  # the spoken-reply limit the rewrite stage cuts to
SAYABLE = re.compile(r"[A-Za-z' ,.!?;:()\-]+")  # what the filter lets a voice say after normalising


def words(text: str) -> int:
    return len(text.split())


def by_expect(expect: str) -> list[dict]:
    return [c for c in CONVERSATIONS if c["expect"] == expect]


def answers(expect: str) -> list[str]:
    return [m["content"] for c in by_expect(expect) for m in c["messages"]
            if m["role"] == "assistant"]


def keep_texts() -> str:
    return "\n".join(m["content"] for c in by_expect(KEEP) for m in c["messages"])


def test_ids_are_unique_numbered_and_stable_across_calls():
    ids = [c["id"] for c in CONVERSATIONS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"sample-\d{4}", i) for i in ids)
    assert ids[0] == "sample-0001"
    assert sample_conversations() == CONVERSATIONS


def test_each_call_returns_fresh_data_so_callers_may_change_theirs():
    first = sample_conversations()
    first[0]["messages"][0]["content"] = "changed"
    first.pop()
    assert sample_conversations() == CONVERSATIONS


def test_every_conversation_alternates_user_and_assistant_and_ends_with_the_assistant():
    for conversation in CONVERSATIONS:
        roles = [m["role"] for m in conversation["messages"]]
        assert roles == ["user", "assistant"] * (len(roles) // 2), conversation["id"]
        assert roles and roles[-1] == "assistant", conversation["id"]
        assert all(isinstance(m["content"], str) and m["content"].strip()
                   for m in conversation["messages"]), conversation["id"]


def test_expect_is_keep_or_a_known_drop_reason():
    assert {c["expect"] for c in CONVERSATIONS} == {KEEP, *DROP_REASONS}


def test_counts_of_single_exchange_multi_turn_and_each_drop_reason():
    keep = by_expect(KEEP)
    assert sum(len(c["messages"]) == 2 for c in keep) >= 280
    multi_turn = [c for c in keep if len(c["messages"]) > 2]
    assert len(multi_turn) >= 25
    assert all(len(c["messages"]) in (4, 6) for c in multi_turn)
    counts = Counter(c["expect"] for c in CONVERSATIONS)
    for reason in DROP_REASONS:
        assert counts[reason] >= 6, reason


def test_drop_examples_are_single_exchanges():
    for reason in DROP_REASONS:
        assert all(len(c["messages"]) == 2 for c in by_expect(reason)), reason


def test_texts_are_not_repeated():
    questions = [c["messages"][0]["content"] for c in CONVERSATIONS]
    assert len(questions) == len(set(questions))
    all_answers = [a for expect in (KEEP, *DROP_REASONS) for a in answers(expect)]
    assert len(all_answers) == len(set(all_answers))


def test_keep_answers_are_short_and_free_of_markdown():
    for answer in answers(KEEP):
        assert words(answer) <= MAX_KEEP_ANSWER_WORDS, answer
        for marker in ("```", "#", "|", "**"):
            assert marker not in answer, answer
        assert "\n" not in answer, answer
        assert not answer.lstrip().startswith("- "), answer


def test_keep_texts_read_aloud_are_sayable_and_answers_stay_within_the_limit():
    """After normalisation only words a voice can say are left, and numbers spelled out do not
    push an answer past the spoken limit."""
    for conversation in by_expect(KEEP):
        for message in conversation["messages"]:
            spoken = normalise_for_speech(message["content"])
            assert not SAYABLE.sub("", spoken), (conversation["id"], spoken)
            if message["role"] == "assistant":
                assert words(spoken) <= MAX_KEEP_ANSWER_WORDS, (conversation["id"], spoken)


def test_keep_texts_give_the_normaliser_numbers_dates_money_percentages_units_and_symbols():
    text = keep_texts()
    months = "January|February|March|April|May|June|July|August|September|October|November|" \
             "December"
    assert re.search(r"\b\d{1,3}(?:,\d{3})+\b", text)  # 8,849
    assert re.search(r"\b\d+\.\d+\b", text)  # 3.14159
    assert re.search(rf"\b(?:{months}) \d{{1,2}}, \d{{4}}\b", text)  # July 20, 1969
    assert re.search(r"\$\d+\.\d\d\b", text)  # $4.50
    assert re.search(r"£\d", text)
    assert re.search(r"\b\d+%", text)
    for unit in ("km", "kg", "m", "km/h", "mph", "L", "ml", "ft", "lb"):
        assert re.search(rf"\b\d+(?:\.\d+)? {re.escape(unit)}\b", text), unit
    assert re.search(r"-?\d+°C", text) and re.search(r"\d+°F", text)
    for written in ("e.g.", "U.S.", "a.m.", "&", "St.", "No."):
        assert written in text, written


def test_code_answers_hold_code():
    for answer in answers("code"):
        assert "```" in answer or "def " in answer or "function" in answer, answer


def test_table_answers_are_markdown_tables():
    for answer in answers("table"):
        rows = [line for line in answer.splitlines() if line.strip().startswith("|")]
        assert len(rows) >= 3, answer
        assert any(re.fullmatch(r"\|(?:\s*-+\s*\|)+", row.strip()) for row in rows), answer


def test_long_form_answers_run_over_150_words_in_several_paragraphs():
    for answer in answers("long_form"):
        assert words(answer) > 150, answer[:60]
        assert answer.count("\n\n") >= 2, answer[:60]


def test_too_long_answers_are_plain_prose_over_120_words():
    for answer in answers("too_long"):
        assert words(answer) > 120, answer[:60]
        assert not re.search(r"```|^#|\||\*\*|^\s*- ", answer, re.MULTILINE), answer[:60]


def test_email_answers_have_a_greeting_and_a_sign_off():
    sign_offs = ("Best regards", "Kind regards", "Sincerely", "Yours sincerely", "best wishes")
    for answer in answers("email"):
        assert re.search(r"^(?:Dear|Hi|Hello)\b.*,$", answer, re.MULTILINE), answer[:60]
        assert any(sign_off in answer for sign_off in sign_offs), answer[:60]


def test_lyrics_answers_are_at_least_four_short_verse_lines():
    for answer in answers("lyrics"):
        lines = [line for line in answer.splitlines() if line.strip()]
        assert len(lines) >= 4, answer
        assert all(words(line) <= 10 for line in lines), answer


@pytest.mark.parametrize("marker", [r"^#{1,6} ", r"^- ", r"\*\*[^*]+\*\*"])
def test_markdown_answers_use_headings_bullets_and_bold(marker):
    for answer in answers("markdown"):
        assert re.search(marker, answer, re.MULTILINE), answer[:60]


# Written out here rather than taken from the module, so a renamed field in either shows up.
EXCHANGE_FIELDS = {"question", "answer"}
PACKAGE_DATA_FIELDS = {
    "questions.jsonl": {"topic", *EXCHANGE_FIELDS},
    "capitals.jsonl": {"country", "capital", "region", "usual_guess"},
    "elements.jsonl": {"name", "symbol", "atomic_number", "latin_name"},
    "animal_groups.jsonl": {"animals", "group", "remark"},
    "words.jsonl": {"word", "meaning", "example"},
    "dated_events.jsonl": {"event", "date", "fact"},
    "follow_ups.jsonl": {"turns"},
    "drops.jsonl": {"reason", *EXCHANGE_FIELDS},
}
MAY_BE_EMPTY = {"usual_guess", "latin_name"}  # "" when there is nothing to add


def test_package_data_files_load_and_every_line_has_the_expected_fields():
    names = {path.name for path in SAMPLE_DATA.iterdir() if path.name.endswith(".jsonl")}
    assert names == set(PACKAGE_DATA_FIELDS)
    for name, fields in PACKAGE_DATA_FIELDS.items():
        lines = (SAMPLE_DATA / name).read_text(encoding="utf-8").splitlines()
        assert lines, name
        for number, line in enumerate(lines, 1):
            row = json.loads(line)
            assert set(row) == fields, (name, number)
            for field, value in row.items():
                if field == "turns":
                    assert len(value) >= 2, (name, number)
                    assert all(set(turn) == EXCHANGE_FIELDS and all(turn.values())
                               for turn in value), (name, number)
                elif field == "atomic_number":
                    assert isinstance(value, int), (name, number)
                else:
                    assert isinstance(value, str), (name, number, field)
                    assert value or field in MAY_BE_EMPTY, (name, number, field)
    drop_reasons = [json.loads(line)["reason"]
                    for line in (SAMPLE_DATA / "drops.jsonl").read_text("utf-8").splitlines()]
    assert set(drop_reasons) == set(DROP_REASONS)


@pytest.mark.parametrize(("text", "problem"), [
    ('{"question": "Hi?", "answer": "Hello."}\n{"question": "Hi?"', "not valid JSON"),
    ('{"question": "Hi?", "answer": "Hello."}\n{"question": "Hi?"}', "expected an object"),
    ('{"question": "Hi?", "answer": "Hello."}\n{"question": "Hi?", "answer": 4}',
     "answer should be str"),
    ('{"question": "Hi?", "answer": "Hello."}\n\n', "not valid JSON"),
    ('{"question": "Hi?", "answer": "Hello."}\n["Hi?", "Hello."]', "expected an object"),
])
def test_a_malformed_sample_file_is_reported_with_its_file_and_line(tmp_path, text, problem):
    path = tmp_path / "broken.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SampleDataError, match=problem) as raised:
        read_sample_file(path, {"question": str, "answer": str})
    assert f"{path}, line 2:" in str(raised.value)


def test_a_missing_sample_file_is_reported_with_its_path(tmp_path):
    path = tmp_path / "gone.jsonl"
    with pytest.raises(SampleDataError, match="cannot read") as raised:
        read_sample_file(path, {"question": str, "answer": str})
    assert str(path) in str(raised.value)


def test_nested_turns_are_checked_too(tmp_path):
    path = tmp_path / "chats.jsonl"
    path.write_text('{"turns": [{"question": "Hi?", "answer": "Hello."}, {"question": "And?"}]}',
                    encoding="utf-8")
    with pytest.raises(SampleDataError, match=r"line 1, turns\[1\]: expected an object"):
        read_sample_file(path, {"turns": {"question": str, "answer": str}})


def test_a_drop_with_an_unknown_reason_is_reported_with_its_line(tmp_path, monkeypatch):
    for name in PACKAGE_DATA_FIELDS:
        (tmp_path / name).write_text((SAMPLE_DATA / name).read_text("utf-8"), encoding="utf-8")
    with (tmp_path / "drops.jsonl").open("a", encoding="utf-8") as drops:
        drops.write('{"reason": "rude", "question": "Hi?", "answer": "Go away."}\n')
    monkeypatch.setattr("omnitalk.data.sample.SAMPLE_DATA", tmp_path)
    line = sum(c["expect"] != KEEP for c in CONVERSATIONS) + 1  # the line just appended
    with pytest.raises(SampleDataError, match=rf"drops\.jsonl, line {line}: reason 'rude'"):
        sample_conversations()
