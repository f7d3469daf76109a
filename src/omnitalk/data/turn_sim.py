"""Spoken turn-taking episodes: what a turn-taking model must tell apart, with their answers.

One episode is one user microphone track at 16 kHz, with a label for the decision the
assistant should make when the user stops:

- `finished`: a complete question or statement, the assistant silent -> respond;
- `paused`: the same utterances cut at a word that cannot end them, with a hesitation
  ("so, um") and a pause of 0.6-1.4 s before the rest -> listen through the pause, respond at
  the end;
- over a playing reply (`assistant_speaking`): `backchannel` ("mm-hm", "yeah"), `cough` and
  `noise` bursts -> ignore; `interruption` ("wait, actually ...") -> respond;
  `stop` ("stop", "that's enough") -> stop;
- `stop_idle`: a stop command while nothing plays -> ignore (there is nothing to stop).

Speech comes from three voice families, so that a model cannot lean on one voice: Piper
(the packaged neural voice, rate and noise varied), espeak-ng (formant synthesis, several
variants) and CMU Flite (diphone / clustergen). Training uses Piper and espeak-ng; Flite is
held back as the family the model never hears (`eval duplex` reports it apart). Background
noise at 10-30 dB SNR goes under every episode. Texts are split by a hash into training and
held-out, so held-out episodes say sentences training never saw.
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from omnitalk.audio.io import load_audio
from omnitalk.data.duplex_sim import coloured_noise
from omnitalk.duplex.states import State
from omnitalk.engines.base import EngineError

SAMPLE_RATE = 16000
LEAD_S, TAIL_S = 0.6, 2.0  # silence before the user speaks and after they stop

BACKCHANNELS = ["mm-hm", "yeah", "right", "okay", "uh-huh", "I see", "sure", "yes",
                "got it", "mhm", "oh really", "wow"]
STOP_COMMANDS = ["stop", "stop omni", "that's enough", "okay stop", "please stop",
                 "stop talking", "enough", "stop please", "omni stop", "alright that's enough"]
INTERRUPTION_OPENERS = ["wait, actually,", "hold on,", "sorry, but", "no, no,", "hang on,",
                        "actually,", "wait,", "excuse me,"]
HESITATIONS = ["um,", "uh,", "so, um,", "like,", "you know,", "er,", "hmm,"]
STATEMENTS = [
    "I'd like to book a table for two tonight.", "Tell me a fun fact about octopuses.",
    "I need a recipe for a quick vegetarian dinner.", "Remind me to call my sister tomorrow.",
    "I think I left my keys at the office.", "Explain how a rainbow forms.",
    "Give me three ideas for a birthday present.", "I want to learn to play the guitar.",
    "My train was cancelled this morning.", "Describe the water cycle in simple words.",
    "I'm planning a trip to Portugal in the spring.", "Suggest a good book about history.",
    "I can't decide between the red one and the blue one.", "Tell me a short joke.",
    "Let's talk about the solar system.", "I'm looking for a word that means very happy.",
]
# A cut after one of these words leaves the sentence plainly unfinished.
OPEN_ENDINGS = {"the", "a", "an", "of", "to", "in", "for", "with", "and", "is", "are", "my",
                "what", "how", "about", "from", "on", "at", "that", "was", "between", "me",
                "does", "do", "can", "which", "many", "much", "by", "if", "because", "your"}

TRAINING_VOICES = ["piper", "espeak:en-us", "espeak:en-us+m3", "espeak:en-us+f3",
                   "espeak:en-gb+m2", "espeak:en-us+f4"]
UNSEEN_VOICES = ["flite:slt", "flite:rms", "flite:awb", "flite:kal16"]


@dataclass
class Episode:
    id: str
    kind: str
    voice: str
    text: str  # what the user says
    assistant_speaking: bool
    expected: State  # the decision when the user has finished
    audio: np.ndarray  # 16 kHz microphone track
    speech_end: float  # when the user's last sound ends (s)
    pause: tuple[float, float] | None = None  # the mid-turn pause of a `paused` episode
    speech_start: float = LEAD_S

    def record(self) -> dict:
        return {"id": self.id, "kind": self.kind, "voice": self.voice, "text": self.text,
                "assistant_speaking": self.assistant_speaking, "expected": self.expected.name,
                "speech_start": round(self.speech_start, 3),
                "speech_end": round(self.speech_end, 3),
                "pause": [round(t, 3) for t in self.pause] if self.pause else None,
                "seconds": round(self.audio.size / SAMPLE_RATE, 3)}


def held_out(text: str, share: float = 0.2) -> bool:
    digest = hashlib.sha256(text.lower().encode()).digest()
    return int.from_bytes(digest[:4], "little") / 2**32 < share


def complete_utterances() -> list[str]:
    """Finished things a user says: the factory's sample questions (every user turn), and as
    statements, some written here and every plain 4-20 word sentence of the sample's answers
    (of the conversations it keeps: the others hold markdown, code and the like)."""
    from omnitalk.data.sample import KEEP, sample_conversations

    messages = [m for c in sample_conversations() if c["expect"] == KEEP for m in c["messages"]]
    questions = [m["content"] for m in messages if m["role"] == "user"]
    sentences = [s.strip() for m in messages if m["role"] == "assistant"
                 for s in re.split(r"(?<=[.!?])\s+", m["content"])]
    statements = STATEMENTS + [s for s in sentences if 4 <= len(s.split()) <= 20
                               and s.endswith((".", "!")) and not re.search(r"[*#|`_\[]", s)]
    return list(dict.fromkeys(t.strip() for t in questions + statements if t.strip()))


def open_cut(text: str, rng: random.Random) -> tuple[str, str] | None:
    """(head, rest) with `head` ending on a word that leaves it unfinished; None if none."""
    words = text.split()
    cuts = [i for i in range(2, len(words)) if re.sub(r"\W", "", words[i - 1].lower())
            in OPEN_ENDINGS]
    if not cuts:
        return None
    cut = rng.choice(cuts)
    return " ".join(words[:cut]), " ".join(words[cut:])


class Voices:
    """Speech from the three voice families, at 16 kHz; `voice` names family and variant."""

    def __init__(self) -> None:
        self._piper = None

    def say(self, voice: str, text: str, rng: random.Random) -> np.ndarray:
        family, _, variant = voice.partition(":")
        if family == "piper":
            return self._say_piper(text, rng)
        if family == "espeak":
            # The text goes in on stdin: as an argument, one starting with "-" is an option.
            command = ["espeak-ng", "-v", variant, "-s", str(rng.randint(140, 200)),
                       "-p", str(rng.randint(30, 70)), "--stdout"]
        elif family == "flite":
            command = ["flite", "-voice", variant, "--setf",
                       f"duration_stretch={rng.uniform(0.85, 1.2):.2f}", "-t", text, "-o",
                       "/dev/stdout"]
        else:
            raise ValueError(f"unknown voice family {family!r} (piper, espeak or flite)")
        if shutil.which(command[0]) is None:
            raise EngineError(f"{command[0]} is not installed: apt-get install {command[0]}")
        said = subprocess.run(command, input=text.encode() if family == "espeak" else None,
                              capture_output=True, check=True, timeout=60)
        if not said.stdout:
            raise EngineError(f"{voice} made no audio for {text!r}: {said.stderr.decode()[:200]}")
        return load_audio(said.stdout, SAMPLE_RATE)

    def _say_piper(self, text: str, rng: random.Random) -> np.ndarray:
        from omnitalk.audio.resample import resample
        from omnitalk.engines.tts_piper import PiperTTS, VoiceStyle

        if self._piper is None:
            self._piper = PiperTTS()
        style = VoiceStyle(length_scale=rng.uniform(0.8, 1.3), noise_scale=rng.uniform(0.4, 0.8))
        audio = np.concatenate(list(self._piper.synthesize(text, style)))
        return resample(audio.astype(np.float32), self._piper.sample_rate, SAMPLE_RATE)


def _trimmed(audio: np.ndarray) -> np.ndarray:
    """Without the synthesiser's leading and trailing silence, so that ends are known."""
    loud = np.flatnonzero(np.abs(audio) > 0.02 * (np.abs(audio).max() + 1e-9))
    return audio[loud[0]:loud[-1] + 1] if loud.size else audio


def cough(rng: np.random.Generator) -> np.ndarray:
    """A cough-like burst: band-limited noise with a sharp attack and a decay, once or twice."""
    parts = []
    for _ in range(rng.integers(1, 3)):
        length = int(rng.uniform(0.15, 0.35) * SAMPLE_RATE)
        burst = np.diff(coloured_noise(length + 1, 0.7, rng))  # tilt towards the cough's band
        envelope = np.exp(-np.linspace(0, rng.uniform(4, 8), length)) \
            * np.minimum(1, np.linspace(0, 12, length))
        parts += [0.3 * burst * envelope / (np.abs(burst).max() + 1e-9),
                  np.zeros(int(0.12 * SAMPLE_RATE), np.float32)]
    return np.concatenate(parts[:-1]).astype(np.float32)


def noise_burst(rng: np.random.Generator) -> np.ndarray:
    """A door, a clatter: a short loud burst of coloured noise."""
    length = int(rng.uniform(0.2, 0.6) * SAMPLE_RATE)
    envelope = np.exp(-np.linspace(0, rng.uniform(2, 6), length))
    return (0.25 * coloured_noise(length, rng.uniform(0, 2), rng) * envelope).astype(np.float32)


def _place(pieces: list[np.ndarray | float], snr_db: float,
           rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Audio pieces and pauses (seconds) in a row after the lead, then the tail; noise under
    it at `snr_db` against the sound. Returns the track and each piece's (start, end)."""
    spans, clock, chunks = [], LEAD_S, [np.zeros(int(LEAD_S * SAMPLE_RATE), np.float32)]
    for piece in pieces:
        if isinstance(piece, float):
            chunks.append(np.zeros(int(piece * SAMPLE_RATE), np.float32))
            clock += int(piece * SAMPLE_RATE) / SAMPLE_RATE
            continue
        chunks.append(piece)
        spans.append((clock, clock + piece.size / SAMPLE_RATE))
        clock = spans[-1][1]
    chunks.append(np.zeros(int(TAIL_S * SAMPLE_RATE), np.float32))
    track = np.concatenate(chunks)
    sound = np.concatenate([p for p in pieces if not isinstance(p, float)])
    power = float(np.mean(sound**2))
    track = track + coloured_noise(track.size, rng.uniform(0, 2), rng) \
        * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(track, -1, 1).astype(np.float32), spans


KINDS = ("finished", "paused", "backchannel", "cough", "noise", "interruption", "stop",
         "stop_idle")


def episodes(texts: list[str], voices: list[str], count: int, seed: int,
             speech: Voices | None = None) -> Iterator[Episode]:
    """`count` episodes, kinds in turn, texts and voices drawn with `seed`."""
    speech = speech or Voices()
    for number in range(count):
        key = f"{seed}:{number}"
        digest = hashlib.sha256(key.encode()).digest()[:8]
        yield _episode(f"{seed}-{number:04d}", KINDS[number % len(KINDS)], texts, voices,
                       speech, random.Random(key),
                       np.random.default_rng(int.from_bytes(digest, "little")))


def _said(kind: str, texts: list[str], rng: random.Random) -> str:
    if kind == "finished":
        return rng.choice(texts)
    if kind == "backchannel":
        return rng.choice(BACKCHANNELS)
    if kind == "interruption":
        return f"{rng.choice(INTERRUPTION_OPENERS)} {rng.choice(texts)}"
    return rng.choice(STOP_COMMANDS)  # stop, stop_idle


def _episode(number: str, kind: str, texts: list[str], voices: list[str], speech: Voices,
             rng: random.Random, np_rng: np.random.Generator) -> Episode:
    voice = rng.choice(voices)
    snr = rng.uniform(10, 30)

    def say(text: str) -> np.ndarray:
        return _trimmed(speech.say(voice, text, rng))

    pause = None
    if kind == "paused":
        for _ in range(20):
            cut = open_cut(rng.choice(texts), rng)
            if cut:
                break
        head, rest = cut
        text = f"{head} {rng.choice(HESITATIONS)} {rest}"
        gap = rng.uniform(0.6, 1.4)
        first = say(f"{head} {rng.choice(HESITATIONS)}")
        track, spans = _place([first, gap, say(rest)], snr, np_rng)
        pause = (spans[0][1], spans[1][0])
    elif kind in ("cough", "noise"):
        text = ""
        sound = cough(np_rng) if kind == "cough" else noise_burst(np_rng)
        track, spans = _place([sound], snr, np_rng)
    else:
        text = _said(kind, texts, rng)
        track, spans = _place([say(text)], snr, np_rng)
    speaking = kind in ("backchannel", "cough", "noise", "interruption", "stop")
    expected = {"finished": State.RESPOND, "paused": State.RESPOND,
                "interruption": State.RESPOND, "stop": State.STOP}.get(kind, State.IGNORE)
    return Episode(f"{kind}-{number}", kind, voice, text, speaking, expected, track,
                   spans[-1][1], pause, spans[0][0])
