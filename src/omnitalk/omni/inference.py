"""Answer with an end-to-end talker: speech (or text) in, streamed text and audio out.

`OmniInference` holds the loaded parts (talker, tokenizer, Whisper encoder, the speech codec:
SNAC or the voice codec built here, optionally CLIP) and turns one question into a stream of
typed events (sessions asking at once share each decode step: `omni.batching.TalkerBatch`):
`TextDelta` as soon as each text token decodes, `AudioChunk` as soon as the codec has decoded
the next chunk of frames, then one `AnswerDone`. Nothing is dropped at the end: the frames
after the last full chunk are decoded by `flush()`. Frames that hold a special token (>= 4096)
never reach the codec; they are counted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from omnitalk.codec.snac import SnacSpeech, load_snac
from omnitalk.codec.snac_frames import SNAC_CODES
from omnitalk.omni import layout as lo
from omnitalk.omni.batching import TalkerBatch
from omnitalk.omni.checkpoint import CheckpointError, load_checkpoint
from omnitalk.omni.decoding import (
    BATCH_PARALLEL,
    SPEECH,
    TEXT_ONLY,
    FrameAssembler,
    Plan,
)
from omnitalk.omni.quantize import INT8_KERNELS, PRECISIONS, fast_codec_dtype, set_precision
from omnitalk.omni.settings import OmniSettings
from omnitalk.omni.whisper import CTranslate2WhisperFeatures, WhisperFeatures

CODECS = ("snac", "voice")


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class AudioChunk:
    audio: np.ndarray = field(repr=False)  # float32 mono in [-1, 1]
    sample_rate: int


@dataclass(frozen=True)
class AnswerDone:
    text: str
    steps: int  # decoding steps after the prefill
    frames: np.ndarray = field(repr=False)  # [n, 7] the SNAC frames spoken (85.3 ms each)
    dropped_frames: int  # frames holding a special token, not decoded
    seconds: dict[str, float]  # "encode", "first_text", "first_audio" (from the start), "decode"


OmniEvent = TextDelta | AudioChunk | AnswerDone


class IncrementalText:
    """Token ids -> text deltas; a delta waits while it ends in half a UTF-8 character."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.text = ""

    def push(self, token: int) -> str:
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids)
        if text.endswith("\ufffd") or not text.startswith(self.text):
            return ""
        delta, self.text = text[len(self.text):], text
        return delta

    def whole(self) -> str:
        """All of the text, a trailing half character included."""
        return self.tokenizer.decode(self.ids) if self.ids else ""


class OmniInference:
    def __init__(self, model, tokenizer, whisper, speech,
                 settings: OmniSettings, clip=None) -> None:
        """`speech`: `SnacSpeech` or `VoiceSpeech` (None: the talker only writes text)."""
        self.model = model
        self.tokenizer = tokenizer
        self.whisper = whisper
        self.speech = speech
        self.clip = clip
        self.settings = settings
        self.batch = TalkerBatch(model)

    @classmethod
    def load(cls, settings: OmniSettings) -> OmniInference:
        if settings.precision not in PRECISIONS:
            raise CheckpointError(f"precision must be one of {', '.join(PRECISIONS)}")
        if settings.int8_kernel not in INT8_KERNELS:
            raise CheckpointError(f"int8_kernel must be one of {', '.join(INT8_KERNELS)}")
        if settings.codec not in CODECS:
            raise CheckpointError(f"codec must be one of {', '.join(CODECS)}, "
                                  f"got {settings.codec!r}")
        torch.set_num_threads(settings.threads)
        paths = settings.paths
        if not paths.checkpoint:
            raise CheckpointError("no checkpoint folder given (--checkpoint DIR)")
        folder = Path(paths.checkpoint)
        # Loading in bf16 straight away halves the peak memory of the reduced precisions.
        encoder_dtype = torch.float32 if settings.precision == "fp32" else torch.bfloat16
        checkpoint = load_checkpoint(folder, encoder_dtype)
        model = set_precision(checkpoint.model, settings.precision, settings.int8_kernel)
        encoder = model.config.audio_encoder
        if encoder.startswith("ctranslate2:") and not paths.whisper:
            whisper = CTranslate2WhisperFeatures(encoder.removeprefix("ctranslate2:"),
                                                 threads=settings.threads)
        else:
            whisper = WhisperFeatures.load(_find(paths.whisper, folder, ("small.pt", "whisper"),
                                                 "a Whisper encoder (OpenAI small.pt or a "
                                                 "transformers Whisper folder): --whisper PATH"),
                                           encoder_dtype)
        if whisper.width != model.config.whisper_adapter_dim:
            raise CheckpointError(f"the Whisper encoder is {whisper.width} wide but the talker's "
                                  f"adapter takes {model.config.whisper_adapter_dim}: wrong size?")
        speech = _load_speech(settings, folder)
        clip = None
        clip_path = Path(paths.clip) if paths.clip else folder / "ViT-B-32.pt"
        if model.vision_adapter is not None and clip_path.is_file():
            from omnitalk.omni.vision import ClipFeatures

            clip = ClipFeatures.load(clip_path, encoder_dtype)
        return cls(model, checkpoint.tokenizer, whisper, speech, settings, clip)

    @property
    def vocab(self) -> lo.Vocab:
        return self.model.config.vocab

    def encode_text(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids

    # ----------------------------------------------------------------------- the tasks

    def answer(self, audio: np.ndarray, image=None, speak: bool = True,
               cancel: threading.Event | None = None) -> Iterator[OmniEvent]:
        """A spoken question (16 kHz mono) -> text and, with `speak`, audio.

        With an image (Mini-Omni2), the image-and-speech layout is used.
        """
        start = time.perf_counter()
        features = self.whisper(audio)[None]
        frames = features.shape[1]
        if image is not None:
            if self.clip is None:
                raise CheckpointError("this model has no CLIP encoder loaded (Mini-Omni2 with "
                                      "ViT-B-32.pt) to look at images")
            speech_prompt, text_prompt = lo.image_speech_batch_prompt(frames, self.vocab)
            image_features = self.clip(image)[None]
        else:
            speech_prompt, text_prompt = lo.batch_speech_prompt(frames, self.vocab)
            image_features = None
        if not speak:
            prompts, plan = [text_prompt], TEXT_ONLY
        elif self.settings.batch_parallel:
            prompts, plan = [speech_prompt, text_prompt], BATCH_PARALLEL
        else:
            prompts, plan = [speech_prompt], SPEECH
        rows = len(prompts)
        inputs = {"audio_features": features.expand(rows, -1, -1),
                  "audio_positions": speech_prompt.audio_positions}
        if image_features is not None:
            inputs |= {"image_features": image_features.expand(rows, -1, -1),
                       "image_positions": speech_prompt.image_positions}
        encoded = time.perf_counter() - start
        yield from self._run(prompts, plan, inputs, cancel, start, {"encode": encoded})

    def answer_text(self, text: str, speak: bool = True,
                    cancel: threading.Event | None = None) -> Iterator[OmniEvent]:
        """A written question -> text and, with `speak`, audio (T1->A2 or T1->T2)."""
        task = lo.Task.T1A2 if speak else lo.Task.T1T2
        prompt = lo.text_prompt(task, self.encode_text(text), self.vocab)
        yield from self._run([prompt], SPEECH if speak else TEXT_ONLY, {}, cancel,
                             time.perf_counter(), {})

    def transcribe(self, audio: np.ndarray) -> str:
        """The model's own ASR task."""
        features = self.whisper(audio)[None]
        prompt = lo.speech_prompt(lo.Task.ASR, features.shape[1], self.vocab)
        inputs = {"audio_features": features, "audio_positions": prompt.audio_positions}
        text = ""
        for event in self._run([prompt], TEXT_ONLY, inputs, None, time.perf_counter(), {}):
            if isinstance(event, AnswerDone):
                text = event.text
        return text

    # ------------------------------------------------------------------------- streaming

    def _run(self, prompts, plan: Plan, inputs: dict, cancel, start: float,
             seconds: dict[str, float]) -> Iterator[OmniEvent]:
        settings = self.settings
        text = IncrementalText(self.tokenizer)
        frames = FrameAssembler()
        speech = None
        if plan.speaks:
            if self.speech is None:
                raise CheckpointError("speaking needs a codec (SNAC: --snac DIR)")
            speech = self.speech.streaming(settings.chunk_frames,
                                          settings.context_frames, settings.lookahead_frames)
        spoken: list[np.ndarray] = []
        dropped = steps = 0
        decode_start = time.perf_counter()
        for step in self.batch.decode(prompts, plan, settings.decoding, inputs, cancel):
            steps += 1
            if step.text is not None and step.text != self.model.config.vocab.eot:
                if "first_text" not in seconds:
                    seconds["first_text"] = time.perf_counter() - start
                delta = text.push(step.text)
                if delta:
                    yield TextDelta(delta)
            if speech is None:
                continue
            frame = frames.push(step.audio)
            if frame is None:
                continue
            if (frame >= SNAC_CODES).any():
                dropped += 1
                continue
            spoken.append(frame)
            chunk = speech.push(frame)
            if chunk is not None:
                seconds.setdefault("first_audio", time.perf_counter() - start)
                yield AudioChunk(chunk, speech.sample_rate)
        if speech is not None and not (cancel is not None and cancel.is_set()):
            tail = speech.flush()
            if tail is not None:
                seconds.setdefault("first_audio", time.perf_counter() - start)
                yield AudioChunk(tail, speech.sample_rate)
        seconds["decode"] = time.perf_counter() - decode_start
        frames_out = np.stack(spoken) if spoken else np.zeros((0, 7), np.int64)
        yield AnswerDone(text.whole(), steps, frames_out, dropped, seconds)


def _load_speech(settings: OmniSettings, folder: Path):
    if settings.codec == "voice":
        from omnitalk.codec.voice_codec import VoiceSpeech

        return VoiceSpeech.load(settings.paths.voice_codec, settings.paths.voice)
    snac = load_snac(_find(settings.paths.snac, folder, ("snac",),
                           "the SNAC 24 kHz codec folder (config.json + pytorch_model.bin): "
                           "--snac DIR"),
                     torch.float32 if settings.precision == "fp32" else fast_codec_dtype())
    return SnacSpeech(snac)


def _find(given: str, folder: Path, candidates: tuple[str, ...], what: str) -> Path:
    if given:
        return Path(given)
    for name in candidates:
        if (folder / name).exists():
            return folder / name
    raise CheckpointError(f"{folder}: no {' or '.join(candidates)} found; give {what}")
