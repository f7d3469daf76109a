"""Audio in and out: decode any file to float32 mono, resample, frame. Nothing model-specific."""

from omnitalk.audio.frames import FrameChunker
from omnitalk.audio.io import AudioDecodeError, load_audio, write_wav
from omnitalk.audio.pcm import float_to_pcm16, pcm16_to_float
from omnitalk.audio.resample import StreamResampler, resample

__all__ = [
    "AudioDecodeError",
    "FrameChunker",
    "float_to_pcm16",
    "pcm16_to_float",
    "StreamResampler",
    "load_audio",
    "resample",
    "write_wav",
]
