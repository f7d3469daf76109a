"""Whisper through faster-whisper (CTranslate2); the packaged tiny.en by default.

faster-whisper pads every piece of audio to Whisper's 30 s window before encoding it. A turn
is usually a few seconds, so audio under 29.5 s is encoded in the shortest window that holds it
with half a second to spare, and at least `window_s` long (CTranslate2 takes any length up to
30 s); it is decoded as faster-whisper decodes at temperature 0: the same prompt, suppressed
tokens and no-speech rule. On the project's machine the encoder of a 3 s clip went from 292 ms
to 71 ms, and `bench asr` from 500-650 ms to 170-270 ms per short clip at the same WER.
"""

from __future__ import annotations

import numpy as np

from omnitalk.engines.base import ASRConfig, EngineError
from omnitalk.engines.packaged import whisper_tiny_en_path

WHISPER_WINDOW_S = 30.0
# Tokens a second of speech may take: fast English is about 4 words, 6 tokens, a second.
MAX_TOKENS_PER_S = 10


class FasterWhisperASR:
    sample_rate = 16000

    def __init__(self, config: ASRConfig | None = None) -> None:
        from faster_whisper import WhisperModel

        self.config = config or ASRConfig()
        path = self.config.model or str(whisper_tiny_en_path())
        try:
            self._model = WhisperModel(
                path,
                device="cpu",
                compute_type=self.config.compute_type,
                cpu_threads=self.config.threads,
                # Two workers: a session's final pass must not wait for a running partial.
                num_workers=2,
            )
        except (RuntimeError, ValueError, OSError) as error:
            raise EngineError(f"cannot load Whisper model from {path}: {error}") from None

    def transcribe(self, audio: np.ndarray, prefix: str = "", context: str = "") -> str:
        if audio.size == 0:
            return ""
        audio = np.asarray(audio, dtype=np.float32)
        seconds = audio.size / self.sample_rate
        if seconds < WHISPER_WINDOW_S - 0.5:
            window_s = min(WHISPER_WINDOW_S, max(self.config.window_s, np.ceil(seconds + 0.5)))
            return self._transcribe_in_short_window(audio, prefix, context, window_s)
        segments, _ = self._model.transcribe(
            np.asarray(audio, dtype=np.float32),
            language=self.config.language or None,
            beam_size=self.config.beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            prefix=prefix or None,
            initial_prompt=context or None,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()

    def _transcribe_in_short_window(self, audio: np.ndarray, prefix: str, context: str,
                                    window_s: float) -> str:
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        model = self._model
        features = model.feature_extractor(audio)[:, :-1]  # its last frame is padding
        window = pad_or_trim(features, round(window_s * 100))  # 100 frames a second
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                              task="transcribe", language=self.config.language or "en")
        # The words said before this audio, as faster-whisper passes an initial prompt.
        previous = tokenizer.encode(" " + context.strip()) if context.strip() else []
        prompt = model.get_prompt(tokenizer, previous, without_timestamps=True,
                                  prefix=prefix or None)
        # Room for fast speech, not for a decoding loop's hundreds of tokens (see below).
        budget = len(prompt) + round(MAX_TOKENS_PER_S * audio.size / self.sample_rate) + 10
        result = model.model.generate(
            model.encode(window), [prompt], beam_size=self.config.beam_size,
            max_length=min(model.max_length, budget), return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        )[0]
        tokens = result.sequences_ids[0]
        average_log_prob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        # faster-whisper's defaults: silence that the model would rather not transcribe.
        if result.no_speech_prob > 0.6 and average_log_prob < -1.0:
            return ""
        return without_repetition_loops(tokenizer.decode(tokens).strip())


def without_repetition_loops(text: str, repeats: int = 3, looped_words: int = 9,
                             sentence_words: int = 6) -> str:
    """Greedy Whisper's failure mode: audio that stops just after a phrase can send decoding
    round it again and again ("I'm Abigail Claflin. I'm Abigail Claflin. I'm Abigail ...",
    said once), sometimes up to the token limit. Every run of `repeats` or more copies of a
    phrase, `looped_words` words or more in all, or of two copies of a phrase of
    `sentence_words` or more, is cut to its first copy, with any copy the limit cut short
    after it ("yes yes yes" and "I said that I said that" stay). faster-whisper's own remedy,
    re-decoding at a higher temperature, would make transcripts random; forbidding repeated
    n-grams was tried, and the decoder only varied the loop ("reader", "readers")."""
    words = text.split()
    plain = [w.strip(".,!?").lower() for w in words]
    kept, start = [], 0
    while start < len(words):
        loop = None
        for size in range(1, (len(words) - start) // 2 + 1):
            unit = plain[start:start + size]
            copies = 1
            while plain[start + copies * size:start + (copies + 1) * size] == unit:
                copies += 1
            if (copies >= repeats and copies * size >= looped_words) or (
                    copies >= 2 and size >= sentence_words):
                loop = (size, copies)
                break
        if loop is None:
            kept.append(words[start])
            start += 1
            continue
        size, copies = loop
        kept += words[start:start + size]
        start += copies * size
        rest = plain[start:start + size]  # a last copy cut short by the token limit
        if rest and start + len(rest) == len(words) and rest[:-1] == unit[:len(rest) - 1] \
                and unit[len(rest) - 1].startswith(rest[-1]):
            start = len(words)
    return " ".join(kept)
