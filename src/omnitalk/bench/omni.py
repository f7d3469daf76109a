"""`omnitalk bench omni`: can a Mini-Omni-sized talker speak in real time on this machine?

Builds a randomly initialised talker of the released shape (Qwen2-0.5B body, 181,120-wide
vocabulary), a random Whisper-small encoder and a random SNAC 24 kHz codec, and measures, per
precision: decoding steps per second at batch 1 (speech) and batch 2 (Mini-Omni's
batch-parallel streaming mode), where a step's time goes, SNAC's real-time factor, the time from
a spoken question to the first audio chunk, and peak memory. Random weights cost what trained
ones cost; only the words are nonsense. Each precision runs in a fresh process, so that its
peak memory is its own.

One step is one 85.3 ms audio frame: real time means at most 85.3 ms per batch-2 step,
including its share of SNAC decoding (one chunk per `chunk_frames` steps), i.e. 11.72 steps/s.

With `sessions`, that many questions are answered at once through `OmniInference` (each in its
own thread, as the server's sessions are), their decode steps shared by `TalkerBatch` and their
SNAC chunks decoded in their own threads: a session's step time is its wall time per step from
its first token to its last, SNAC and the other sessions included.

A precision may name int8's kernel ("int8:dynamic", "int8:weight-only"); plain "int8" is the
one `quantize.int8_kernel` picks for this CPU.
"""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from rich.console import Console
from rich.table import Table

from omnitalk.bench.report import print_json, print_report

FRAME_MS = 2048 / 24000 * 1000  # 85.33 ms of audio per step
STEPS = 48
PRECISION_SPECS = ("fp32", "bf16", "int8", "int8:dynamic", "int8:weight-only")


def _median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def _timed_steps(iterator, skip: int = 3) -> list[float]:
    """Seconds between consecutive items of a decoding iterator (the first `skip` dropped)."""
    stamps = [time.perf_counter()]
    for _ in iterator:
        stamps.append(time.perf_counter())
    return list(np.diff(stamps))[skip:]


def _placeholder_tokenizer():
    """An empty byte-level BPE: the random model's text ids decode to nothing, at real cost."""
    from tokenizers import Tokenizer, decoders, models

    tokenizer = Tokenizer(models.BPE())
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def concurrent_answers(inference, question: np.ndarray, sessions: int) -> dict:
    """`sessions` answers at once: each one's ms per step (first token to last, SNAC and the
    other sessions included) and its time to first audio."""
    import threading

    from omnitalk.omni.inference import AnswerDone

    done: list[AnswerDone] = []
    failures: list[BaseException] = []

    def session() -> None:
        try:
            done.extend(e for e in inference.answer(question) if isinstance(e, AnswerDone))
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)

    threads = [threading.Thread(target=session) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    step_ms = [(a.seconds["encode"] + a.seconds["decode"] - a.seconds["first_text"])
               / max(1, a.steps - 1) * 1000 for a in done]
    first_audio = [a.seconds["first_audio"] * 1000 for a in done]
    return {"sessions": sessions, "step_ms": statistics.median(step_ms),
            "worst_step_ms": max(step_ms), "first_audio_ms": statistics.median(first_audio),
            "worst_first_audio_ms": max(first_audio), "steps": min(a.steps for a in done),
            "widest_step": inference.batch.widest}


def measure(spec: str, threads: int, question_seconds: float, seed: int,
            sessions: tuple[int, ...] = ()) -> dict:
    """Everything for one precision spec ("int8:dynamic"); runs in its own process."""
    import torch
    from snac import SNAC
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    from omnitalk.codec.snac import SNAC_24KHZ, SnacSpeech, StreamingSnacDecoder, for_inference
    from omnitalk.omni import layout as lo
    from omnitalk.omni.config import OmniConfig
    from omnitalk.omni.decoding import BATCH_PARALLEL, SPEECH, Talker, decode
    from omnitalk.omni.inference import AudioChunk, OmniInference
    from omnitalk.omni.model import OmniModel
    from omnitalk.omni.quantize import fast_codec_dtype, int8_kernel, set_precision
    from omnitalk.omni.settings import DecodingOptions, OmniSettings
    from omnitalk.omni.whisper import WhisperFeatures

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    precision, _, kernel = spec.partition(":")
    kernel = int8_kernel(kernel or "auto") if precision == "int8" else ""
    dtype = torch.float32 if precision == "fp32" else torch.bfloat16
    torch.set_default_dtype(dtype)  # built as the loader builds it: in the working precision
    model = set_precision(OmniModel(OmniConfig()).eval(), precision, kernel or "auto")
    torch.set_default_dtype(torch.float32)
    encoder = WhisperEncoder(WhisperConfig(num_mel_bins=80, d_model=768, encoder_layers=12,
                                           encoder_attention_heads=12, encoder_ffn_dim=3072,
                                           max_source_positions=1500))
    whisper = WhisperFeatures(encoder, 80, dtype)
    snac = for_inference(SNAC(**SNAC_24KHZ),
                         torch.float32 if precision == "fp32" else fast_codec_dtype())
    settings = OmniSettings(precision=precision, decoding=DecodingOptions(max_steps=STEPS))
    inference = OmniInference(model, _placeholder_tokenizer(), whisper, SnacSpeech(snac),
                              settings)
    weights_mb = sum(t.numel() * t.element_size()
                     for t in [*model.parameters(), *model.buffers()]) / 2**20

    frames = lo.whisper_frames(int(question_seconds * 16000))
    speech, text = lo.batch_speech_prompt(frames)
    features = torch.randn(2, frames, 768, dtype=dtype)
    inputs = {"audio_features": features, "audio_positions": speech.audio_positions}
    options = DecodingOptions(max_steps=STEPS)
    with torch.inference_mode():
        batch2 = _timed_steps(decode(model, [speech, text], BATCH_PARALLEL, options, inputs))
        single = {"audio_features": features[:1], "audio_positions": speech.audio_positions}
        batch1 = _timed_steps(decode(model, [speech], SPEECH, options, single))

        # Where a batch-2 step goes: the body (with the embedding), and each head slice.
        talker = Talker(model)
        hidden = talker.prefill(torch.from_numpy(np.stack([speech.ids, text.ids])), **inputs)
        step_ids = torch.from_numpy(np.stack([speech.ids[:, -1], text.ids[:, -1]]))
        parts: dict[str, list[float]] = {"body": [], "text head": [], "audio head": []}
        for _ in range(12):
            start = time.perf_counter()
            hidden = talker.step(step_ids)
            parts["body"].append(time.perf_counter() - start)
            start = time.perf_counter()
            model.text_logits(hidden[1]).argmax()
            parts["text head"].append(time.perf_counter() - start)
            start = time.perf_counter()
            model.audio_logits(hidden[0]).argmax(-1)
            parts["audio head"].append(time.perf_counter() - start)

    decoder = StreamingSnacDecoder(snac, settings.chunk_frames, settings.context_frames,
                                   settings.lookahead_frames)
    chunk_seconds = []
    for frame in np.random.default_rng(seed).integers(0, 4096, (40, 7)):
        start = time.perf_counter()
        if decoder.push(frame) is not None:
            chunk_seconds.append(time.perf_counter() - start)
    snac_chunk_ms = _median_ms(chunk_seconds[1:])

    question = (np.random.default_rng(seed).standard_normal(int(question_seconds * 16000))
                * 0.1).astype(np.float32)
    first_audio = []
    for _ in range(2):  # the first run warms allocations up; the second is reported
        start = time.perf_counter()
        for event in inference.answer(question):
            if isinstance(event, AudioChunk):
                first_audio.append(time.perf_counter() - start)
                break
    encode_start = time.perf_counter()
    whisper(question)
    encode_ms = (time.perf_counter() - encode_start) * 1000
    together = [concurrent_answers(inference, question, n) for n in sessions]

    step_b2 = _median_ms(batch2)
    return {
        "precision": precision,
        "int8_kernel": kernel,
        "codec_dtype": str(next(snac.parameters()).dtype).removeprefix("torch."),
        "sessions": together,
        "step_b1_ms": _median_ms(batch1),
        "step_b2_ms": step_b2,
        "parts_ms": {name: _median_ms(values) for name, values in parts.items()},
        "snac_chunk_ms": snac_chunk_ms,
        "snac_rtf": snac_chunk_ms / (settings.chunk_frames * FRAME_MS),
        "realtime_step_ms": step_b2 + snac_chunk_ms / settings.chunk_frames,
        "whisper_ms": encode_ms,
        "first_audio_ms": first_audio[-1] * 1000,
        "weights_mb": weights_mb,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "prompt_tokens": speech.length,
    }


def chunk_edges(seed: int = 0, frames: int = 40) -> list[dict[str, float]]:
    """Streamed SNAC audio against one whole-utterance decode, per chunking scheme.

    Random SNAC 24 kHz weights with its noise blocks silenced, so that two decodes of the same
    codes are comparable; the reference's scheme is context 0, lookahead 0.
    """
    import torch
    from snac import SNAC
    from snac.layers import NoiseBlock

    from omnitalk.codec.snac import SNAC_24KHZ, StreamingSnacDecoder, decode_frames, for_inference

    torch.manual_seed(seed)
    snac = SNAC(**SNAC_24KHZ)
    with torch.no_grad():
        for module in snac.modules():
            if isinstance(module, NoiseBlock):
                module.linear.parametrizations.weight.original0.zero_()
    snac = for_inference(snac)
    codes = np.random.default_rng(seed).integers(0, 4096, (frames, 7))
    whole = decode_frames(snac, codes)
    rows = []
    for context, lookahead in ((0, 0), (3, 0), (3, 1), (3, 2)):
        decoder = StreamingSnacDecoder(snac, 4, context, lookahead)
        chunks = [c for frame in codes if (c := decoder.push(frame)) is not None]
        if (tail := decoder.flush()) is not None:
            chunks.append(tail)
        error = np.concatenate(chunks) - whole
        snr = 10 * np.log10(np.sum(whole**2) / max(np.sum(error**2), 1e-30))
        rows.append({"context_frames": context, "lookahead_frames": lookahead,
                     "snr_db": float(snr), "max_error": float(np.abs(error).max()),
                     "peak": float(np.abs(whole).max())})
    return rows


def chunk_edges_table(rows: list[dict[str, float]], frames: int = 40) -> Table:
    table = Table(title=f"Streamed SNAC vs one whole decode ({frames} random frames, chunks of 4)")
    for name in ("context frames", "lookahead frames", "SNR dB", "max error", "peak"):
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(str(row["context_frames"]), str(row["lookahead_frames"]),
                      f"{row['snr_db']:.1f}", f"{row['max_error']:.4f}", f"{row['peak']:.3f}")
    return table


def _label(result: dict) -> str:
    kernel = result["int8_kernel"]
    return f"{result['precision']} ({kernel})" if kernel else result["precision"]


def sessions_table(results: list[dict]) -> Table:
    table = Table(title="Sessions answering at once (one shared decode step, SNAC in each "
                  f"session's thread): ms per step per session, real time <= {FRAME_MS:.1f}")
    for name in ("precision", "SNAC dtype", "sessions", "step ms (median / worst)",
                 "real time?", "first audio ms (median / worst)", "widest step"):
        table.add_column(name, justify="left" if name == "precision" else "right")
    for r in results:
        for row in r["sessions"]:
            table.add_row(_label(r), r["codec_dtype"], str(row["sessions"]),
                          f"{row['step_ms']:.1f} / {row['worst_step_ms']:.1f}",
                          "yes" if row["worst_step_ms"] <= FRAME_MS else "no",
                          f"{row['first_audio_ms']:.0f} / {row['worst_first_audio_ms']:.0f}",
                          str(row["widest_step"]))
    return table


def run(precisions: list[str], threads: int = 2, question_seconds: float = 3.0,
        seed: int = 0, json_line: bool = False, sessions: tuple[int, ...] = ()) -> list[dict]:
    results = []
    context = multiprocessing.get_context("spawn")
    for precision in precisions:
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            Console(stderr=True).print(f"measuring {precision} (a random 0.5B talker is built "
                                       "first)...")
            results.append(pool.submit(measure, precision, threads, question_seconds,
                                       seed, tuple(sessions)).result())
    prompt = results[0]["prompt_tokens"] if results else 0
    table = Table(title=f"Mini-Omni-sized talker, {threads} threads, a {question_seconds:g} s "
                  f"question ({prompt}-token prompt), medians; real time = "
                  f"{FRAME_MS:.1f} ms per step ({1000 / FRAME_MS:.2f} steps/s)")
    for name in ("precision", "steps/s b1", "steps/s b2", "b2 step ms", "body / text / audio "
                 "head ms", "SNAC chunk ms (RTF)", "b2 step + SNAC ms", "real time?",
                 "Whisper ms", "first audio ms", "weights MB", "peak RSS MB"):
        table.add_column(name, justify="left" if name == "precision" else "right")
    for r in results:
        parts = r["parts_ms"]
        table.add_row(
            _label(r), f"{1000 / r['step_b1_ms']:.1f}", f"{1000 / r['step_b2_ms']:.1f}",
            f"{r['step_b2_ms']:.1f}",
            f"{parts['body']:.1f} / {parts['text head']:.1f} / {parts['audio head']:.1f}",
            f"{r['snac_chunk_ms']:.0f} ({r['snac_rtf']:.2f})", f"{r['realtime_step_ms']:.1f}",
            "yes" if r["realtime_step_ms"] <= FRAME_MS else "no", f"{r['whisper_ms']:.0f}",
            f"{r['first_audio_ms']:.0f}", f"{r['weights_mb']:.0f}", f"{r['peak_rss_mb']:.0f}",
        )
    Console(width=max(120, Console().width)).print(table)
    if sessions:
        print_report(sessions_table(results))
    edges = chunk_edges(seed)
    print_report(chunk_edges_table(edges))
    if json_line:
        print_json("omni", {
            "threads": threads, "question_s": question_seconds, "frame_ms": FRAME_MS,
            "precisions": [{**r, "steps_per_s_b1": 1000 / r["step_b1_ms"],
                            "steps_per_s_b2": 1000 / r["step_b2_ms"],
                            "realtime": r["realtime_step_ms"] <= FRAME_MS,
                            "sessions": [{**row, "realtime": row["worst_step_ms"] <= FRAME_MS}
                                         for row in r["sessions"]]} for r in results],
            "snac_chunk_edges": edges})
    return results
