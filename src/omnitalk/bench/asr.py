"""`omnitalk bench asr`: word error rate and speed of the ASR engine on real speech."""

from __future__ import annotations

import csv
import statistics
import time
from pathlib import Path

import jiwer
from rich.table import Table

from omnitalk.audio.io import load_audio
from omnitalk.bench.report import print_json, print_report
from omnitalk.engines.base import ASR
from omnitalk.text.wer import normalise_for_wer


def read_fixtures(folder: Path) -> list[tuple[Path, str]]:
    """(audio file, reference transcript) pairs from a folder's transcripts.tsv."""
    listing = folder / "transcripts.tsv"
    if not listing.is_file():
        raise FileNotFoundError(f"{listing} not found (expected file<TAB>...<TAB>transcript)")
    with listing.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [(folder / row["file"], row["transcript"]) for row in rows]


def run(asr: ASR, folder: Path, repeats: int = 3, json_line: bool = False) -> float:
    """Prints per-file WER and timing; returns the overall WER."""
    table = Table(title=f"ASR on {folder}")
    for name in ("file", "seconds", "median ms", "RTF", "WER %", "hypothesis"):
        table.add_column(name, justify="left" if name in ("file", "hypothesis") else "right")
    references, hypotheses, files = [], [], []
    for path, reference in read_fixtures(folder):
        audio = load_audio(path, asr.sample_rate)
        times, text = [], ""
        for _ in range(repeats):
            start = time.perf_counter()
            text = asr.transcribe(audio)
            times.append(time.perf_counter() - start)
        times.sort()
        median = times[len(times) // 2]
        ref, hyp = normalise_for_wer(reference), normalise_for_wer(text)
        references.append(ref)
        hypotheses.append(hyp)
        seconds = audio.size / asr.sample_rate
        wer = jiwer.wer(ref, hyp)
        table.add_row(
            path.name, f"{seconds:.1f}", f"{median * 1000:.0f}", f"{median / seconds:.3f}",
            f"{wer * 100:.1f}", text,
        )
        files.append({"file": path.name, "audio_s": seconds, "transcribe_ms_median": median * 1000,
                      "rtf": median / seconds, "wer_percent": wer * 100, "hypothesis": text})
    overall = jiwer.wer(references, hypotheses)
    table.caption = f"overall WER (all words pooled): {overall * 100:.2f} %"
    print_report(table)
    if json_line:
        print_json("asr", {
            "repeats": repeats, "wer_percent_overall": overall * 100,
            "transcribe_ms_median": statistics.median(f["transcribe_ms_median"] for f in files),
            "rtf_median": statistics.median(f["rtf"] for f in files), "files": files})
    return overall
