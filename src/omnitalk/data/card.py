"""The build's report: the table printed at the end, and the dataset card (README.md)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.table import Table

from omnitalk.data.config import DataConfig
from omnitalk.data.export import hours, rate_summary, tiers
from omnitalk.data.pipeline import BuildReport


def _reasons(counter: Counter) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in counter.most_common()) or "-"


def stage_table(report: BuildReport) -> Table:
    table = Table(title="What each stage kept and dropped")
    for name in ("stage", "in", "kept", "dropped (why)", "failed", "reused", "notes"):
        table.add_column(name, justify="left" if name in ("stage", "dropped (why)", "notes")
                         else "right")
    if report.left_out:
        table.add_row("source", "", "", _reasons(report.left_out), "", "", "records left out")
    for stage in report.stages:
        table.add_row(stage.name, str(stage.received), str(stage.kept), _reasons(stage.dropped),
                      str(stage.failed), str(stage.reused), _reasons(stage.notes))
    return table


def _markdown_stage_rows(report: BuildReport) -> list[str]:
    rows = ["| stage | in | kept | dropped (why) | failed |", "|---|---|---|---|---|"]
    if report.left_out:
        rows.append(f"| source | | | {_reasons(report.left_out)} | |")
    rows += [f"| {s.name} | {s.received} | {s.kept} | {_reasons(s.dropped)} | {s.failed} |"
             for s in report.stages]
    return rows


def dataset_card(config: DataConfig, report: BuildReport) -> str:
    items = report.items
    synthesis = config.synthesis
    repeatable = not any([*synthesis.user_noise_scales, *synthesis.user_noise_w_scales,
                          synthesis.assistant_noise_scale, synthesis.assistant_noise_w_scale])
    lines = [
        f"# {config.name}", "",
        f"Spoken dialogue made by omnitalk's dataset factory (`omnitalk data build`) from the "
        f"{config.source.kind} source{f' {config.source.path}' if config.source.path else ''}. "
        f"Language: {config.language}. Seed {config.seed}.", "",
        "## Subsets (nested: each contains the ones above it)", "",
        "| subset | conversations | exchanges | user speech (h) | assistant speech (h) | "
        "user speakers |", "|---|---|---|---|---|---|",
    ]
    members: list = []
    for name, tier in tiers(items, config.export.subsets, config.seed).items():
        members += tier
        speakers = len({item.turns[0].speaker for item in members})
        exchanges = sum(len(item.exchanges()) for item in members)
        lines.append(f"| {name} | {len(members)} | {exchanges} | {hours(members, 'user'):.3f} "
                     f"| {hours(members, 'assistant'):.3f} | {speakers} |")
    speakers = Counter((t.speaker, t.gender) for item in items for t in item.turns
                       if t.role == "user")
    assistant = sorted({t.speaker for item in items for t in item.turns if t.role == "assistant"})
    metric = "CER" if config.language == "zh" else "WER"
    limit = config.verify.max_cer if config.language == "zh" else config.verify.max_wer
    codec = (f"SNAC from `{config.tokenise.snac}`" if config.tokenise.snac else
             "**a randomly initialised SNAC 24 kHz (seed 0): the codes have the right format "
             "but carry no speech; rebuild with real SNAC weights (`[tokenise] snac`) for "
             "training a real talker**")
    lines += [
        "", "## How it was made", "",
        f"Rewriting: {config.rewrite.backend} (spoken replies of at most "
        f"{config.rewrite.max_words} words). Speech: Piper; user voices "
        + ", ".join(f"{name} ({gender}, {n} conversations)" for (name, gender), n
                    in sorted(speakers.items()))
        + f"; assistant voice {', '.join(assistant) or '-'}. "
        f"ASR check: Whisper (faster-whisper), {metric} at most {limit:.0%}; kept items: "
        f"{rate_summary(items)}. "
        + ("Audio is reproducible bit for bit (no Piper noise)." if repeatable else
           "Audio is not reproducible bit for bit: Piper draws its noise without a seed."),
        "",
        f"Tokens: Whisper encoder features of the user turns (`question_whisper_npy`, .npy "
        f"float16); SNAC frames of every turn ([n, 7], Mini-Omni's order): {codec}; text ids "
        f"from {config.tokenise.text_tokenizer or 'the packaged SmolLM2-135M tokenizer'}.", "",
        *_markdown_stage_rows(report), "",
    ]
    dialogues = report.records.get("dialogues", [])
    interruptions = report.records.get("interruptions", [])
    if dialogues or interruptions:
        commands = sum(1 for r in interruptions if r["kind"] == "command")
        lines += [
            "## Duplex", "",
            f"- `dialogues`: {len(dialogues)} two-channel dialogues "
            f"({sum(r['seconds'] for r in dialogues) / 3600:.3f} h; user channel 0 with noise "
            f"at {config.duplex.snr_db[0]:g}-{config.duplex.snr_db[1]:g} dB SNR, assistant "
            "channel 1), each with its OmniFlatten-style flattened token stream.",
            f"- `interruptions`: {len(interruptions)} samples, {commands} with "
            f"\"{config.duplex.command}\" and {len(interruptions) - commands} with other speech, "
            "labelled per SNAC frame (1 = interrupt).", "",
        ]
    lines += [
        "## Loading", "", "```python",
        "import io, datasets, numpy as np, soundfile as sf",
        "# datasets caches a folder's tables by name: after a rebuild in place, load once with",
        "# download_mode=\"force_redownload\".",
        f"rows = datasets.load_dataset({str(Path(config.out_dir) / 'dataset')!r}, \"xs\", "
        "split=\"train\")",
        "audio, rate = sf.read(io.BytesIO(rows[0][\"question_audio\"][\"bytes\"]))",
        "features = np.load(io.BytesIO(rows[0][\"question_whisper_npy\"]))",
        "```", "",
    ]
    return "\n".join(lines)
