"""`omnitalk eval duplex`: turn-taking policies side by side on episodes they never trained on.

Sets: held-out simulated episodes in the training voice families (Piper, espeak-ng) with
held-out texts; the same kinds in the family no head trained on (Flite); and the real
recordings of `../shared/fixtures/speech` (each a finished turn, some with pauses inside).
Every policy sees the same VAD probabilities and the same transcripts (`agent.replay`).

Metrics (`../shared/specs/duplex.md` section 7; Δ = 160 ms, the decision chunk):
- turn-taking Acc@K: the turn is taken within K·Δ after the user's speech ends (and within
  1.5 s), over finished and paused turns; a take before the end counts as a failure;
- response time: mean endpoint delay of the successes; median and p90 of every endpoint delay;
- premature end: the turn was taken inside a mid-turn pause (or before the speech ended);
- false barge-in: a reply cancelled by a backchannel, a cough or a noise;
- interruption recall: a reply cancelled and the interruption answered; user Acc@K from the
  interruption's onset; stop: recall (cancelled, nothing answered) and latency from its end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from omnitalk.agent.replay import (
    Heard,
    Outcome,
    listen,
    replay_model,
    replay_smart_turn,
    replay_vad,
)
from omnitalk.duplex.state_head import State, decide_state

DELTA_S = 0.16
KS = (1, 5, 10, 25)
LIMIT_S = 1.5
EXTRA_TAIL = 24000  # 1.5 s of silence appended to every simulated episode


@dataclass
class DuplexEvalConfig:
    episodes: int = 96  # per set of simulated voices (a multiple of 8: one of each kind)
    seed: int = 1000  # episodes differ from training's seeds 0 and 1
    head: str = ""  # "" : the packaged state head
    fixtures: str = ""  # a folder of real recordings, each one finished turn
    smart_turn: bool = True
    plot: str = ""  # a PNG of endpoint delay against premature-end rate
    cases: str = ""  # a JSONL file: every episode, its transcripts and each policy's decisions
    sets: list = field(default_factory=lambda: ["seen", "unseen", "real"])


@dataclass
class Case:
    """One episode, heard: what the policies are judged on."""

    id: str
    kind: str
    speaking: bool
    speech_start: float
    speech_end: float
    pause: tuple[float, float] | None
    audio: np.ndarray
    heard: Heard


def simulated_cases(voices: list[str], count: int, seed: int, vad, asr,
                    progress: Callable[[str], None]) -> list[Case]:
    from omnitalk.data.turn_sim import complete_utterances, episodes, held_out

    texts = [t for t in complete_utterances() if held_out(t)]
    cases = []
    for number, episode in enumerate(episodes(texts, voices, count, seed)):
        progress(f"hearing episode {number + 1}/{count} ({episode.voice})")
        # Longer silence after the episode than training needs: Smart Turn's fallback comes
        # after 3 s, and whether a policy answers a stop command must be seen.
        audio = np.concatenate([episode.audio, np.zeros(EXTRA_TAIL, np.float32)])
        cases.append(Case(episode.id, episode.kind, episode.assistant_speaking,
                          episode.speech_start, episode.speech_end, episode.pause,
                          audio, listen(audio, vad, asr)))
    return cases


def real_cases(folder: Path, vad, asr, progress: Callable[[str], None]) -> list[Case]:
    """Each recording as one finished turn; its speech ends at the VAD's last speech frame."""
    from omnitalk.agent.replay import FRAME_S
    from omnitalk.audio.io import load_audio

    cases = []
    for path in sorted(p for p in folder.glob("*") if p.suffix in (".flac", ".wav", ".mp3")):
        progress(f"hearing {path.name}")
        audio = load_audio(path, 16000)
        audio = np.concatenate([np.zeros(9600, np.float32), audio,
                                np.zeros(32000, np.float32)])  # 0.6 s lead, 2 s tail
        heard = listen(audio, vad, asr)
        speech = np.flatnonzero(heard.probabilities >= 0.5)
        if speech.size == 0:
            continue
        cases.append(Case(path.name, "finished", False, float(speech[0] * FRAME_S),
                          float((speech[-1] + 1) * FRAME_S), None, audio, heard))
    return cases


def _delays(cases: list[Case], outcomes: list[Outcome]) -> tuple[list[float], int, int]:
    """Endpoint delays of turns that should be answered; and (premature, eligible) counts."""
    delays, premature, eligible = [], 0, 0
    for case, outcome in zip(cases, outcomes, strict=True):
        if case.speaking or case.kind not in ("finished", "paused"):
            continue
        eligible += 1
        if outcome.ended_at is None:
            delays.append(float("inf"))
        elif outcome.ended_at < case.speech_end - 0.05:
            premature += 1
        else:
            delays.append(outcome.ended_at - case.speech_end)
    return delays, premature, eligible


def metrics(cases: list[Case], outcomes: list[Outcome]) -> dict:
    delays, premature, eligible = _delays(cases, outcomes)
    figures: dict = {"turns": eligible}
    if eligible:
        for k in KS:
            hits = [d for d in delays if d < k * DELTA_S and d <= LIMIT_S]
            figures[f"acc@{k}"] = len(hits) / eligible
        successes = [d for d in delays if d <= LIMIT_S]
        finite = [d for d in delays if np.isfinite(d)]
        figures["response_time_ms"] = 1000 * float(np.mean(successes)) if successes else None
        figures["endpoint_delay_median_ms"] = 1000 * float(np.median(finite)) if finite else None
        figures["endpoint_delay_p90_ms"] = 1000 * float(np.percentile(finite, 90)) \
            if finite else None
        figures["premature_end_rate"] = premature / eligible
        paused = [(c, o) for c, o in zip(cases, outcomes, strict=True) if c.kind == "paused"]
        figures["premature_in_pause_rate"] = (
            sum(o.ended_at is not None and o.ended_at < c.pause[1] for c, o in paused)
            / len(paused)) if paused else None
    over = [(c, o) for c, o in zip(cases, outcomes, strict=True) if c.speaking]
    sounds = [(c, o) for c, o in over if c.kind in ("backchannel", "cough", "noise")]
    if sounds:
        figures["false_barge_in_rate"] = sum(o.cancelled_at is not None for _, o in sounds) \
            / len(sounds)
        for kind in ("backchannel", "cough", "noise"):
            some = [o for c, o in sounds if c.kind == kind]
            if some:
                figures[f"false_barge_in_{kind}"] = sum(o.cancelled_at is not None
                                                        for o in some) / len(some)
    interruptions = [(c, o) for c, o in over if c.kind == "interruption"]
    if interruptions:
        figures["interruption_recall"] = sum(o.cancelled_at is not None and o.answered
                                             for _, o in interruptions) / len(interruptions)
        for k in KS:
            figures[f"user_acc@{k}"] = sum(
                o.cancelled_at is not None and o.cancelled_at - c.speech_start < k * DELTA_S
                and o.cancelled_at - c.speech_start <= LIMIT_S
                for c, o in interruptions) / len(interruptions)
    stops = [(c, o) for c, o in over if c.kind == "stop"]
    if stops:
        good = [(c, o) for c, o in stops if o.cancelled_at is not None and not o.answered]
        figures["stop_recall"] = len(good) / len(stops)
        figures["stop_latency_median_ms"] = 1000 * float(np.median(
            [o.cancelled_at - c.speech_end for c, o in good])) if good else None
    idle_sounds = [(c, o) for c, o in zip(cases, outcomes, strict=True)
                   if not c.speaking and c.kind == "stop_idle"]
    if idle_sounds:
        figures["answers_to_idle_stop"] = sum(o.answered for _, o in idle_sounds) \
            / len(idle_sounds)
    return figures


class ModelJudge:
    """The state head's probabilities for every pause, computed once and timed."""

    def __init__(self, classifier) -> None:
        self.classifier = classifier
        self._seen: dict[tuple[str, bool], tuple[np.ndarray, float]] = {}

    def probabilities(self, text: str, speaking: bool) -> tuple[np.ndarray, float]:
        key = (text, speaking)
        if key not in self._seen:
            began = time.perf_counter()
            if text.strip():
                p = self.classifier.probabilities([text], [speaking])[0]
            else:
                p = np.eye(len(State))[State.IGNORE]
            self._seen[key] = (p, time.perf_counter() - began)
        return self._seen[key]

    def decider(self, threshold: float):
        def decide(text: str, speaking: bool) -> tuple[State, float]:
            p, took = self.probabilities(text, speaking)
            return decide_state(p, threshold), took
        return decide

    def head_ms(self) -> float:
        return 1000 * float(np.median([t for _, t in self._seen.values()])) if self._seen else 0.0


def policies(judge: ModelJudge | None, smart_turn) -> dict[str, Callable[[Case], Outcome]]:
    chosen: dict[str, Callable[[Case], Outcome]] = {
        f"vad {ms} ms": (lambda c, ms=ms: replay_vad(c.heard, c.speaking, ms))
        for ms in (300, 500, 800)}
    if judge is not None:
        chosen["model"] = lambda c: replay_model(c.heard, c.speaking, judge.decider(0.5))
    if smart_turn is not None:
        chosen["smart-turn v3.2"] = lambda c: replay_smart_turn(c.heard, c.audio, c.speaking,
                                                               smart_turn)
    return chosen


def sweeps(judge: ModelJudge | None, smart_turn) -> dict[str, list[tuple[str, Callable]]]:
    """Each policy at several settings: the trade-off curve of the plot."""
    curves: dict[str, list[tuple[str, Callable]]] = {"vad": [
        (f"{ms} ms", lambda c, ms=ms: replay_vad(c.heard, c.speaking, ms))
        for ms in (200, 300, 400, 500, 650, 800, 1000)]}
    if judge is not None:
        curves["model"] = [(f"p>={t}", lambda c, t=t: replay_model(c.heard, c.speaking,
                                                                   judge.decider(t)))
                           for t in (0.2, 0.35, 0.5, 0.65, 0.8, 0.9)]
    if smart_turn is not None:
        curves["smart-turn v3.2"] = [
            (f"p>={t}", lambda c, t=t: replay_smart_turn(c.heard, c.audio, c.speaking,
                                                         smart_turn, threshold=t))
            for t in (0.2, 0.35, 0.5, 0.65, 0.8, 0.9)]
    return curves


def plot(curves: dict[str, list[tuple[str, dict]]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for name, points in curves.items():
        xs = [100 * m["premature_end_rate"] for _, m in points]
        ys = [m["endpoint_delay_median_ms"] or np.nan for _, m in points]
        axis.plot(xs, ys, "o-", label=name)
        for (setting, _), x, y in zip(points, xs, ys, strict=True):
            axis.annotate(setting, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    axis.set_xlabel("premature end rate (% of turns taken before the user finished)")
    axis.set_ylabel("endpoint delay, median (ms)")
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run(config: DuplexEvalConfig, progress: Callable[[str], None]) -> dict:
    from omnitalk.data.turn_sim import TRAINING_VOICES, UNSEEN_VOICES
    from omnitalk.duplex.state_head import StateClassifier
    from omnitalk.engines.asr_faster_whisper import FasterWhisperASR
    from omnitalk.engines.base import EngineError
    from omnitalk.engines.vad_silero import SileroVAD

    vad, asr = SileroVAD(), FasterWhisperASR()
    progress("loading the state head and its backbone")
    judge = ModelJudge(StateClassifier.load(config.head))
    smart_turn, smart_turn_note = None, ""
    if config.smart_turn:
        try:
            from omnitalk.duplex.smart_turn import SmartTurn

            model = SmartTurn()

            def smart_turn(audio):
                began = time.perf_counter()
                return model.complete_probability(audio), time.perf_counter() - began
        except EngineError as error:
            smart_turn_note = str(error)
    sets: dict[str, list[Case]] = {}
    if "seen" in config.sets:
        sets["seen voices"] = simulated_cases(TRAINING_VOICES, config.episodes, config.seed,
                                              vad, asr, progress)
    if "unseen" in config.sets:
        sets["unseen voices (flite)"] = simulated_cases(UNSEEN_VOICES, config.episodes,
                                                        config.seed + 1, vad, asr, progress)
    if "real" in config.sets:
        sets["real recordings"] = real_cases(Path(config.fixtures), vad, asr, progress)
    asr_ms = [1000 * p.asr_s for cases in sets.values() for c in cases for p in c.heard.pauses]
    results: dict = {"sets": {}, "smart_turn": smart_turn_note or "available"}
    records = []
    for set_name, cases in sets.items():
        progress(f"replaying {set_name}")
        by_policy = {name: [replay(c) for c in cases]
                     for name, replay in policies(judge, smart_turn).items()}
        results["sets"][set_name] = {name: metrics(cases, outcomes)
                                     for name, outcomes in by_policy.items()}
        results["sets"][set_name]["_cases"] = len(cases)
        records += [{"set": set_name, "id": c.id, "kind": c.kind, "speaking": c.speaking,
                     "speech_end": round(c.speech_end, 3),
                     "pauses": [(round(p.time, 3), p.text) for p in c.heard.pauses],
                     "decisions": {name: outcomes[i].decisions
                                   for name, outcomes in by_policy.items()}}
                    for i, c in enumerate(cases)]
    if config.cases:
        Path(config.cases).parent.mkdir(parents=True, exist_ok=True)
        Path(config.cases).write_text("".join(json.dumps(r) + "\n" for r in records))
    results["asr_ms_median"] = float(np.median(asr_ms)) if asr_ms else None
    results["head_ms_median"] = judge.head_ms()
    if config.plot:
        simulated = [c for name, cases in sets.items() if name != "real recordings"
                     for c in cases]
        curves = {name: [(setting, metrics(simulated, [replay(c) for c in simulated]))
                         for setting, replay in settings]
                  for name, settings in sweeps(judge, smart_turn).items()}
        plot(curves, Path(config.plot), "endpoint delay against premature ends "
             "(simulated held-out turns)")
        results["plot"] = config.plot
        results["curves"] = {name: [{"setting": s, **m} for s, m in points]
                             for name, points in curves.items()}
    return results


COLUMNS = [  # (figure, heading, how it is shown)
    ("acc@1", "Acc@1", "pct"), ("acc@5", "Acc@5", "pct"), ("acc@10", "Acc@10", "pct"),
    ("response_time_ms", "resp. time", "ms"), ("endpoint_delay_median_ms", "delay p50", "ms"),
    ("endpoint_delay_p90_ms", "delay p90", "ms"), ("premature_in_pause_rate", "cut in pause",
                                                    "pct"),
    ("premature_end_rate", "premature", "pct"), ("false_barge_in_rate", "false barge-in", "pct"),
    ("interruption_recall", "interrupt recall", "pct"), ("user_acc@10", "user Acc@10", "pct"),
    ("stop_recall", "stop recall", "pct"), ("stop_latency_median_ms", "stop latency", "ms"),
]


def tables(results: dict) -> list:
    from rich.table import Table

    def shown(value, how: str) -> str:
        if value is None:
            return "-"
        if how == "pct":
            return f"{100 * value:.0f}%"
        return "never" if not np.isfinite(value) else f"{value:.0f}"

    out = []
    for set_name, by_policy in results["sets"].items():
        table = Table(title=f"{set_name}: {by_policy['_cases']} episodes")
        table.add_column("policy")
        present = [c for c in COLUMNS if any(c[0] in m for n, m in by_policy.items()
                                             if n != "_cases")]
        for _, heading, _ in present:
            table.add_column(heading, justify="right")
        for name, figures in by_policy.items():
            if name != "_cases":
                table.add_row(name, *(shown(figures.get(key), how) for key, _, how in present))
        out.append(table)
    return out
