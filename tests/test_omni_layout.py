"""Mini-Omni's token layout against the tables of ../shared/specs/mini-omni.md (1.2-4.4)."""

from __future__ import annotations

import numpy as np
import pytest

from omnitalk.omni import layout as lo


def test_vocabulary_layout_matches_the_released_checkpoint():
    assert lo.MINI_OMNI.size == 181_120
    assert [lo.MINI_OMNI.audio_id(0, layer) for layer in range(7)] == [
        152000, 156160, 160320, 164480, 168640, 172800, 176960,
    ]
    v = lo.MINI_OMNI
    assert (v.eot, v.pad_t, v.input_t, v.answer_t, v.asr) == (
        151936, 151937, 151938, 151939, 151940,
    )
    assert (lo.EOA, lo.PAD_A, lo.INPUT_A, lo.ANSWER_A, lo.SPLIT, lo.IMAGE, lo.EOIMAGE) == tuple(
        range(4096, 4103)
    )
    assert lo.MINI_OMNI.audio_id(lo.EOA, 0) == 156096
    assert lo.MINI_OMNI.audio_local(lo.MINI_OMNI.audio_id(1234, 5), 5) == 1234


def rows(prompt: lo.Prompt) -> tuple[list[list[int]], list[int]]:
    """The audio rows as local ids and the text row, for comparing with the spec's tables."""
    audio = [list(lo.MINI_OMNI.audio_local(prompt.ids[layer], layer)) for layer in range(7)]
    return audio, list(prompt.ids[lo.TEXT_STREAM])


F = 5
SPEECH_TEXT_ROW = [lo.MINI_OMNI.input_t, *[lo.MINI_OMNI.pad_t] * F, lo.MINI_OMNI.eot]


@pytest.mark.parametrize(("task", "last_audio", "last_text"), [
    (lo.Task.A1A2, lo.ANSWER_A, lo.MINI_OMNI.answer_t),
    (lo.Task.A1T2, lo.PAD_A, lo.MINI_OMNI.answer_t),
    (lo.Task.ASR, lo.PAD_A, lo.MINI_OMNI.asr),
])
def test_speech_prompts_follow_the_table_and_put_features_at_1_to_f(task, last_audio, last_text):
    prompt = lo.speech_prompt(task, F)
    audio, text = rows(prompt)
    assert prompt.length == F + 3
    for layer_row in audio:
        assert layer_row == [lo.INPUT_A, *[lo.PAD_A] * F, lo.EOA, last_audio]
    assert text == [*SPEECH_TEXT_ROW, last_text]
    assert prompt.audio_positions == slice(1, F + 1)
    assert prompt.image_positions is None


@pytest.mark.parametrize(("task", "last_audio"), [(lo.Task.T1A2, lo.ANSWER_A),
                                                  (lo.Task.T1T2, lo.PAD_A)])
def test_text_prompts_follow_the_table(task, last_audio):
    tokens = [9707, 11, 1879]
    prompt = lo.text_prompt(task, tokens)
    audio, text = rows(prompt)
    assert prompt.length == len(tokens) + 3
    for layer_row in audio:
        assert layer_row == [*[lo.PAD_A] * (len(tokens) + 2), last_audio]
    assert text == [lo.MINI_OMNI.input_t, *tokens, lo.MINI_OMNI.eot, lo.MINI_OMNI.answer_t]
    assert prompt.audio_positions is None


def test_batch_prompt_pairs_a_speech_answer_with_a_text_answer():
    speech, text_only = lo.batch_speech_prompt(F)
    assert rows(speech)[0][0][-1] == lo.ANSWER_A and rows(text_only)[0][0][-1] == lo.PAD_A
    assert rows(speech)[1] == rows(text_only)[1] == [*SPEECH_TEXT_ROW, lo.MINI_OMNI.answer_t]


def test_mini_omni2_image_prompt_keeps_the_one_position_whisper_offset():
    speech, text_only = lo.image_speech_batch_prompt(F)
    for prompt, last_audio in ((speech, lo.ANSWER_A), (text_only, lo.PAD_A)):
        audio, text = rows(prompt)
        assert prompt.length == F + 55
        assert audio[3] == [lo.IMAGE, *[lo.PAD_A] * 50, lo.EOIMAGE, lo.INPUT_A,
                            *[lo.PAD_A] * F, lo.EOA, last_audio]
        assert text == [*[lo.MINI_OMNI.pad_t] * (F + 54), lo.MINI_OMNI.answer_t]
        assert prompt.image_positions == slice(1, 51)
        # Whisper frames start on input_a (52) and the last pad (52 + F) keeps its embedding.
        assert prompt.audio_positions == slice(52, 52 + F)
        assert audio[0][52] == lo.INPUT_A and audio[0][52 + F] == lo.PAD_A


def test_bad_prompt_requests_are_refused():
    with pytest.raises(ValueError, match="does not take speech"):
        lo.speech_prompt(lo.Task.T1T2, F)
    with pytest.raises(ValueError, match="frames"):
        lo.speech_prompt(lo.Task.A1A2, 0)
    with pytest.raises(ValueError, match="text token"):
        lo.text_prompt(lo.Task.T1T2, [lo.MINI_OMNI.eot])


def test_whisper_frame_count_is_the_reference_leng_capped_at_30_seconds():
    assert lo.whisper_frames(16000) == 51  # 1 s: 50 frames of 20 ms, plus one
    assert lo.whisper_frames(8000) == 26
    assert lo.whisper_frames(16000 * 60) == 1500


def test_delay_pattern_text_leads_and_layer_l_lags_by_l_plus_1():
    assert [lo.audio_delay(layer) for layer in range(7)] == [1, 2, 3, 4, 5, 6, 7]
    assert lo.FRAME_DELAY == 7
    assert [lo.frame_at_step(0, s) for s in range(3)] == [None, 0, 1]
    assert lo.frame_at_step(6, 6) is None and lo.frame_at_step(6, 7) == 0
    # Simulate generation: at step s, layer L emits frame s-L-1 (or pad before it starts).
    frames = np.arange(4 * 7).reshape(4, 7) % 4096
    steps = 4 + 7  # the last frame of layer 6 is emitted at step 3 + 6 + 1 = 10
    streams = [[lo.PAD_A if lo.frame_at_step(layer, s) is None or lo.frame_at_step(layer, s) >= 4
                else int(frames[lo.frame_at_step(layer, s), layer]) for s in range(steps)]
               for layer in range(7)]
    np.testing.assert_array_equal(lo.frames_from_streams(streams), frames)


def test_another_backbone_moves_the_specials_and_audio_blocks():
    smol = lo.Vocab(49_152)  # SmolLM2's vocabulary
    assert (smol.eot, smol.asr, smol.audio_base, smol.size) == (49152, 49156, 49216, 78336)
    prompt = lo.speech_prompt(lo.Task.ASR, 2, smol)
    assert list(prompt.ids[lo.TEXT_STREAM]) == [smol.input_t, smol.pad_t, smol.pad_t, smol.eot,
                                                smol.asr]
    assert prompt.ids[6, 0] == smol.audio_id(lo.INPUT_A, 6) == 49216 + 6 * 4160 + 4098
    with pytest.raises(ValueError, match="below 49152"):
        lo.text_prompt(lo.Task.T1T2, [49152], smol)
