"""The Mini-Omni token layout: one vocabulary for 8 parallel streams, and prompts per task.

Streams 0-6 are the 7 SNAC audio layers (ids shifted into their own 4160-wide block) and stream 7
is text. Each task's prompt is 8 rows of equal length; the last prompt token of the audio rows
(answer_a or pad_a) and of the text row (answer_t or asr) selects what the model does. The
numbers follow the released checkpoints (../shared/specs/mini-omni.md sections 1.2, 2 and 4.4).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from omnitalk.codec.snac_frames import CODES_PER_FRAME, SNAC_CODES

AUDIO_STRIDE = 4_160  # each audio layer: 4096 SNAC codes + 64 audio special slots
AUDIO_LAYERS = CODES_PER_FRAME  # one stream per code of a SNAC frame
STREAMS = AUDIO_LAYERS + 1
TEXT_STREAM = AUDIO_LAYERS
TEXT_SPECIALS = 64  # text special slots after the backbone's own vocabulary

# Audio-stream special tokens (local ids within a layer; shift with `Vocab.audio_id`).
EOA, PAD_A, INPUT_A, ANSWER_A, SPLIT, IMAGE, EOIMAGE = range(SNAC_CODES, SNAC_CODES + 7)

CLIP_FEATURES = 50  # CLIP ViT-B/32 patch vectors per image (Mini-Omni2)
MAX_WHISPER_FRAMES = 1500  # 30 s of Whisper encoder output


@dataclass(frozen=True)
class Vocab:
    """Where each stream's ids live in a talker's one embedding table.

    The backbone's own (padded) text vocabulary comes first, then 64 text special slots, then
    the seven 4160-wide audio layers. Mini-Omni's Qwen2 vocabulary is 151,936 wide, which puts
    the audio at 152,000 and makes the table 181,120 rows; another backbone moves them.
    """

    text: int = 151_936

    def __post_init__(self) -> None:
        if self.text < 1:
            raise ValueError(f"a text vocabulary needs at least one id, got {self.text}")

    # Text-stream special tokens (global ids).
    @property
    def eot(self) -> int:
        return self.text

    @property
    def pad_t(self) -> int:
        return self.text + 1

    @property
    def input_t(self) -> int:
        return self.text + 2

    @property
    def answer_t(self) -> int:
        return self.text + 3

    @property
    def asr(self) -> int:
        return self.text + 4

    @property
    def audio_base(self) -> int:
        return self.text + TEXT_SPECIALS

    @property
    def size(self) -> int:
        return self.audio_base + AUDIO_LAYERS * AUDIO_STRIDE

    def audio_id(self, local: int | np.ndarray, layer: int) -> int | np.ndarray:
        """A layer's local id (SNAC code or audio special) to its global id."""
        return local + self.audio_base + AUDIO_STRIDE * layer

    def audio_local(self, global_id: int | np.ndarray, layer: int) -> int | np.ndarray:
        return global_id - self.audio_base - AUDIO_STRIDE * layer


MINI_OMNI = Vocab()


def whisper_frames(samples_16k: int) -> int:
    """How many Whisper frames a clip gives (the reference's `leng`, from the unpadded audio)."""
    return min(int(samples_16k / 16000 * 1000 / 20) + 1, MAX_WHISPER_FRAMES)


class Task(enum.Enum):
    A1A2 = "A1A2"  # speech in, speech + text out
    A1T2 = "A1T2"  # speech in, text out ("AT")
    ASR = "ASR"  # speech in, its transcript out
    T1A2 = "T1A2"  # text in, speech + text out
    T1T2 = "T1T2"  # text in, text out


@dataclass(frozen=True)
class Prompt:
    """8 rows of global ids (streams 0-6 audio, 7 text) and where features overwrite them."""

    ids: np.ndarray  # int64 [8, P]
    audio_positions: slice | None = None  # Whisper features go here, in the audio rows only
    image_positions: slice | None = None  # CLIP features (Mini-Omni2)

    @property
    def length(self) -> int:
        return self.ids.shape[1]


def _rows(audio: list[int], text: list[int], vocab: Vocab) -> np.ndarray:
    if len(audio) != len(text):
        raise ValueError("every stream of a prompt must have the same length")
    ids = np.empty((STREAMS, len(text)), dtype=np.int64)
    for layer in range(AUDIO_LAYERS):
        ids[layer] = vocab.audio_id(np.asarray(audio, dtype=np.int64), layer)
    ids[TEXT_STREAM] = text
    return ids


def _check_frames(frames: int) -> None:
    if not 0 < frames <= MAX_WHISPER_FRAMES:
        raise ValueError(f"a speech prompt needs 1 to {MAX_WHISPER_FRAMES} frames, got {frames}")


def speech_prompt(task: Task, frames: int, vocab: Vocab = MINI_OMNI) -> Prompt:
    """A1->A2, A1->T2 or ASR over `frames` Whisper frames: features at positions 1..frames."""
    if task not in (Task.A1A2, Task.A1T2, Task.ASR):
        raise ValueError(f"{task.value} does not take speech; use text_prompt")
    _check_frames(frames)
    last_audio = ANSWER_A if task is Task.A1A2 else PAD_A
    last_text = vocab.asr if task is Task.ASR else vocab.answer_t
    audio = [INPUT_A, *[PAD_A] * frames, EOA, last_audio]
    text = [vocab.input_t, *[vocab.pad_t] * frames, vocab.eot, last_text]
    return Prompt(_rows(audio, text, vocab), audio_positions=slice(1, 1 + frames))


def text_prompt(task: Task, tokens: list[int], vocab: Vocab = MINI_OMNI) -> Prompt:
    """T1->A2 or T1->T2 over the backbone's token ids (no BOS, no chat template)."""
    if task not in (Task.T1A2, Task.T1T2):
        raise ValueError(f"{task.value} takes speech; use speech_prompt")
    if not tokens or not all(0 <= t < vocab.text for t in tokens):
        raise ValueError(f"text prompts need at least one text token id below {vocab.text}")
    audio = [*[PAD_A] * (len(tokens) + 2), ANSWER_A if task is Task.T1A2 else PAD_A]
    text = [vocab.input_t, *tokens, vocab.eot, vocab.answer_t]
    return Prompt(_rows(audio, text, vocab))


def batch_speech_prompt(frames: int, vocab: Vocab = MINI_OMNI) -> tuple[Prompt, Prompt]:
    """The batch-parallel pair: sample 0 answers in speech, sample 1 in text (its text is used)."""
    return speech_prompt(Task.A1A2, frames, vocab), speech_prompt(Task.A1T2, frames, vocab)


def image_speech_batch_prompt(frames: int, vocab: Vocab = MINI_OMNI) -> tuple[Prompt, Prompt]:
    """Mini-Omni2 image + speech question; sample 0 answers in speech, sample 1 in text.

    The Whisper features start at the input_a position (52), one position earlier than the pad
    run, as in the released code: the checkpoint was used with this layout.
    """
    _check_frames(frames)
    prompts = []
    for last_audio in (ANSWER_A, PAD_A):
        audio = [IMAGE, *[PAD_A] * CLIP_FEATURES, EOIMAGE, INPUT_A, *[PAD_A] * frames, EOA,
                 last_audio]
        text = [*[vocab.pad_t] * (frames + CLIP_FEATURES + 4), vocab.answer_t]
        start = CLIP_FEATURES + 2
        prompts.append(Prompt(_rows(audio, text, vocab),
                              audio_positions=slice(start, start + frames),
                              image_positions=slice(1, 1 + CLIP_FEATURES)))
    return prompts[0], prompts[1]


# ------------------------------------------------------------------- the delay pattern


def audio_delay(layer: int) -> int:
    """The delay rule: audio layer `layer` carries SNAC frame k at generation step
    k + audio_delay(layer), while the text emits its token s at step s."""
    return layer + 1


# Frame k is whole at step k + FRAME_DELAY, when the last audio layer carries it.
FRAME_DELAY = audio_delay(AUDIO_LAYERS - 1)


def frame_at_step(layer: int, step: int) -> int | None:
    """Which SNAC frame audio layer `layer` emits at generation step `step` (None: not yet)."""
    frame = step - audio_delay(layer)
    return frame if frame >= 0 else None


def frames_from_streams(layers: list[list[int]]) -> np.ndarray:
    """Per-layer local ids as generated (delay included) to complete 7-token frames [n, 7].

    Drops each layer's first tokens, emitted before it started, and keeps only frames that
    every layer has reached.
    """
    if len(layers) != AUDIO_LAYERS:
        raise ValueError(f"expected {AUDIO_LAYERS} audio layers, got {len(layers)}")
    aligned = [tokens[audio_delay(layer):] for layer, tokens in enumerate(layers)]
    count = min(len(tokens) for tokens in aligned)
    return np.array([tokens[:count] for tokens in aligned],
                    dtype=np.int64).reshape(AUDIO_LAYERS, count).T
