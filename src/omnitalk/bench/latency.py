"""`omnitalk bench latency`: voice-to-voice latency of the whole assistant, stage by stage.

Each input (real speech fixtures and synthetic spoken questions) is played into a fresh session
in real time; latency counts from the end of the user's speech in the audio stream. With
`--long`, the real recordings are also run together into turns of 15 s and 60 s (their own
pauses shortened, so that each stays one turn), and the final transcript's delay and word error
rate are reported by length beside a short question's and a one-shot transcription's.
"""

from __future__ import annotations

from pathlib import Path

import jiwer
import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from omnitalk.agent.replay import FRAME, speech_probabilities
from omnitalk.assistant import Assistant
from omnitalk.audio.io import load_audio
from omnitalk.bench.asr import read_fixtures
from omnitalk.bench.questions import QUESTIONS
from omnitalk.bench.report import percentile_figures, percentile_table, print_json, print_report
from omnitalk.engines.speak import speak
from omnitalk.talk import Feeder, TurnResult, run_turns
from omnitalk.text.wer import normalise_for_wer

# to_turn_end: the wait for the turn policy (silence_ms under vad); the rest is the answer.
STAGES = ("end_of_speech_to_turn_end", "end_of_speech_to_final_transcript", "to_first_llm_token",
          "to_first_audio", "total")
LONG_TURN_S = (15.0, 60.0)
# A pause inside a long turn is shortened to this: under the silence a turn ends after.
LONG_TURN_GAP_S = 0.25
SAMPLE_RATE = 16000


def run(
    assistant: Assistant,
    fixtures: Path | None,
    realtime: bool = True,
    rounds: int = 1,
    plot: Path | None = None,
    json_line: bool = False,
    long: bool = False,
) -> dict[str, list[float]]:
    inputs = []
    if fixtures is not None:
        inputs += [(path.name, load_audio(path)) for path, _ in read_fixtures(fixtures)]
    tts = assistant.voice
    inputs += [(f"synthetic: {q}", speak(tts, q)) for q in QUESTIONS]
    columns: dict[str, list[float]] = {stage: [] for stage in STAGES}
    # Progress goes to stderr: stdout holds only the table (and the JSON line).
    for _name, audio in track(inputs * rounds, description="playing inputs",
                              console=Console(stderr=True)):
        _, timings = _play(assistant, audio, realtime)
        for values in timings:
            for stage in STAGES:
                if values[stage] is not None:
                    columns[stage].append(values[stage])
    mode = "real time" if realtime else "fast (silence wait not counted)"
    print_report(percentile_table(f"Voice-to-voice latency, {mode}, ms from end of speech",
                                  columns))
    if plot is not None:
        _plot(columns, plot)
    figures = {"realtime": realtime, "inputs": len(inputs), "rounds": rounds,
               **percentile_figures(columns)}
    if long and fixtures is not None:
        figures["long_turns"] = _long_turns(assistant, fixtures, inputs[-1][1], realtime, rounds)
    if json_line:
        print_json("latency", figures)
    return columns


def _play(assistant: Assistant, audio, realtime: bool) -> tuple[TurnResult, list[dict]]:
    """One input in a fresh session: its last turn's result and every answered turn's timings."""
    feeder = Feeder(realtime=realtime)
    session = feeder.session = assistant.new_session(on_event=feeder.on_event)
    try:
        [result] = run_turns(session, feeder, [audio])
        answered = [t.as_ms() for t in session.timings.values()]
        return result, [values for values in answered if values["to_first_audio"] is not None]
    finally:
        session.close()


def long_turn(clips: list[tuple[np.ndarray, str]], seconds: float, vad,
              gap_s: float = LONG_TURN_GAP_S) -> tuple[np.ndarray, str]:
    """Clips (16 kHz audio, transcript) run together into about `seconds` of audio (a clip is
    taken, in turn, while the whole stays within a second of it): every stretch the VAD calls
    silence is cut to `gap_s`, so the whole is one turn under the default silence. Returns the
    audio and the words said, in order."""
    gap = np.zeros(round(gap_s * SAMPLE_RATE), np.float32)
    keep_frames = round(gap_s * SAMPLE_RATE / FRAME)
    tightened = []
    for audio, text in clips:
        speech = speech_probabilities(vad, audio) >= 0.5
        if not speech.any():
            continue
        frames = audio[:speech.size * FRAME].reshape(-1, FRAME)
        first, last = np.flatnonzero(speech)[[0, -1]]
        quiet, kept = 0, []
        for frame, is_speech in zip(frames[first:last + 1], speech[first:last + 1], strict=True):
            quiet = 0 if is_speech else quiet + 1
            if quiet <= keep_frames:
                kept.append(frame)
        tightened.append((np.concatenate(kept), text))
    parts, words, total, limit = [], [], 0, (seconds + 1) * SAMPLE_RATE
    while True:
        added = False
        for audio, text in tightened:
            if total + gap.size + audio.size <= limit:
                parts += [gap, audio] if parts else [audio]
                words.append(text)
                total += audio.size + (gap.size if len(parts) > 1 else 0)
                added = True
        if not added:
            break
    if not parts:
        raise ValueError(f"no recording fits in a {seconds:.0f} s turn")
    return np.concatenate(parts), " ".join(words)


def _long_turns(assistant: Assistant, fixtures: Path, question: np.ndarray, realtime: bool,
                rounds: int) -> dict[str, dict[str, float]]:
    """Final-transcript delay, voice to voice and WER by turn length, against a question."""
    clips = [(load_audio(path), text) for path, text in read_fixtures(fixtures)]
    turns = [("question", question, None)]
    for seconds in LONG_TURN_S:
        audio, reference = long_turn(clips, seconds, assistant.vad.fork())
        turns.append((f"{audio.size / SAMPLE_RATE:.0f} s", audio, reference))
    table = Table(title="Long turns: ms from end of speech (medians), and word error rates")
    for name in ("turn", "n", "final transcript", "voice to voice", "WER %", "one-shot WER %"):
        table.add_column(name, justify="left" if name == "turn" else "right")
    figures: dict[str, dict[str, float]] = {}
    for name, audio, reference in track(turns * rounds, description="playing long turns",
                                         console=Console(stderr=True)):
        result, timings = _play(assistant, audio, realtime)
        row = figures.setdefault(name, {"seconds": audio.size / SAMPLE_RATE, "final": [],
                                        "voice_to_voice": [], "turns": []})
        row["turns"].append(result.user_turns)
        for values in timings:
            row["final"].append(values["end_of_speech_to_final_transcript"])
            row["voice_to_voice"].append(values["to_first_audio"])
        if reference is not None:
            reference = normalise_for_wer(reference)
            one_shot = assistant.asr.transcribe(audio)
            row.setdefault("wers", []).append(jiwer.wer(reference,
                                                        normalise_for_wer(result.transcript)))
            row.setdefault("one_shot_wers", []).append(jiwer.wer(reference,
                                                                 normalise_for_wer(one_shot)))
    for name, row in figures.items():
        row["final_ms_median"] = float(np.median(row.pop("final")))
        row["voice_to_voice_ms_median"] = float(np.median(row.pop("voice_to_voice")))
        row["user_turns_max"] = max(row.pop("turns"))
        for key in ("wer", "one_shot_wer"):
            if f"{key}s" in row:
                row[key] = float(np.mean(row.pop(f"{key}s")))
        wer = [f"{100 * row[k]:.1f}" if k in row else "-" for k in ("wer", "one_shot_wer")]
        table.add_row(name, str(rounds), f"{row['final_ms_median']:.0f}",
                      f"{row['voice_to_voice_ms_median']:.0f}", *wer)
    print_report(table)
    return figures


def _plot(columns: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = [stage for stage in STAGES if columns[stage]]
    medians = [float(np.median(columns[s])) for s in names]
    p90 = [float(np.percentile(columns[s], 90)) for s in names]
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.barh(names, p90, color="#c8d7ea", label="p90")
    axis.barh(names, medians, color="#2f6db3", label="median")
    axis.axvline(800, color="#b33", linestyle="--", label="800 ms target")
    axis.set_xlabel("ms after the end of the user's speech")
    axis.invert_yaxis()
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
