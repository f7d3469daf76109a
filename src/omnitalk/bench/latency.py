"""`omnitalk bench latency`: voice-to-voice latency of the whole assistant, stage by stage.

Each input (real speech fixtures and synthetic spoken questions) is played into a fresh session
in real time; latency counts from the end of the user's speech in the audio stream.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import track

from omnitalk.assistant import Assistant
from omnitalk.audio.io import load_audio
from omnitalk.bench.asr import read_fixtures
from omnitalk.bench.questions import QUESTIONS
from omnitalk.bench.report import percentile_figures, percentile_table, print_json, print_report
from omnitalk.engines.speak import speak
from omnitalk.talk import Feeder, run_turns

# to_turn_end: the wait for the turn policy (silence_ms under vad); the rest is the answer.
STAGES = ("end_of_speech_to_turn_end", "end_of_speech_to_final_transcript", "to_first_llm_token",
          "to_first_audio", "total")


def run(
    assistant: Assistant,
    fixtures: Path | None,
    realtime: bool = True,
    rounds: int = 1,
    plot: Path | None = None,
    json_line: bool = False,
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
        feeder = Feeder(realtime=realtime)
        session = feeder.session = assistant.new_session(on_event=feeder.on_event)
        run_turns(session, feeder, [audio])
        for timings in session.timings.values():
            values = timings.as_ms()
            if values["to_first_audio"] is None:
                continue
            for stage in STAGES:
                if values[stage] is not None:
                    columns[stage].append(values[stage])
        session.close()
    mode = "real time" if realtime else "fast (silence wait not counted)"
    print_report(percentile_table(f"Voice-to-voice latency, {mode}, ms from end of speech",
                                  columns))
    if plot is not None:
        _plot(columns, plot)
    if json_line:
        print_json("latency", {"realtime": realtime, "inputs": len(inputs), "rounds": rounds,
                               **percentile_figures(columns)})
    return columns


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
