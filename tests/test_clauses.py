"""ClauseChunker: streamed LLM deltas cut into clauses a TTS voice can start speaking."""

from __future__ import annotations

import pytest

from omnitalk.agent.clauses import ClauseChunker, ClauseConfig

STEPS = [1, 2, 3]


def feed(text: str, step: int, chunker: ClauseChunker | None = None):
    """Push `text` in deltas of `step` characters; return (clauses from push, flush())."""
    chunker = chunker or ClauseChunker()
    clauses: list[str] = []
    for start in range(0, len(text), step):
        clauses.extend(chunker.push(text[start : start + step]))
    return clauses, chunker.flush()


@pytest.mark.parametrize("step", STEPS)
def test_first_clause_is_cut_at_the_first_comma_with_enough_words(step):
    """'Well,' (1 word) is too short; 'Well, I think so,' (4 words >= 3) is cut."""
    clauses, rest = feed(
        "Well, I think so, but we should check the numbers first, then decide. Okay.", step
    )
    assert clauses == ["Well, I think so,", "but we should check the numbers first, then decide."]
    assert rest == "Okay."


@pytest.mark.parametrize("step", STEPS)
def test_first_clause_min_words_is_configurable(step):
    clauses, rest = feed("Yes, I can, of course.", step, ClauseChunker(ClauseConfig(1)))
    assert clauses == ["Yes,"]
    assert rest == "I can, of course."


@pytest.mark.parametrize("step", STEPS)
def test_later_clauses_wait_for_a_sentence_end(step):
    """After the first clause a short comma clause ('ten eleven twelve,') is not cut."""
    clauses, rest = feed(
        "One two three four five six seven eight nine, ten eleven twelve, thirteen. ok", step
    )
    assert clauses == [
        "One two three four five six seven eight nine,",
        "ten eleven twelve, thirteen.",
    ]
    assert rest == "ok"


@pytest.mark.parametrize("step", STEPS)
def test_later_clause_is_cut_at_a_comma_once_long(step):
    """A later clause of >= clause_min_words (8) words is cut at its comma."""
    clauses, rest = feed(
        "Sure thing, okay, we can start with the very first step of the plan, and then move on.",
        step,
    )
    assert clauses == ["Sure thing, okay,", "we can start with the very first step of the plan,"]
    assert rest == "and then move on."


@pytest.mark.parametrize("step", STEPS)
def test_sentence_ends_cut_clauses(step):
    clauses, rest = feed("Hello there, my friend, how are you today? I am fine.", step)
    assert clauses == ["Hello there, my friend,", "how are you today?"]
    assert rest == "I am fine."


@pytest.mark.parametrize("step", STEPS)
def test_exclamation_question_ellipsis_and_closing_quote(step):
    assert feed("Wow! Really? Yes… ok.", step) == (["Wow!", "Really?", "Yes…"], "ok.")
    assert feed('He said "stop." Then left.', step) == (['He said "stop."'], "Then left.")


def test_a_clause_is_emitted_only_once_whitespace_follows_the_punctuation():
    chunker = ClauseChunker()
    assert list(chunker.push("Well, I think so,")) == []
    assert list(chunker.push(" b")) == ["Well, I think so,"]
    assert chunker.flush() == "b"


@pytest.mark.parametrize("step", STEPS)
def test_decimal_numbers_are_not_cut(step):
    """'2.' might become '2.5': no cut inside a decimal number."""
    clauses, rest = feed("The answer is 2.5 meters, roughly. It is 3.75 wide. Done", step)
    assert clauses == ["The answer is 2.5 meters,", "roughly.", "It is 3.75 wide."]
    assert rest == "Done"


def test_decimal_point_split_across_deltas_is_not_cut():
    chunker = ClauseChunker()
    pieces = ["It is 2", ".", "5 meters long", ". Yes"]
    clauses = [clause for piece in pieces for clause in chunker.push(piece)]
    assert clauses == ["It is 2.5 meters long."]
    assert chunker.flush() == "Yes"


@pytest.mark.parametrize("step", STEPS)
def test_a_number_ending_a_sentence_is_cut(step):
    assert feed("It costs 3. Then more.", step) == (["It costs 3."], "Then more.")


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(
    "text, clauses, rest",
    [
        ("Dr. Smith agrees with that. Done", ["Dr. Smith agrees with that."], "Done"),
        ("Ask Mr. Jones about it. Then go.", ["Ask Mr. Jones about it."], "Then go."),
        ("Fruit e.g. apples are good. Yes", ["Fruit e.g. apples are good."], "Yes"),
        ("The U.S. policy is odd. Yes", ["The U.S. policy is odd."], "Yes"),
    ],
)
def test_abbreviations_are_not_sentence_ends(step, text, clauses, rest):
    assert feed(text, step) == (clauses, rest)


@pytest.mark.parametrize("step", STEPS)
def test_newlines_cut(step):
    clauses, rest = feed("Line one\nLine two\n\nLine three", step)
    assert clauses == ["Line one", "Line two"]
    assert rest == "Line three"


def test_long_text_without_punctuation_is_cut_after_max_words():
    clauses, rest = feed("a b c d e f g h i j k l ", 1, ClauseChunker(ClauseConfig(max_words=5)))
    assert clauses == ["a b c d e f", "g h i j k l"]
    assert rest == ""


def test_flush_returns_the_remainder_once():
    chunker = ClauseChunker()
    assert list(chunker.push("An unfinished thought")) == []
    assert chunker.flush() == "An unfinished thought"
    assert chunker.flush() == ""


def test_flush_of_whitespace_only_is_empty():
    chunker = ClauseChunker()
    assert list(chunker.push("   \t ")) == []
    assert chunker.flush() == ""


def test_reset_drops_the_buffer_and_restores_the_first_clause_rule():
    chunker = ClauseChunker()
    assert feed("Hi there, this is a test. More", 2, chunker)[0] == [
        "Hi there, this is a test."
    ]
    # Now a later clause: a 3-word comma clause is not cut.
    assert list(chunker.push("Oh well, I see, ")) == []
    chunker.reset()
    assert chunker.flush() == ""
    # After reset the first clause is cut at 3 words again.
    assert feed("Oh well, I see, yes", 2, chunker) == (["Oh well, I see,"], "yes")


TEXTS = [
    "Well, I think so, but we should check the numbers first, then decide. Okay.",
    "Dr. Smith said 2.5 kilometers, e.g. a short walk! Really? Yes… fine.\nNext line here",
    "Sure thing, okay, we can start with the very first step of the plan, and then move on.",
    "word " * 40,
    "No punctuation at all in this one",
]


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_joined_clauses_reproduce_the_words_of_the_input(text, step):
    clauses, rest = feed(text, step)
    assert " ".join([*clauses, rest]).split() == text.split()
    assert all(clause == clause.strip() and clause for clause in clauses)
