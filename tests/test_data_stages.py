"""The dataset factory's text stages, sources, export layout and duplex formats, without models."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from fakes import ScriptedLLM
from omnitalk.data import filters
from omnitalk.data.config import ConfigError, FilterConfig, SourceConfig, load_data_config
from omnitalk.data.duplex_sim import _at_snr, coloured_noise
from omnitalk.data.export import tiers
from omnitalk.data.items import Drop, Item, Turn
from omnitalk.data.pipeline import normalise
from omnitalk.data.rewrite import rewrite_llm, rewrite_rules, rules_answer
from omnitalk.data.sample import sample_conversations
from omnitalk.data.sources import SourceError, load_items
from omnitalk.data.verify import error_rate
from omnitalk.duplex.flatten import SILENT, FlatLayout, flatten, place_text
from omnitalk.engines.base import EngineError


def item_of(question: str, answer: str, **turn_fields) -> Item:
    return Item("x", "test", (Turn("user", question, **turn_fields),
                              Turn("assistant", answer, **turn_fields)))


def reject_cats(question: str, answer: str) -> str | None:
    """A safety check, loaded by name the way a build config names one."""
    return "mentions cats" if "cat" in answer.lower() else None


def test_screen_drops_exactly_what_the_sample_seeds():
    items, left_out = load_items(SourceConfig(max_exchanges=3))
    assert not left_out and len(items) == len(sample_conversations())
    verdicts = Counter()
    for item in items:
        try:
            filters.screen(item, FilterConfig())
            reason = "keep"
        except Drop as drop:
            reason = drop.reason
        assert reason == item.expect, item.id
        verdicts[reason] += 1
    assert set(verdicts) == {"keep", "code", "table", "long_form", "lyrics", "email",
                             "markdown", "too_long"}


@pytest.mark.parametrize(("question", "answer", "reason"), [
    ("What is this?", "", "empty"),
    ("Hi?", "Use <<<>>> ### @@@ ~~~ %%% ^^^ and ok.", "symbols"),
    (" ".join(["word"] * 70) + "?", "Fine.", "too_long"),
    ("Can you sing me a song about rain?", "Rain, rain, go away.", "lyrics"),
    ("What is a haiku?", "A haiku is a short Japanese poem of three lines.", None),
    ("Who wrote the song Yesterday?", "Paul McCartney wrote it.", None),
])
def test_screen_cases(question, answer, reason):
    if reason is None:
        filters.screen(item_of(question, answer), FilterConfig())
    else:
        with pytest.raises(Drop) as dropped:
            filters.screen(item_of(question, answer), FilterConfig())
        assert dropped.value.reason == reason


@pytest.mark.parametrize(("spoken", "reason"), [
    ("", "empty"),
    ("The capital of France is", "truncated"),
    ("It costs 5 dollars.", "unpronounceable"),  # a digit left after normalisation
    ("Say 東京 please.", "unpronounceable"),
    ("The cat sat on the mat.", "unsafe"),
    (" ".join(["word"] * 41) + ".", "too_long"),
    ("The capital of France is Paris.", None),
])
def test_check_cases(spoken, reason):
    item = item_of("Where?", "x", spoken="Where is it?")
    item = item.with_turns([item.turns[0], Turn("assistant", "x", spoken=spoken)])
    safety = filters.load_safety_check("test_data_stages:reject_cats")
    if reason is None:
        filters.check(item, FilterConfig(), 40, safety=safety)
        return
    with pytest.raises(Drop) as dropped:
        filters.check(item, FilterConfig(), 40, safety=safety)
    assert dropped.value.reason == reason


def test_a_safety_check_that_cannot_be_loaded_is_named():
    with pytest.raises(ValueError, match="no_such_module"):
        filters.load_safety_check("no_such_module:check")


def test_rules_rewrite_keeps_whole_sentences_within_the_limit():
    answer = "Paris is the capital. It is on the Seine. It has many museums and cafes."
    assert rules_answer(answer, 10) == "Paris is the capital. It is on the Seine."
    assert rules_answer("**Yes**, it is", 10) == "Yes, it is."
    with pytest.raises(Drop, match="too_long"):
        rules_answer("One two three four five six seven eight nine ten eleven.", 10)
    spoken = rewrite_rules(item_of("what is the capital of france", answer), 10)
    assert [t.spoken for t in spoken.turns] == ["what is the capital of france?",
                                                "Paris is the capital. It is on the Seine."]


def test_llm_rewrite_and_its_fallback():
    item = item_of("What's 2+2?", "2+2 = 4.")
    rewritten = rewrite_llm(item, ScriptedLLM("What is two plus two?"), 20)
    assert [t.spoken for t in rewritten.turns] == ["What is two plus two?"] * 2
    assert not rewritten.notes

    class DeadLLM(ScriptedLLM):
        def stream_chat(self, messages, cancel=None):
            raise EngineError("endpoint down")

    fallen = rewrite_llm(item, DeadLLM(""), 20)
    assert [t.spoken for t in fallen.turns] == ["What's 2+2?", "2+2 = 4."]
    assert fallen.notes == ("rewrite:llm_fallback", "rewrite:llm_fallback")
    # A weak model answers instead of rewriting and makes things up: the rules take over.
    smallest = item_of("Which is the smallest country?", "Vatican City is the smallest.")
    invented = rewrite_llm(smallest, ScriptedLLM("It is a non-existent entity somewhere."), 20)
    assert [t.spoken for t in invented.turns] == ["Which is the smallest country?",
                                                  "Vatican City is the smallest."]
    assert invented.notes == ("rewrite:llm_unfaithful", "rewrite:llm_unfaithful")


def test_normalise_says_numbers_dates_and_money_in_words():
    item = item_of("x", "x").with_turns([
        Turn("user", "", spoken="How much was it on July 20, 1969?"),
        Turn("assistant", "", spoken="It was $4.50, about 5 km away."),
    ])
    spoken = [t.spoken for t in normalise(item, "en").turns]
    assert spoken == ["How much was it on July twentieth, nineteen sixty-nine?",
                      "It was four dollars and fifty cents, about five kilometers away."]


def test_error_rates_in_words_and_characters():
    assert error_rate(["It costs five dollars."], ["it costs $5"], "en") == 0.0
    assert error_rate(["the cat sat here"], ["the cat sat"], "en") == 0.25
    assert error_rate(["How much to tip in the U S?"], ["How much to tip in the US?"], "en") == 0
    assert error_rate(["I am a U.S.A. citizen."], ["I am a USA citizen"], "en") == 0
    assert error_rate(["你好世界"], ["你好世"], "zh") == 0.25
    assert error_rate(["你好，世界。"], ["你好世界"], "zh") == 0.0


def test_sources_read_jsonl_parquet_and_hf_datasets(tmp_path):
    records = [
        {"id": "a", "messages": [{"role": "system", "content": "s"},
                                 {"role": "user", "content": "Hi?"},
                                 {"role": "assistant", "content": "Hello."},
                                 {"role": "user", "content": "Again?"},
                                 {"role": "assistant", "content": "Yes."}]},
        {"conversations": [{"from": "human", "value": "Q?"}, {"from": "gpt", "value": "A."}]},
        {"messages": [{"role": "assistant", "content": "I start."},
                      {"role": "user", "content": "No."}]},
        {"messages": "not a list"},
        {"id": "a", "messages": [{"role": "user", "content": "Dup?"},
                                 {"role": "assistant", "content": "Dup."}]},
    ]
    jsonl = tmp_path / "chats.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\n{broken\n")
    items, left_out = load_items(SourceConfig(kind="jsonl", path=str(jsonl), max_exchanges=1))
    assert [i.id for i in items] == ["a", "jsonl-0000001"]
    assert [t.text for t in items[0].turns] == ["Hi?", "Hello."]
    assert left_out == Counter(not_user_then_assistant=1, no_messages=1, duplicate_id=1,
                               malformed=1)

    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    good = [records[0], records[1]]
    pq.write_table(pa.Table.from_pylist([{"messages": r.get("messages") or [
        {"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]}
        for r in good]), tmp_path / "chats.parquet")
    items, _ = load_items(SourceConfig(kind="parquet", path=str(tmp_path / "chats.parquet")))
    assert [len(i.turns) for i in items] == [4, 2]
    datasets.Dataset.from_list([{"messages": records[0]["messages"]}]).save_to_disk(
        str(tmp_path / "saved"))
    items, _ = load_items(SourceConfig(kind="hf", path=str(tmp_path / "saved"), limit=1))
    assert len(items) == 1 and items[0].turns[-1].text == "Yes."
    with pytest.raises(SourceError, match="source not found"):
        load_items(SourceConfig(kind="jsonl", path=str(tmp_path / "missing.jsonl")))


def test_config_errors_are_named(tmp_path):
    path = tmp_path / "build.toml"
    for text, message in [
        ('[source]\nkind = "csv"', "source.kind"),
        ('[source]\nkind = "jsonl"', "source.path is needed"),
        ('[rewrite]\nbackend = "magic"', "rewrite.backend"),
        ("[export]\nsubsets = {xs = 0.5, s = 0.1}", "export.subsets"),
        ("workers = 0", "at least 1"),
        ("[nonsense]\nx = 1", "unknown setting 'nonsense'"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_data_config(path)


def test_subsets_are_nested_prefixes_that_cover_every_speaker():
    items = [Item(f"i{n}", "t", (Turn("user", "q", speaker=f"voice{n % 4}"),
                                 Turn("assistant", "a"))) for n in range(40)]
    parts = tiers(items, {"xs": 0.05, "s": 0.2, "m": 0.5, "xl": 1.0}, seed=3)
    sizes = [len(part) for part in parts.values()]
    assert sizes == [4, 4, 12, 20]  # xs is lifted to one item per speaker
    assert {item.turns[0].speaker for item in parts["xs"]} == {f"voice{n}" for n in range(4)}
    all_ids = [item.id for part in parts.values() for item in part]
    assert sorted(all_ids) == sorted(item.id for item in items)  # disjoint tiers, all items
    again = tiers(items, {"xs": 0.05, "s": 0.2, "m": 0.5, "xl": 1.0}, seed=3)
    assert [i.id for i in again["m"]] == [i.id for i in parts["m"]]


def test_flattened_chunks_are_user_speech_then_text_then_assistant_speech():
    layout = FlatLayout(text_vocab=100, speech_chunk_frames=2, text_chunk=2)
    user = np.arange(4 * 7).reshape(4, 7) % 4096
    assistant = np.full((4, 7), SILENT)
    assistant[2:] = 5
    text = place_text([(1, [7, 8, 9])], chunks=2, layout=layout)
    np.testing.assert_array_equal(text, [[SILENT, SILENT], [7, 8]])  # 9 would spill past
    flat = flatten(user, assistant, text, layout)
    assert flat.size == 2 * layout.chunk_length
    first = flat[:layout.chunk_length]
    np.testing.assert_array_equal(first[:14], (user[:2] + layout.speech_base
                                               + 4096 * np.arange(7)).reshape(-1))
    assert list(first[14:16]) == [layout.silent_text] * 2
    assert list(first[16:]) == [layout.silent_speech] * 14
    second = flat[layout.chunk_length:]
    assert list(second[14:16]) == [7, 8]
    assert second[16] == 5 + layout.speech_base
    assert flat.max() < layout.vocab


def test_text_of_a_later_turn_waits_for_the_earlier_one():
    layout = FlatLayout(text_vocab=10, text_chunk=2)
    text = place_text([(0, [1, 2, 3, 4, 5]), (1, [6])], chunks=4, layout=layout)
    assert text.reshape(-1).tolist() == [1, 2, 3, 4, 5, 6, SILENT, SILENT]


def test_noise_has_its_colour_and_is_mixed_at_the_snr_asked_for():
    rng = np.random.default_rng(0)
    for exponent in (0.0, 1.0, 2.0):
        noise = coloured_noise(48000, exponent, rng)
        assert abs(np.sqrt(np.mean(noise**2)) - 1) < 1e-3
        power = np.abs(np.fft.rfft(noise)) ** 2
        frequencies = np.fft.rfftfreq(noise.size)
        band = (frequencies > 0.001) & (frequencies < 0.4)
        slope = np.polyfit(np.log10(frequencies[band]), np.log10(power[band]), 1)[0]
        assert abs(slope + exponent) < 0.1  # power falls as 1/f^exponent
    speech = np.sin(np.arange(24000) / 10).astype(np.float32)
    mixed = _at_snr(speech, coloured_noise(24000, 1.0, rng), 20.0)
    assert abs(10 * np.log10(np.mean(speech**2) / np.mean(mixed**2)) - 20.0) < 0.01
