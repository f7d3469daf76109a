"""Audio in and out: decoding files to 16 kHz mono, clear errors, resampling and framing."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from omnitalk.audio import (
    AudioDecodeError,
    FrameChunker,
    StreamResampler,
    load_audio,
    resample,
    write_wav,
)
from omnitalk.audio import io as audio_io

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "speech"
MP3 = FIXTURES / "common_voice_en_651325.mp3"  # 2.38 s, 48 kHz mono


def sine(seconds: float, rate: int, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(spectrum)])


def write_m4a(path: Path, audio: np.ndarray, rate: int) -> None:
    """AAC in MP4: a format libsndfile cannot read, so it goes through FFmpeg."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate, layout="mono")
        for start in range(0, len(audio), 1024):
            frame = av.AudioFrame.from_ndarray(
                audio[None, start : start + 1024], format="fltp", layout="mono"
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.fixture
def force_ffmpeg(monkeypatch):
    """libsndfile >= 1.1 reads MP3 itself; this sends every input down the FFmpeg path."""

    def not_soundfile(*args, **kwargs):
        raise audio_io._NotSoundfile

    monkeypatch.setattr(audio_io, "_read_soundfile", not_soundfile)


# --- decoding ---


def test_stereo_48k_wav_loads_as_16k_mono_with_the_same_pitch(tmp_path):
    path = tmp_path / "stereo.wav"
    tone = sine(1.5, 48000)
    sf.write(path, np.stack([tone, tone], axis=1), 48000)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.shape == (24000,)
    assert dominant_frequency(audio, 16000) == pytest.approx(440, abs=2)
    assert np.max(np.abs(audio)) == pytest.approx(0.5, abs=0.02)


def test_stereo_is_mixed_down_by_averaging_channels(tmp_path):
    path = tmp_path / "left_only.wav"
    tone = sine(1.0, 16000)
    sf.write(path, np.stack([tone, np.zeros_like(tone)], axis=1), 16000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path), tone / 2, atol=1e-6)


def test_8k_mono_flac_is_upsampled(tmp_path):
    path = tmp_path / "tone.flac"
    sf.write(path, sine(1.0, 8000), 8000, format="FLAC")
    audio = load_audio(path)
    assert audio.shape == (16000,)
    assert dominant_frequency(audio, 16000) == pytest.approx(440, abs=2)


def test_ogg_vorbis_loads(tmp_path):
    path = tmp_path / "tone.ogg"
    sf.write(path, sine(2.0, 48000), 48000, format="OGG", subtype="VORBIS")
    audio = load_audio(path)
    assert len(audio) == pytest.approx(32000, abs=160)
    assert dominant_frequency(audio, 16000) == pytest.approx(440, abs=2)


def test_bytes_input_decodes_like_the_file(tmp_path):
    path = tmp_path / "tone.flac"
    sf.write(path, sine(0.5, 22050), 22050, format="FLAC")
    np.testing.assert_array_equal(load_audio(path.read_bytes()), load_audio(path))


def test_other_sample_rate_is_honoured(tmp_path):
    path = tmp_path / "tone.wav"
    sf.write(path, sine(1.0, 16000), 16000)
    assert load_audio(path, sample_rate=8000).shape == (8000,)
    assert load_audio(str(path), sample_rate=16000).shape == (16000,)


def test_mp3_fixture_decodes_to_speech():
    audio = load_audio(MP3)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) / 16000 == pytest.approx(2.38, abs=0.05)
    assert 0.01 < np.sqrt(np.mean(audio**2)) and np.max(np.abs(audio)) <= 1.0


def test_mp3_fixture_through_ffmpeg_matches_length(force_ffmpeg):
    audio = load_audio(MP3)
    assert len(audio) / 16000 == pytest.approx(2.38, abs=0.05)
    assert 0.01 < np.sqrt(np.mean(audio**2))


def test_m4a_goes_through_ffmpeg(tmp_path):
    path = tmp_path / "tone.m4a"
    write_m4a(path, sine(3.0, 44100), 44100)
    with pytest.raises(sf.LibsndfileError):
        sf.info(str(path))
    audio = load_audio(path)
    assert len(audio) / 16000 == pytest.approx(3.0, abs=0.1)
    assert dominant_frequency(audio, 16000) == pytest.approx(440, abs=2)


# --- errors ---


def test_missing_file(tmp_path):
    path = tmp_path / "nope.wav"
    with pytest.raises(AudioDecodeError, match="no such file") as error:
        load_audio(path)
    assert str(path) in str(error.value)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(AudioDecodeError, match="no such file"):
        load_audio(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioDecodeError, match=r"empty \(0 bytes\)") as error:
        load_audio(path)
    assert str(path) in str(error.value)


def test_empty_bytes():
    with pytest.raises(AudioDecodeError, match=r"<bytes>: the file is empty \(0 bytes\)"):
        load_audio(b"")


@pytest.mark.parametrize(
    "data",
    [b"this is not audio at all " * 40, bytes(1000), bytes(range(256)) * 20],
    ids=["text", "zeros", "byte-ramp"],
)
def test_corrupt_bytes(data):
    with pytest.raises(AudioDecodeError, match="<bytes>: not a readable audio file"):
        load_audio(data)


def test_corrupt_file_names_the_file(tmp_path):
    path = tmp_path / "junk.mp3"
    path.write_bytes(b"garbage " * 200)
    with pytest.raises(AudioDecodeError, match="not a readable audio file") as error:
        load_audio(path)
    assert str(path) in str(error.value)


def test_wav_header_without_samples(tmp_path):
    path = tmp_path / "header_only.wav"
    sf.write(path, np.zeros(0, np.float32), 16000, subtype="PCM_16")
    assert path.stat().st_size == 44
    with pytest.raises(AudioDecodeError, match="holds no audio samples"):
        load_audio(path)
    with pytest.raises(AudioDecodeError, match="holds no audio samples"):
        load_audio(path.read_bytes())


def test_nan_samples_are_rejected(tmp_path):
    path = tmp_path / "nan.wav"
    audio = np.zeros(1600, np.float32)
    audio[100] = np.nan
    sf.write(path, audio, 16000, subtype="FLOAT")
    with pytest.raises(AudioDecodeError, match="NaN or infinite"):
        load_audio(path)


def test_too_long_wav(tmp_path):
    path = tmp_path / "three_seconds.wav"
    sf.write(path, sine(3.0, 16000), 16000)
    with pytest.raises(AudioDecodeError) as error:
        load_audio(path, max_seconds=1)
    message = str(error.value)
    assert "3.0 s of audio is over the limit of 1 s" in message
    assert "max_seconds" in message and str(path) in message
    assert load_audio(path, max_seconds=3).shape == (48000,)


def test_too_long_mp3_through_ffmpeg(force_ffmpeg):
    with pytest.raises(AudioDecodeError, match="over the limit of 1 s") as error:
        load_audio(MP3, max_seconds=1)
    assert str(MP3) in str(error.value)


def test_too_long_mp3_fixture():
    with pytest.raises(AudioDecodeError, match="over the limit of 1 s"):
        load_audio(MP3, max_seconds=1)


def test_too_long_m4a_through_ffmpeg(tmp_path):
    path = tmp_path / "tone.m4a"
    write_m4a(path, sine(3.0, 44100), 44100)
    with pytest.raises(AudioDecodeError, match="over the limit of 1 s"):
        load_audio(path, max_seconds=1)


def test_two_hour_flac_is_refused_from_its_header(tmp_path, monkeypatch):
    """Default limit 600 s; the length comes from the header, nothing is decoded."""
    path = tmp_path / "two_hours.flac"
    block = np.zeros(8000 * 60, np.int16)
    with sf.SoundFile(path, "w", 8000, 1, format="FLAC", subtype="PCM_16") as out:
        for _ in range(120):
            out.write(block)

    def must_not_decode(*args, **kwargs):
        raise AssertionError("the whole file was decoded")

    monkeypatch.setattr(audio_io.sf, "read", must_not_decode)
    monkeypatch.setattr(audio_io.av, "open", must_not_decode)
    with pytest.raises(AudioDecodeError) as error:
        load_audio(path)
    assert "7200.0 s of audio is over the limit of 600 s" in str(error.value)


# --- writing ---


def test_write_wav_clips_instead_of_wrapping(tmp_path):
    path = tmp_path / "loud.wav"
    write_wav(path, np.array([1.5, -1.5, 2.0, 0.5, -0.25, -3.0], np.float32), 16000)
    info = sf.info(str(path))
    assert info.subtype == "PCM_16" and info.samplerate == 16000 and info.channels == 1
    back, _ = sf.read(path, dtype="float32")
    np.testing.assert_allclose(back, [1.0, -1.0, 1.0, 0.5, -0.25, -1.0], atol=1e-4)


def test_write_wav_round_trip(tmp_path):
    path = tmp_path / "tone.wav"
    tone = sine(1.0, 16000)
    write_wav(str(path), tone, 16000)
    np.testing.assert_allclose(load_audio(path), tone, atol=1e-4)


# --- resampling ---


def test_resample_same_rate_is_unchanged():
    audio = np.linspace(-1, 1, 100)
    out = resample(audio, 16000, 16000)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, audio, atol=1e-7)


def test_resample_changes_length_and_keeps_pitch():
    out = resample(sine(1.0, 48000), 48000, 16000)
    assert out.dtype == np.float32 and out.shape == (16000,)
    assert dominant_frequency(out, 16000) == pytest.approx(440, abs=2)


def test_resample_empty_and_bad_rates():
    assert resample(np.zeros(0), 48000, 16000).size == 0
    with pytest.raises(ValueError, match="positive"):
        resample(np.zeros(10), 0, 16000)
    with pytest.raises(ValueError, match="positive"):
        StreamResampler(16000, -1)


@pytest.mark.parametrize("chunk", [160, 480, 1000])
def test_stream_resampler_matches_whole_signal(chunk):
    signal = (np.random.default_rng(0).standard_normal(48000) * 0.1).astype(np.float32)
    whole = resample(signal, 48000, 16000)
    stream = StreamResampler(48000, 16000)
    pieces = [
        stream.process(signal[i : i + chunk], last=i + chunk >= len(signal))
        for i in range(0, len(signal), chunk)
    ]
    out = np.concatenate(pieces)
    assert abs(len(out) - len(whole)) <= 2
    n = min(len(out), len(whole))
    np.testing.assert_allclose(out[:n], whole[:n], atol=1e-3)


def test_stream_resampler_reset_starts_a_new_stream():
    stream = StreamResampler(8000, 16000)
    signal = sine(0.5, 8000)
    first = np.concatenate([stream.process(signal[:2000]), stream.process(signal[2000:], True)])
    stream.reset()
    second = np.concatenate([stream.process(signal[:2000]), stream.process(signal[2000:], True)])
    np.testing.assert_array_equal(first, second)
    assert len(first) == pytest.approx(8000, abs=2)


def test_stream_resampler_same_rate_passes_through():
    stream = StreamResampler(16000, 16000)
    out = stream.process(np.arange(5, dtype=np.float64))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.arange(5))


# --- framing ---


def test_frame_chunker_push_and_flush():
    chunker = FrameChunker(100)
    samples = np.arange(310, dtype=np.float32)
    frames = list(chunker.push(samples[:250]))
    assert [len(f) for f in frames] == [100, 100]
    frames += list(chunker.push(samples[250:310]))  # 50 pending + 60 -> one frame, 10 left
    assert len(frames) == 3
    np.testing.assert_array_equal(np.concatenate(frames), samples[:300])
    last = chunker.flush()
    assert last.shape == (100,) and last.dtype == np.float32
    np.testing.assert_array_equal(last[:10], samples[300:])
    assert not last[10:].any()
    assert chunker.flush() is None


def test_frame_chunker_small_pushes_and_reset():
    chunker = FrameChunker(4)
    assert list(chunker.push(np.ones(3))) == []
    [frame] = chunker.push(np.full(2, 2.0))
    np.testing.assert_array_equal(frame, [1, 1, 1, 2])
    chunker.reset()
    assert chunker.flush() is None
    assert FrameChunker(3).flush() is None


def test_frame_chunker_flattens_2d_input():
    chunker = FrameChunker(4)
    frames = list(chunker.push(np.arange(8, dtype=np.float32).reshape(8, 1)))
    assert [f.tolist() for f in frames] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_frame_chunker_rejects_bad_size():
    with pytest.raises(ValueError):
        FrameChunker(0)
