"""Decode any audio file to float32 mono at a chosen rate, and write WAV files.

soundfile (libsndfile) handles WAV/FLAC/OGG directly; everything else (MP3, M4A, WebM...)
goes through PyAV's bundled FFmpeg. Length is bounded before the whole file is read.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from omnitalk.audio.resample import resample

DEFAULT_MAX_SECONDS = 600.0


class AudioDecodeError(ValueError):
    """The input could not be turned into audio; the message names the file and the reason."""


def load_audio(
    source: str | Path | bytes,
    sample_rate: int = 16000,
    max_seconds: float = DEFAULT_MAX_SECONDS,
) -> np.ndarray:
    """Decode `source` (a path or the file's bytes) to float32 mono in [-1, 1] at `sample_rate`.

    Raises AudioDecodeError for a missing, empty, corrupt or over-long input.
    """
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise AudioDecodeError(f"{name}: no such file")
        data = path.read_bytes() if path.stat().st_size == 0 else None
    if data is not None and len(data) == 0:
        raise AudioDecodeError(f"{name}: the file is empty (0 bytes)")

    opened = io.BytesIO(data) if data is not None else str(source)
    try:
        audio, rate = _read_soundfile(opened, name, max_seconds)
    except _NotSoundfile:
        opened = io.BytesIO(data) if data is not None else str(source)
        audio, rate = _read_with_ffmpeg(opened, name, max_seconds)
    if audio.size == 0:
        raise AudioDecodeError(f"{name}: the file holds no audio samples")
    if not np.all(np.isfinite(audio)):
        raise AudioDecodeError(f"{name}: the audio holds NaN or infinite samples")
    return np.clip(resample(audio, rate, sample_rate), -1.0, 1.0)


class _NotSoundfile(Exception):
    pass


def _too_long(name: str, seconds: float, max_seconds: float) -> AudioDecodeError:
    return AudioDecodeError(
        f"{name}: {seconds:.1f} s of audio is over the limit of {max_seconds:g} s "
        "(raise max_seconds to accept it)"
    )


def _read_soundfile(source, name: str, max_seconds: float) -> tuple[np.ndarray, int]:
    try:
        info = sf.info(source)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        raise _NotSoundfile from None
    if hasattr(source, "seek"):
        source.seek(0)
    if info.samplerate <= 0:
        raise AudioDecodeError(f"{name}: invalid sample rate {info.samplerate}")
    if info.frames > max_seconds * info.samplerate:
        raise _too_long(name, info.frames / info.samplerate, max_seconds)
    try:
        audio, rate = sf.read(source, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioDecodeError(f"{name}: corrupt audio ({error})") from None
    return audio.mean(axis=1), rate


def _read_with_ffmpeg(source, name: str, max_seconds: float) -> tuple[np.ndarray, int]:
    try:
        container = av.open(source, mode="r")
    except (av.error.FFmpegError, ValueError, OSError) as error:
        raise AudioDecodeError(f"{name}: not a readable audio file ({error})") from None
    with container:
        if not container.streams.audio:
            raise AudioDecodeError(f"{name}: the file has no audio stream")
        stream = container.streams.audio[0]
        rate = stream.rate or stream.codec_context.sample_rate
        if not rate:
            raise AudioDecodeError(f"{name}: the audio stream has no sample rate")
        # Decode to planar float mono at the stream's own rate; soxr resamples afterwards.
        to_mono = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        limit = int(max_seconds * rate)
        pieces: list[np.ndarray] = []
        total = 0
        try:
            for frame in container.decode(stream):
                for mono in to_mono.resample(frame):
                    piece = mono.to_ndarray()[0]
                    pieces.append(piece)
                    total += piece.size
                if total > limit:
                    raise _too_long(name, total / rate, max_seconds)
        except av.error.FFmpegError as error:
            if total == 0:
                raise AudioDecodeError(f"{name}: corrupt audio ({error})") from None
            # A damaged tail after good audio: keep what decoded.
    audio = np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, np.float32)
    return audio, rate


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write float32 mono audio as 16-bit PCM WAV (clipped, never wrapped)."""
    pcm = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    sf.write(str(path), pcm, sample_rate, subtype="PCM_16")
