"""`omnitalk chat`: a live conversation through the default microphone and speakers."""

from __future__ import annotations

import queue
import sys
import threading

import numpy as np

from omnitalk.agent import events as ev
from omnitalk.assistant import Assistant, AssistantConfig
from omnitalk.audio.echo import EchoCanceller, EchoConfig
from omnitalk.audio.resample import StreamResampler, resample
from omnitalk.engines.base import EngineError


class MicrophoneUnavailable(RuntimeError):
    pass


def _open_devices():
    try:
        import sounddevice
    except (ImportError, OSError) as error:
        raise MicrophoneUnavailable(
            f"no audio I/O library ({error}); install `pip install sounddevice` and the system's "
            "PortAudio (`apt-get install libportaudio2`), or use `omnitalk talk FILE.wav`"
        ) from None
    try:
        device = sounddevice.query_devices(kind="input")
    except sounddevice.PortAudioError as error:
        raise MicrophoneUnavailable(
            f"no microphone found ({error}); use `omnitalk talk FILE.wav` instead"
        ) from None
    return sounddevice, device


def _echo_canceller(sample_rate: int) -> EchoCanceller | None:
    try:
        return EchoCanceller(EchoConfig(sample_rate=sample_rate))
    except EngineError as error:
        print(f"warning: no echo cancellation ({error}); on loudspeakers the assistant may "
              "interrupt itself: use a headset or --no-barge-in", file=sys.stderr, flush=True)
        return None


def run_chat(config: AssistantConfig, barge_in: bool = True, echo_cancel: bool = True) -> int:
    sounddevice, device = _open_devices()

    if not barge_in:
        config.session.turn.barge_in_ms = 0
    assistant = Assistant.load(config)
    playback: queue.Queue[np.ndarray | None] = queue.Queue()
    speaker_rate = assistant.responder.sample_rate

    def on_event(event: ev.Event) -> None:
        match event:
            case ev.TranscriptFinal(text=text):
                print(f"you: {text}", flush=True)
            case ev.ReplyTextDelta(text=text):
                print(f"assistant: {text}", flush=True)
            case ev.ReplyAudio(audio=audio):
                playback.put(audio)
            case ev.ReplyCancelled():
                while not playback.empty():  # barge-in: drop what was not played yet
                    playback.get_nowait()
            case ev.ErrorEvent(message=message):
                print(f"error: {message}", flush=True)

    session = assistant.new_session(on_event=on_event)
    mic_rate = int(device["default_samplerate"])
    to_16k = StreamResampler(mic_rate, session.sample_rate)
    heard: queue.Queue[np.ndarray] = queue.Queue(maxsize=200)
    # The loudspeaker's echo, removed from the microphone given exactly what was played.
    canceller = _echo_canceller(session.sample_rate) if echo_cancel else None

    def capture(indata, frames, time_info, status) -> None:
        if not heard.full():
            heard.put(indata[:, 0].copy())

    def play() -> None:
        with sounddevice.OutputStream(samplerate=speaker_rate, channels=1, dtype="float32") as out:
            while (audio := playback.get()) is not None:
                if canceller is not None:  # what plays from now on, at the microphone's rate
                    canceller.played(resample(audio, speaker_rate, session.sample_rate))
                out.write(audio.reshape(-1, 1))

    player = threading.Thread(target=play, daemon=True)
    player.start()
    print("listening; speak, or press Ctrl+C to stop", flush=True)
    try:
        with sounddevice.InputStream(samplerate=mic_rate, channels=1, dtype="float32",
                                     blocksize=int(mic_rate * 0.032), callback=capture):
            while True:
                mic = to_16k.process(heard.get())
                session.feed(canceller.process(mic) if canceller is not None else mic)
    except KeyboardInterrupt:
        pass
    finally:
        playback.put(None)
        session.close()
    return 0
