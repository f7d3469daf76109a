"""`omnitalk train state-head`: teach the duplex state head when a turn is over.

1. Examples (`examples.jsonl`, made once per out_dir): spoken episodes from
   `omnitalk.data.turn_sim` in the training voices (Piper and espeak-ng), heard through the
   real Silero VAD and Whisper exactly as the session hears them: one example per pause, its
   transcript so far, labelled from the episode's timeline (listen while more speech follows,
   else the episode's decision; noise and coughs are always ignore). Cheap text examples are
   added from the same training texts: complete -> respond, cut open -> listen, backchannels
   and stop commands over a reply -> ignore / stop.
2. The frozen backbone reads every transcript once (`features-<precision>.safetensors`).
3. The head trains on those features with the trainer's machinery: accelerate, AdamW with
   warm-up and cosine decay, seeded batches that are a function of the step, whole-state
   checkpoints (a killed run resumes to the same weights), a loss plot, held-out accuracy.
The held-out examples come from held-out texts (`turn_sim.held_out`).
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from omnitalk.data.files import write_json
from omnitalk.duplex.state_head import (
    HeadShape,
    State,
    StateHead,
    TextReader,
    save_head,
)

EXAMPLES = "examples.jsonl"


@dataclass
class StateHeadConfig:
    name: str = "state-head"
    out_dir: str = "out/train/state-head"
    backbone: str = ""  # "" : the packaged SmolLM2-135M (frozen)
    # The backbone's, in training and at run time: fp32, or int8 (faster, a little less
    # accurate: docs/duplex.md). The packaged head is fp32.
    precision: str = "fp32"
    episodes: int = 560  # spoken episodes (training and held-out texts together)
    text_examples: bool = True
    steps: int = 600
    batch_size: int = 64
    lr: float = 3e-3
    warmup: int = 30
    weight_decay: float = 0.01
    width: int = 64
    eval_every: int = 100
    save_every: int = 100
    seed: int = 0
    threads: int = 2


COMMAND_WORDS = ("stop", "enough")


def label(kind: str, pause_time: float, speech_end: float, expected: State, speaking: bool,
          heard: str) -> State:
    """The right decision at a pause, from the episode's timeline and what had been said."""
    if kind in ("cough", "noise"):
        return State.IGNORE
    if kind in ("stop", "stop_idle") and any(w in heard.lower() for w in COMMAND_WORDS):
        return expected  # a command is one from its first word: "stop" of "stop talking"
    if pause_time < speech_end - 0.05:  # more of this utterance follows
        # Over a reply, the start of a backchannel or a command is no reason to stop it.
        return State.LISTEN if not speaking or kind == "interruption" else State.IGNORE
    return expected


def spoken_examples(config: StateHeadConfig, progress=None) -> list[dict]:
    from omnitalk.agent.replay import listen
    from omnitalk.data.turn_sim import TRAINING_VOICES, complete_utterances, episodes, held_out
    from omnitalk.engines.asr_faster_whisper import FasterWhisperASR
    from omnitalk.engines.vad_silero import SileroVAD

    vad, asr = SileroVAD(), FasterWhisperASR()
    texts = complete_utterances()
    rows = []
    for split, share in (("train", 0.8), ("held_out", 0.2)):
        chosen = [t for t in texts if held_out(t) == (split == "held_out")]
        count = max(1, round(config.episodes * share))
        seed = config.seed * 2 + (split == "held_out")
        for number, episode in enumerate(episodes(chosen, TRAINING_VOICES, count, seed)):
            heard = listen(episode.audio, vad, asr)
            for pause in heard.pauses:
                state = label(episode.kind, pause.time, episode.speech_end, episode.expected,
                              episode.assistant_speaking, pause.text)
                rows.append({"split": split, "text": pause.text, "label": state.name,
                             "speaking": episode.assistant_speaking, "source": episode.id,
                             "pause": round(pause.time, 3),
                             "speech_end": round(episode.speech_end, 3)})
            if progress:
                progress(f"{split} episode {number + 1}/{count}")
    return rows


def text_examples(seed: int) -> list[dict]:
    """Semantic labels straight from text: no audio, no ASR."""
    from omnitalk.data.turn_sim import (
        BACKCHANNELS,
        INTERRUPTION_OPENERS,
        STOP_COMMANDS,
        complete_utterances,
        held_out,
        open_cut,
    )

    rng = random.Random(seed)
    rows = []

    def add(text: str, state: State, speaking: bool, source: str) -> None:
        split = "held_out" if held_out(source) else "train"
        rows.append({"split": split, "text": text, "label": state.name, "speaking": speaking,
                     "source": f"text:{source}"})

    for text in complete_utterances():
        add(text, State.RESPOND, False, text)
        add(f"{rng.choice(INTERRUPTION_OPENERS)} {text}", State.RESPOND, True, text)
        cut = open_cut(text, rng)
        if cut:
            add(cut[0], State.LISTEN, False, text)
    for word in BACKCHANNELS:  # as Whisper writes them: capitalised, and as written here
        for said in (word, word.capitalize()):
            add(said, State.IGNORE, True, word)
    for command in STOP_COMMANDS:
        for said in (command, command.capitalize()):
            add(said, State.STOP, True, command)
            add(said, State.IGNORE, False, command)
    for opener in INTERRUPTION_OPENERS:
        add(opener, State.LISTEN, True, opener)
    return rows


def build_examples(config: StateHeadConfig, progress=None) -> list[dict]:
    """The examples of `out_dir`, made on the first run and read back on every other."""
    path = Path(config.out_dir) / EXAMPLES
    if path.is_file():
        return [json.loads(line) for line in path.read_text().splitlines() if line]
    rows = spoken_examples(config, progress) if config.episodes else []
    if config.text_examples:
        rows += text_examples(config.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text("".join(json.dumps(r) + "\n" for r in rows))
    partial.replace(path)  # whole or absent: a kill while making them leaves no half file
    return rows


def read_features(reader: TextReader, rows: list[dict], out: Path) -> dict[str, torch.Tensor]:
    """What the frozen backbone reads from each example's transcript (made once), with the
    example's context and label."""
    from safetensors.torch import load_file, save_file

    path = out / f"features-{reader.backbone.precision}.safetensors"
    read = load_file(str(path)) if path.is_file() else {}
    if read.get("hidden", torch.zeros(0)).shape[0] != len(rows):
        hidden, log_p = reader.read([r["text"] for r in rows])
        read = {"hidden": hidden.contiguous(), "log_p_end": log_p.contiguous()}
        save_file(read, str(path))
    return read | {"speaking": torch.tensor([r["speaking"] for r in rows]),
                   "label": torch.tensor([State[r["label"]] for r in rows])}


class _HeadLoss(torch.nn.Module):
    """Cross-entropy weighted against the states' frequencies: stop commands are a few
    percent of the pauses, and the one decision that must not be missed over a reply."""

    def __init__(self, head: StateHead, labels: torch.Tensor) -> None:
        super().__init__()
        self.head = head
        counts = torch.bincount(labels, minlength=len(State)).clamp(min=1).float()
        self.register_buffer("weights", (counts.sum() / counts / len(State)).sqrt())

    def forward(self, hidden, log_p_end, speaking, label) -> torch.Tensor:
        logits = self.head(hidden, log_p_end, speaking)
        return torch.nn.functional.cross_entropy(logits, label, weight=self.weights)


def accuracy(head: StateHead, features: dict[str, torch.Tensor]) -> dict[str, float]:
    with torch.inference_mode():
        logits = head.eval()(features["hidden"], features["log_p_end"], features["speaking"])
        head.train()
        loss = float(torch.nn.functional.cross_entropy(logits, features["label"]))
        right = (logits.argmax(-1) == features["label"]).float()
    per_state = {f"accuracy_{s.name.lower()}": float(right[features["label"] == s].mean())
                 for s in State if (features["label"] == s).any()}
    return {"loss": loss, "accuracy": float(right.mean()), **per_state}


def train_state_head(config: StateHeadConfig, on_step=None, progress=None):
    """Returns the TrainReport; the head is written to `<out_dir>/state-head.safetensors`."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import get_cosine_schedule_with_warmup

    from omnitalk.train.trainer import (
        TrainReport,
        batch_positions,
        cpu_processes,
        plot_losses,
        resume_state,
        save_state,
    )

    torch.set_num_threads(config.threads)
    set_seed(config.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = build_examples(config, progress)
    if progress:
        progress(f"reading {len(rows)} transcripts with the frozen backbone")
    reader = TextReader.load(config.backbone, config.precision)
    features = read_features(reader, rows, out)
    is_train = torch.tensor([r["split"] == "train" for r in rows])
    train = {k: v[is_train] for k, v in features.items()}
    held = {k: v[~is_train] for k, v in features.items()}
    count = int(is_train.sum())
    if count == 0 or int((~is_train).sum()) == 0:
        raise ValueError(f"{config.out_dir}: need training and held-out examples; got "
                         f"{count} and {int((~is_train).sum())}")
    head = StateHead(HeadShape(reader.backbone.hidden_size, config.width))
    accelerator = Accelerator(mixed_precision="no", cpu=cpu_processes())
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = get_cosine_schedule_with_warmup(optimizer, config.warmup, config.steps)
    model, optimizer = accelerator.prepare(_HeadLoss(head, train["label"]), optimizer)
    accelerator.register_for_checkpointing(schedule)
    report = TrainReport(asdict(config), config.steps, train_examples=count,
                         held_out_examples=len(rows) - count,
                         trainable_parameters=sum(p.numel() for p in head.parameters()))
    start = resume_state(accelerator, out, report)
    began = time.perf_counter()
    for step in range(start + 1, config.steps + 1):
        indices = torch.tensor(batch_positions(step - 1, config.batch_size, count, config.seed))
        loss = model(*(train[k][indices] for k in ("hidden", "log_p_end", "speaking", "label")))
        accelerator.backward(loss)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        row = {"step": step, "lr": schedule.get_last_lr()[0], "loss": float(loss.detach()),
               "state": float(loss.detach())}
        report.history.append(row)
        evaluation = None
        if step % config.eval_every == 0 or step == config.steps:
            evaluation = {"step": step, **accuracy(head, held)}
            evaluation["losses"] = {"state": evaluation["loss"]}
            report.evaluations.append(evaluation)
        if step % config.save_every == 0 or step == config.steps:
            save_state(accelerator, out, report, step)
        if on_step:
            on_step(step, config.steps, row, evaluation)
    final = out / "state-head.safetensors"
    last = report.evaluations[-1] if report.evaluations else {}
    save_head(head, reader.backbone, final, {
        "command": f"omnitalk train state-head --episodes {config.episodes} "
                   f"--steps {config.steps} --seed {config.seed}",
        "examples": {"train": count, "held_out": len(rows) - count},
        "held_out_accuracy": round(last.get("accuracy", float("nan")), 4),
        "seconds": round(time.perf_counter() - began, 1)})
    report.final = str(final)
    plot_losses(report, out / "loss.png")
    write_json(out / "report.json", asdict(report))
    return report


def class_counts(rows: list[dict]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        split = counts.setdefault(row["split"], {})
        split[row["label"]] = split.get(row["label"], 0) + 1
    return counts


def chance(rows: list[dict]) -> float:
    """Held-out accuracy of always saying the commonest training label."""
    labels = [r["label"] for r in rows if r["split"] == "train"]
    commonest = max(set(labels), key=labels.count)
    held = [r["label"] for r in rows if r["split"] == "held_out"]
    return float(np.mean([label == commonest for label in held])) if held else 0.0
