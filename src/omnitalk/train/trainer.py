"""One training stage, with accelerate: one CPU, one GPU, or many (`accelerate launch`).

Mixed precision as the device allows, gradient accumulation, AdamW with a cosine schedule
after a linear warm-up. Every `save_every` steps the whole state (weights in safetensors,
optimiser, schedule, random states, the loss history) is written to `<out_dir>/checkpoint`
(a fresh copy renamed into place, so a kill never leaves half a checkpoint). A stage that finds
a checkpoint goes on from it: the batches are a function of the step, so a resumed run sees
the same batches and ends with the same weights as one that was never stopped. The end of a
stage writes `<out_dir>/final` (a talker `--checkpoint` loads), a loss plot and a report.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from omnitalk.codec.snac import random_snac, save_snac
from omnitalk.data.files import write_json
from omnitalk.engines.base import EngineError
from omnitalk.omni.checkpoint import load_checkpoint, save_talker
from omnitalk.omni.targets import stream_losses
from omnitalk.train.collate import TaskExample, collate, task_examples
from omnitalk.train.config import TrainConfig
from omnitalk.train.data import load_exchanges, split
from omnitalk.train.evaluate import evaluate
from omnitalk.train.freeze import select_trainable
from omnitalk.train.surgery import load_lm, talker_from_lm

CHECKPOINT, STATE = "checkpoint", "trainer_state.json"


class TrainingTalker(nn.Module):
    """The talker with its loss as `forward`, so that DDP / FSDP wrap the whole step."""

    def __init__(self, talker) -> None:
        super().__init__()
        self.talker = talker

    def forward(self, inputs, targets, **features) -> dict[str, torch.Tensor]:
        return stream_losses(self.talker, inputs, targets, **features)


def weighted_loss(losses: dict[str, torch.Tensor], config: TrainConfig) -> torch.Tensor:
    audio = [loss for name, loss in losses.items() if name.startswith("audio")]
    total = config.text_weight * losses["text"] if "text" in losses else 0.0
    if audio:
        total = total + config.audio_weight * torch.stack(audio).mean()
    return total


def cpu_processes() -> bool:
    """Whether this is one of several processes (torchrun) on a machine without CUDA.
    accelerate would take each for a run of its own unless told they share the CPU."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def batch_positions(micro_batch: int, batch_size: int, count: int, seed: int) -> list[int]:
    """Which examples micro-batch `m` holds: a seeded permutation per epoch, read in order.
    A function of `m` alone, so that a resumed run sees the batches it would have seen."""
    out = []
    for slot in range(micro_batch * batch_size, (micro_batch + 1) * batch_size):
        epoch, index = divmod(slot, count)
        out.append(int(np.random.default_rng([seed, epoch]).permutation(count)[index]))
    return out


def mean_over_processes(seen: list[dict[str, list[float]]]) -> dict[str, float]:
    """Each stream's mean loss over the micro-batches, of every process, that had it."""
    names = sorted({name for process in seen for name in process})
    return {name: float(np.mean([v for process in seen for v in process.get(name, [])]))
            for name in names}


@dataclass
class TrainReport:
    config: dict
    steps: int
    history: list[dict] = field(default_factory=list)
    evaluations: list[dict] = field(default_factory=list)
    train_examples: int = 0
    held_out_examples: int = 0
    tokens_per_second: float = 0.0
    processes: int = 1
    trainable_parameters: int = 0
    final: str = ""


class Trainer:
    def __init__(self, config: TrainConfig, on_step=None) -> None:
        self.config = config
        self.out = Path(config.out_dir)
        # (step, steps, history row, evaluation or None) after every step.
        self.on_step = on_step or (lambda step, steps, row, evaluation: None)

    def _talker(self, feature_width: int):
        if self.config.init:
            checkpoint = load_checkpoint(self.config.init)
            return checkpoint.model.float().train(), checkpoint.tokenizer
        lm, tokenizer = load_lm(self.config.backbone)
        return talker_from_lm(lm, feature_width, seed=self.config.seed).train(), tokenizer

    def _examples(self, talker, exchanges) -> list[TaskExample]:
        return task_examples(exchanges, self.config.tasks, talker.config.vocab,
                             self.config.max_answer_frames)

    def _save_final(self, talker, tokenizer) -> Path:
        final = save_talker(talker, self.out / "final", tokenizer)
        if self.config.snac:
            shutil.copytree(self.config.snac, final / "snac", dirs_exist_ok=True)
        else:  # the random codec the dataset factory coded the answers with
            save_snac(random_snac(0), final / "snac")
        return final

    def run(self) -> TrainReport:
        from accelerate import Accelerator
        from accelerate.utils import gather_object, set_seed
        from transformers import get_cosine_schedule_with_warmup

        config = self.config
        torch.set_num_threads(config.threads)
        set_seed(config.seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        self.out.mkdir(parents=True, exist_ok=True)
        exchanges = load_exchanges(config.data, config.subset, self.out / "hf-cache")
        if not exchanges:
            raise EngineError(f"{config.data}: subset {config.subset!r} has no exchanges")
        training, held = split(exchanges, config.held_out, config.seed)
        talker, tokenizer = self._talker(exchanges[0].question_features.shape[1])
        train_examples = self._examples(talker, training)
        held_examples = self._examples(talker, held)[:config.eval_examples]
        if not train_examples:
            raise EngineError(f"no training examples for tasks {config.tasks} in {config.data}")
        parameters, freezer = select_trainable(talker, config.train)
        accelerator = Accelerator(mixed_precision=config.precision, cpu=cpu_processes())
        optimizer = torch.optim.AdamW(parameters, lr=config.lr, betas=(0.9, 0.95),
                                      weight_decay=config.weight_decay)
        schedule = get_cosine_schedule_with_warmup(optimizer, config.warmup, config.steps)
        model, optimizer = accelerator.prepare(TrainingTalker(talker), optimizer)
        accelerator.register_for_checkpointing(schedule)
        report = TrainReport(asdict(config), config.steps, train_examples=len(train_examples),
                             held_out_examples=len(held_examples),
                             trainable_parameters=sum(p.numel() for p in parameters),
                             processes=accelerator.num_processes)
        start = resume_state(accelerator, self.out, report)
        tokens, started = 0, time.perf_counter()
        for step in range(start + 1, config.steps + 1):
            row = {"step": step, "lr": schedule.get_last_lr()[0]}
            seen: dict[str, list[float]] = {}  # each stream's loss in each micro-batch
            for micro in range(config.grad_accum):
                # Each process takes its own micro-batches of the one seeded order.
                micro_batch = ((step - 1) * config.grad_accum + micro) \
                    * accelerator.num_processes + accelerator.process_index
                indices = batch_positions(micro_batch, config.batch_size, len(train_examples),
                                          config.seed)
                batch = collate([train_examples[i] for i in indices], talker.config.vocab)
                tokens += batch.inputs.shape[0] * batch.inputs.shape[-1]
                last = micro == config.grad_accum - 1
                device = accelerator.device
                with (accelerator.no_sync(model) if not last else nullcontext()), \
                        accelerator.autocast():
                    features = {k: v.to(device) if isinstance(v, torch.Tensor) else v
                                for k, v in batch.model_inputs().items()}
                    losses = model(batch.inputs.to(device), batch.targets.to(device),
                                   **features)
                    loss = weighted_loss(losses, config) / config.grad_accum
                accelerator.backward(loss)
                for name, value in losses.items():
                    seen.setdefault(name, []).append(float(value.detach()))
            row["grad_norm"] = float(accelerator.clip_grad_norm_(parameters, config.max_grad_norm))
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            if freezer is not None:
                freezer.restore()
            stream_means = mean_over_processes(gather_object([seen]))
            row |= {"loss": sum(stream_means.values()) / len(stream_means), **stream_means}
            if not math.isfinite(row["loss"]):
                raise EngineError(f"step {step}: the loss is {row['loss']}; lower lr, or use "
                                  "precision = 'no'")
            report.history.append(row)
            evaluation = None
            main = accelerator.is_main_process
            if main and (step % config.eval_every == 0 or step == config.steps):
                evaluation = evaluate(talker, tokenizer, step, held_examples,
                                      held[:config.eval_examples], config.tasks,
                                      config.batch_size)
                report.evaluations.append(asdict(evaluation))
            if step % config.save_every == 0 or step == config.steps:
                save_state(accelerator, self.out, report, step)
            self.on_step(step, config.steps, row, evaluation)
        report.tokens_per_second = (tokens * accelerator.num_processes
                                    / max(time.perf_counter() - started, 1e-9))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            report.final = str(self._save_final(accelerator.unwrap_model(model).talker,
                                                tokenizer))
            plot_losses(report, self.out / "loss.png")
            write_json(self.out / "report.json", asdict(report))
        return report

def resume_state(accelerator, out: Path, report: TrainReport) -> int:
    """The step of the newest whole checkpoint in `out` (0: none), its state loaded."""
    for name in (CHECKPOINT, f"{CHECKPOINT}.old"):  # .old: killed mid-swap
        folder = out / name
        if (folder / STATE).is_file():
            accelerator.load_state(str(folder))
            state = json.loads((folder / STATE).read_text())
            report.history, report.evaluations = state["history"], state["evaluations"]
            return int(state["step"])
    return 0


def save_state(accelerator, out: Path, report: TrainReport, step: int) -> None:
    """The whole training state at `step`, swapped into `out/checkpoint` in one rename."""
    fresh, current = out / f"{CHECKPOINT}.tmp", out / CHECKPOINT
    old = out / f"{CHECKPOINT}.old"
    if accelerator.is_main_process:
        shutil.rmtree(fresh, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(fresh), safe_serialization=True)
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return
    write_json(fresh / STATE, {"step": step, "history": report.history,
                               "evaluations": report.evaluations})
    shutil.rmtree(old, ignore_errors=True)
    if current.exists():
        current.rename(old)
    fresh.rename(current)
    shutil.rmtree(old, ignore_errors=True)


def plot_losses(report: TrainReport, path: Path) -> None:
    """Training loss per stream (moving average) and held-out loss at each evaluation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5))
    steps = np.array([row["step"] for row in report.history])
    streams = sorted({k for row in report.history for k in row
                      if k in ("text", "state") or k.startswith("audio")})
    window = max(1, len(steps) // 40)
    colours = plt.get_cmap("tab10")
    for number, name in enumerate(streams):
        values = np.array([row.get(name, np.nan) for row in report.history], dtype=float)
        present = ~np.isnan(values)
        if present.sum() >= window:
            smooth = np.convolve(values[present], np.ones(window) / window, mode="valid")
            axis.plot(steps[present][window - 1:], smooth, color=colours(number), linewidth=1,
                      label=f"{name}: training")
        points = [(e["step"], e["losses"][name]) for e in report.evaluations
                  if name in e["losses"]]
        if points:
            axis.plot(*zip(*points, strict=True), "o--", color=colours(number), markersize=4,
                      label=f"{name}: held-out")
    axis.set_xlabel("step")
    axis.set_ylabel("cross-entropy")
    axis.set_yscale("log")
    axis.set_title(f"{report.config['name']} (training curves: moving average of {window})")
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
