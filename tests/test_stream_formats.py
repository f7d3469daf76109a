"""Duplex stream formats: OmniFlatten's 4/3/2-stream flattening and SyncLLM's interleave.

Each format is pinned id by id on a small case and round-tripped exactly on random streams.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnitalk.duplex.flatten import (
    SILENT,
    FlatLayout,
    SpokenTurn,
    flatten,
    flatten_turns,
    unflatten,
    unflatten_turns,
)
from omnitalk.duplex.interleave import (
    InterleaveLayout,
    deduplicate,
    deinterleave,
    interleave,
    interpolate,
)

# text_vocab 10: silent text 10, silent speech 11, user turn 12, assistant turn 13; layer L's
# code c is 14 + 4096 L + c.
TINY = dict(text_vocab=10, speech_chunk_frames=1, text_chunk=2)
USER = np.array([[0, 1, 2, 3, 4, 5, 6], [10, 11, 12, 13, 14, 15, 16]])
ASSISTANT = np.array([[SILENT] * 7, [0, 0, 0, 0, 0, 0, 4095]])
USER_IDS = [[14, 4111, 8208, 12305, 16402, 20499, 24596],
            [24, 4121, 8218, 12315, 16412, 20509, 24606]]
ASSISTANT_IDS = [[11] * 7, [14, 4110, 8206, 12302, 16398, 20494, 28685]]


def test_three_streams_are_user_speech_then_assistant_text_then_assistant_speech():
    layout = FlatLayout(**TINY)
    text = np.array([[5, 6], [SILENT, SILENT]])
    flat = flatten(USER, ASSISTANT, text, layout)
    assert flat.tolist() == [*USER_IDS[0], 5, 6, *ASSISTANT_IDS[0],
                             *USER_IDS[1], 10, 10, *ASSISTANT_IDS[1]]
    back = unflatten(flat, layout)
    np.testing.assert_array_equal(back.user, USER)
    np.testing.assert_array_equal(back.assistant, ASSISTANT)
    np.testing.assert_array_equal(back.text, text)


def test_two_streams_are_user_speech_then_assistant_speech():
    layout = FlatLayout(**TINY, streams=2)
    flat = flatten(USER, ASSISTANT, None, layout)
    assert layout.chunk_length == 14
    assert flat.tolist() == [*USER_IDS[0], *ASSISTANT_IDS[0], *USER_IDS[1], *ASSISTANT_IDS[1]]
    back = unflatten(flat, layout)
    assert back.text is None
    np.testing.assert_array_equal(back.user, USER)
    np.testing.assert_array_equal(back.assistant, ASSISTANT)


def test_four_streams_go_turn_by_turn_user_speech_text_then_assistant_text_speech():
    layout = FlatLayout(**TINY, streams=4)
    turns = [SpokenTurn("user", np.array([3, 4]), USER[:1]),
             SpokenTurn("assistant", np.array([5]), np.full((1, 7), 9))]
    flat = flatten_turns(turns, layout)
    assert flat.tolist() == [12, *USER_IDS[0], 3, 4,
                             13, 5, 23, 4119, 8215, 12311, 16407, 20503, 24599]
    back = unflatten_turns(flat, layout)
    assert [turn.role for turn in back] == ["user", "assistant"]
    for got, want in zip(back, turns, strict=True):
        np.testing.assert_array_equal(got.text, want.text)
        np.testing.assert_array_equal(got.speech, want.speech)


def test_frames_after_the_last_whole_chunk_are_left_out():
    layout = FlatLayout(text_vocab=10, speech_chunk_frames=2, text_chunk=2, streams=2)
    frames = np.zeros((5, 7), np.int64)
    flat = flatten(frames, frames, None, layout)
    assert flat.size == 2 * layout.chunk_length
    assert unflatten(flat, layout).user.shape == (4, 7)


def test_every_layout_shares_one_id_space():
    layouts = [FlatLayout(100, streams=streams) for streams in (4, 3, 2)]
    assert len({(lay.speech_base, lay.silent_text, lay.silent_speech, lay.vocab)
                for lay in layouts}) == 1


def chunked_layouts(streams: int):
    return st.builds(FlatLayout, text_vocab=st.integers(1, 40),
                     speech_chunk_frames=st.integers(1, 3), text_chunk=st.integers(1, 3),
                     streams=st.just(streams))


codes = st.one_of(st.just(SILENT), st.integers(0, 4095))


@st.composite
def frames(draw, count: int) -> np.ndarray:
    return np.array(draw(st.lists(st.lists(codes, min_size=7, max_size=7),
                                  min_size=count, max_size=count)), np.int64).reshape(count, 7)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), streams=st.sampled_from([3, 2]), chunks=st.integers(0, 4))
def test_chunked_layouts_round_trip_exactly(data, streams, chunks):
    layout = data.draw(chunked_layouts(streams))
    count = chunks * layout.speech_chunk_frames
    user, assistant = data.draw(frames(count)), data.draw(frames(count))
    text = None
    if streams == 3:
        slots = st.one_of(st.just(SILENT), st.integers(0, layout.text_vocab - 1))
        text = np.array(data.draw(st.lists(slots, min_size=chunks * layout.text_chunk,
                                           max_size=chunks * layout.text_chunk)),
                        np.int64).reshape(chunks, layout.text_chunk)
    flat = flatten(user, assistant, text, layout)
    assert flat.size == chunks * layout.chunk_length
    assert flat.size == 0 or (flat.min() >= 0 and flat.max() < layout.vocab)
    back = unflatten(flat, layout)
    np.testing.assert_array_equal(back.user, user)
    np.testing.assert_array_equal(back.assistant, assistant)
    if streams == 3:
        np.testing.assert_array_equal(back.text, text)
    else:
        assert back.text is None


@st.composite
def spoken_turns(draw, text_vocab: int) -> SpokenTurn:
    role = draw(st.sampled_from(["user", "assistant"]))
    text = np.array(draw(st.lists(st.integers(0, text_vocab - 1), max_size=5)), np.int64)
    count = draw(st.integers(0, 3))
    speech = np.array(draw(st.lists(st.integers(0, 4095), min_size=7 * count,
                                    max_size=7 * count)), np.int64).reshape(count, 7)
    return SpokenTurn(role, text, speech)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), text_vocab=st.integers(1, 40))
def test_four_stream_turns_round_trip_exactly(data, text_vocab):
    layout = FlatLayout(text_vocab, streams=4)
    turns = data.draw(st.lists(spoken_turns(text_vocab), max_size=5))
    back = unflatten_turns(flatten_turns(turns, layout), layout)
    assert [turn.role for turn in back] == [turn.role for turn in turns]
    for got, want in zip(back, turns, strict=True):
        np.testing.assert_array_equal(got.text, want.text)
        np.testing.assert_array_equal(got.speech, want.speech)
        assert got.speech.shape == (len(want.speech), 7)


@pytest.mark.parametrize("call, message", [
    (lambda: flatten(USER, USER[:1], np.zeros((2, 2)), FlatLayout(**TINY)),
     "user has 2 frames and assistant 1"),
    (lambda: flatten(USER, np.full((2, 7), 4096), np.zeros((2, 2)), FlatLayout(**TINY)),
     "assistant frame 0 holds 4096 in layer 0"),
    (lambda: flatten(USER - 2, USER, np.zeros((2, 2)), FlatLayout(**TINY)),
     "user frame 0 holds -2 in layer 0"),
    (lambda: flatten(USER[:, :6], USER[:, :6], None, FlatLayout(**TINY)),
     r"user must have shape \[T, 7\]"),
    (lambda: flatten(USER, USER, np.zeros((1, 2)), FlatLayout(**TINY)),
     r"text must have shape \[2, 2\]"),
    (lambda: flatten(USER, USER, np.full((2, 2), 10), FlatLayout(**TINY)),
     "text of chunk 0, slot 0 is 10"),
    (lambda: flatten(USER, USER, None, FlatLayout(**TINY)), "needs the assistant text"),
    (lambda: flatten(USER, USER, np.zeros((2, 2)), FlatLayout(**TINY, streams=2)),
     "pass text=None"),
    (lambda: flatten(USER, USER, None, FlatLayout(**TINY, streams=4)), "flatten_turns"),
    (lambda: unflatten(np.zeros(17, np.int64), FlatLayout(**TINY)),
     "17 ids are not a whole number of chunks of 16 ids"),
    (lambda: unflatten(np.array([14] * 16), FlatLayout(**TINY)),
     "chunk 0, user speech slot 1: id 14 is not a layer-1 SNAC code"),
    (lambda: unflatten(np.array([*USER_IDS[0], 5, 14, *ASSISTANT_IDS[0]]), FlatLayout(**TINY)),
     "chunk 0, assistant text slot 1: id 14 is neither a text id"),
    (lambda: unflatten(np.array([*USER_IDS[0], 5, 6, 10, *ASSISTANT_IDS[0][1:]]),
                       FlatLayout(**TINY)),
     "chunk 0, assistant speech slot 0: id 10"),
    (lambda: unflatten(np.zeros((2, 16), np.int64), FlatLayout(**TINY)), "one-dimensional"),
    (lambda: unflatten(np.zeros(16, np.int64), FlatLayout(**TINY, streams=4)),
     "unflatten_turns"),
    (lambda: FlatLayout(10, streams=5), "streams must be 4, 3 or 2"),
    (lambda: FlatLayout(10, streams=4).chunk_length, "no chunks"),
])
def test_chunked_layouts_refuse_bad_input_naming_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


FOUR = FlatLayout(**TINY, streams=4)


@pytest.mark.parametrize("call, message", [
    (lambda: flatten_turns([SpokenTurn("system", np.array([1]), USER)], FOUR),
     "turn 0: role must be 'user' or 'assistant'"),
    (lambda: flatten_turns([SpokenTurn("user", np.array([1]), ASSISTANT)], FOUR),
     "turn 0: SILENT speech has no place"),
    (lambda: flatten_turns([SpokenTurn("user", np.array([1, 10]), USER)], FOUR),
     "turn 0 text id 1 is 10"),
    (lambda: flatten_turns([], FlatLayout(**TINY)), "not 3 streams"),
    (lambda: unflatten_turns(np.array([3, 12]), FOUR), "opens with a turn marker, not id 3"),
    (lambda: unflatten_turns(np.array([12, 3, *USER_IDS[0]]), FOUR),
     "turn 0: speech after text; user turns are speech then text"),
    (lambda: unflatten_turns(np.array([12, 13, *USER_IDS[0], 5]), FOUR),
     "turn 1: text after speech; assistant turns are text then speech"),
    (lambda: unflatten_turns(np.array([12, *USER_IDS[0][:6]]), FOUR),
     "turn 0: 6 speech ids are not whole frames of 7"),
    (lambda: unflatten_turns(np.array([12, 3, 11]), FOUR),
     "turn 0, position 2: id 11 is neither text nor speech"),
    (lambda: unflatten_turns(np.array([13, 3, 14, 14, *USER_IDS[0][2:]]), FOUR),
     "turn 0, position 3: id 14 is not a layer-1 SNAC code"),
    (lambda: unflatten_turns(np.array([], np.int64), FlatLayout(**TINY)), "not 3 streams"),
])
def test_turn_by_turn_layout_refuses_bad_input_naming_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_an_empty_four_stream_sequence_has_no_turns():
    assert unflatten_turns(np.zeros(0, np.int64), FOUR) == []
    assert flatten_turns([], FOUR).size == 0


# SyncLLM's interleave: [S0] = 501, [S1] = 502 with the default 501 units.
SYNC = InterleaveLayout()


def test_interleave_writes_each_chunk_tagged_and_deduplicated_within_it():
    model = np.array([7, 7, 7, 9, SILENT, SILENT, SILENT, SILENT, 9, 9, 3, 3])
    user = np.array([1, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4])
    ids = interleave(model, user, SYNC)
    assert ids.tolist() == [501, 7, 9, 502, 1, 2, 3,  # 3 runs on into the next chunk ...
                            501, 502, 3,  # ... and is written again; silence is a bare tag
                            501, 9, 3, 502, 4]
    model_chunks, user_chunks = deinterleave(ids, SYNC)
    assert [c.tolist() for c in model_chunks] == [[7, 9], [], [9, 3]]
    assert [c.tolist() for c in user_chunks] == [[1, 2, 3], [3], [4]]
    assert interpolate(model_chunks, SYNC).tolist() == [7, 7, 9, 9, *[SILENT] * 4, 9, 9, 3, 3]
    assert interpolate(user_chunks, SYNC).tolist() == [1, 1, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4]


def test_interpolation_spreads_repeats_evenly_and_units_after_whole_chunks_are_left_out():
    layout = InterleaveLayout(unit_vocab=10, chunk_units=8)
    assert interpolate([np.array([1, 2, 3])], layout).tolist() == [1, 1, 1, 2, 2, 2, 3, 3]
    assert interleave(np.arange(9) % 10, np.zeros(9), layout).size == 2 + 8 + 1


def test_deduplicate_drops_silence_before_collapsing_repeats():
    assert deduplicate(np.array([5, SILENT, 5, 6, 6, SILENT])).tolist() == [5, 6]


unit_streams = st.integers(1, 5).flatmap(lambda size: st.tuples(
    st.just(InterleaveLayout(unit_vocab=3, chunk_units=size)),  # 3 units: many repeats
    st.integers(0, 4).map(lambda chunks: chunks * size)))


@settings(max_examples=80, deadline=None)
@given(data=st.data(), shape=unit_streams)
def test_interleave_round_trips_to_deduplicated_chunks_and_keeps_what_it_promises(data, shape):
    layout, count = shape
    units = st.lists(st.integers(SILENT, layout.unit_vocab - 1), min_size=count,
                     max_size=count).map(lambda values: np.array(values, np.int64))
    model, user = data.draw(units), data.draw(units)
    ids = interleave(model, user, layout)
    assert ids.size == 0 or (ids.min() >= 0 and ids.max() < layout.vocab)
    for original, chunks in zip((model, user), deinterleave(ids, layout), strict=True):
        pieces = original.reshape(-1, layout.chunk_units)
        assert [c.tolist() for c in chunks] == [deduplicate(p).tolist() for p in pieces]
        restored = interpolate(chunks, layout).reshape(-1, layout.chunk_units)
        assert restored.shape == pieces.shape  # every chunk's length
        for piece, back, chunk in zip(pieces, restored, chunks, strict=True):
            assert deduplicate(back).tolist() == chunk.tolist()  # its distinct units, in order
            assert (back == SILENT).all() == (piece == SILENT).all()
            if chunk.size:  # each unit repeated floor or ceil of chunk_units / units
                starts = np.flatnonzero(np.diff(back, prepend=back[0] - 1))
                runs = np.diff(starts, append=back.size)
                assert runs.size == chunk.size and runs.max() - runs.min() <= 1


@st.composite
def runs_of_one(draw, layout: InterleaveLayout, count: int) -> np.ndarray:
    """Units with no SILENT and no unit repeated back to back within a chunk."""
    values = draw(st.lists(st.integers(0, layout.unit_vocab - 1), min_size=count,
                           max_size=count))
    for k in range(1, count):
        if k % layout.chunk_units and values[k] == values[k - 1]:
            values[k] = (values[k] + 1) % layout.unit_vocab
    return np.array(values, np.int64)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), shape=unit_streams)
def test_units_without_repeats_come_back_identical(data, shape):
    layout, count = shape
    model, user = data.draw(runs_of_one(layout, count)), data.draw(runs_of_one(layout, count))
    chunks = deinterleave(interleave(model, user, layout), layout)
    np.testing.assert_array_equal(interpolate(chunks[0], layout), model)
    np.testing.assert_array_equal(interpolate(chunks[1], layout), user)


@pytest.mark.parametrize("call, message", [
    (lambda: interleave(np.zeros(4), np.zeros(8), SYNC), "model has 4 units and user 8"),
    (lambda: interleave(np.array([0, 501, 0, 0]), np.zeros(4), SYNC),
     "model unit 1 is 501: neither a unit"),
    (lambda: interleave(np.zeros((2, 4)), np.zeros((2, 4)), SYNC), "one-dimensional"),
    (lambda: deinterleave(np.array([7, 501, 502]), SYNC), "opens with \\[S0\\], not id 7"),
    (lambda: deinterleave(np.array([501, 1, 501, 2]), SYNC),
     "position 2: time step 0 needs \\[S1\\] here"),
    (lambda: deinterleave(np.array([501, 502, 502]), SYNC),
     "position 2: time step 1 needs \\[S0\\] here"),
    (lambda: deinterleave(np.array([501, 502, 501, 4]), SYNC),
     "ends inside time step 1"),
    (lambda: deinterleave(np.array([501, 1, 2, 3, 4, 5, 502]), SYNC),
     "time step 0, \\[S0\\] chunk has 5 units, more than a chunk's 4"),
    (lambda: deinterleave(np.array([501, 502, 4, 4]), SYNC),
     "time step 0, \\[S1\\] chunk repeats a unit back to back"),
    (lambda: deinterleave(np.array([501, 503, 502]), SYNC), "position 1: id 503"),
    (lambda: interpolate([np.arange(5)], SYNC), "chunk 0 has 5 units: more than the 4"),
    (lambda: interpolate([np.array([1]), np.array([SILENT])], SYNC), "chunk 1 holds SILENT"),
    (lambda: interpolate([np.array([501])], SYNC), "chunk 0 unit 0 is 501"),
    (lambda: InterleaveLayout(chunk_units=0), "must be positive"),
])
def test_interleave_refuses_bad_input_naming_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
