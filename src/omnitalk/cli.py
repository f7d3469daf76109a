"""`omnitalk <verb>`: talk, chat, serve, bench, eval, data, train, export, models."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable, Collection
from pathlib import Path

DEFAULT_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "speech"


class _SomeFlags:
    """An argument group that adds only the flags in `only` (every flag when None). A flag left
    out reads as not given, so `_config_from` keeps the config file's setting for it."""

    def __init__(self, parser: argparse.ArgumentParser, title: str,
                 only: Collection[str] | None) -> None:
        self.parser, self.group, self.only = parser, parser.add_argument_group(title), only

    def add_argument(self, flag: str, **options) -> None:
        if self.only is None or flag in self.only:
            self.group.add_argument(flag, **options)
        else:
            self.parser.set_defaults(**{flag.removeprefix("--").replace("-", "_"): None})


def _engine_flags(parser: argparse.ArgumentParser, only: Collection[str] | None = None) -> None:
    """Model, responder and turn-taking flags; `only` narrows them to what one engine reads."""
    group = _SomeFlags(parser, "models (defaults: the packaged models)", only)
    group.add_argument("--config", type=Path, help="TOML file mirroring AssistantConfig")
    group.add_argument("--llm", choices=["llama-cpp", "transformers", "openai"],
                       help="LLM backend (default llama-cpp)")
    group.add_argument("--llm-model", help="GGUF file, HF model folder, or the server's model name")
    group.add_argument("--llm-url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1")
    group.add_argument("--llm-api-key", default=os.environ.get("OMNITALK_LLM_API_KEY"),
                       help="bearer key for --llm-url (env OMNITALK_LLM_API_KEY)")
    group.add_argument("--asr-model", help="CTranslate2 Whisper folder")
    group.add_argument("--tts-voice", help="Piper .onnx voice (its .onnx.json beside it)")
    group.add_argument("--system-prompt", help="replace the spoken-answer system prompt")
    omni = _SomeFlags(parser, "end-to-end model (--responder omni)", only)
    omni.add_argument("--responder", choices=["cascade", "omni"],
                      help="who answers: the cascade (default) or an end-to-end talker")
    omni.add_argument("--checkpoint", help="Mini-Omni / Mini-Omni2 folder (lit_model.pth, "
                      "model_config.yaml, tokenizer.json) or an omnitalk export; implies omni")
    omni.add_argument("--whisper", help="Whisper encoder: OpenAI small.pt or a transformers "
                      "folder (default CHECKPOINT/small.pt)")
    omni.add_argument("--snac", help="SNAC 24 kHz folder with config.json and pytorch_model.bin "
                      "(default CHECKPOINT/snac)")
    omni.add_argument("--omni-codec", choices=["snac", "voice"],
                      help="the talker's audio codes: snac (the released models; default) or "
                      "voice, the codec built here over the Piper voice (docs/codec.md)")
    omni.add_argument("--omni-precision", choices=["fp32", "bf16", "int8"],
                      help="fp32 (reference numerics), bf16, or int8 weights (default int8)")
    omni.add_argument("--omni-text", action="store_true",
                      help="the talker answers in text and Piper speaks it (for talkers "
                      "trained to answer in text, like stage 2 of omnitalk train)")
    turn = _SomeFlags(parser, "turn-taking", only)
    turn.add_argument("--silence-ms", type=int, help="silence that ends a turn (default 500)")
    turn.add_argument("--min-speech-ms", type=int, help="shortest speech that is a turn (250)")
    turn.add_argument("--vad-threshold", type=float, help="Silero speech probability (0.5)")
    turn.add_argument("--turn-policy", choices=["vad", "model"],
                      help="who ends a turn: silence (vad, default) or the duplex state head "
                      "(model: answers complete sentences at once, waits through unfinished "
                      "ones, ignores backchannels over a reply, obeys 'stop')")
    turn.add_argument("--state-head", help="a state head file for --turn-policy model "
                      "(default: the packaged one)")


def _config_from(args: argparse.Namespace):
    from omnitalk.assistant import load_config

    config = load_config(args.config)
    overrides = [
        (config.llm, "backend", args.llm),
        (config.llm, "model", args.llm_model),
        (config.llm, "base_url", args.llm_url),
        (config.llm, "api_key", args.llm_api_key),
        (config.asr, "model", args.asr_model),
        (config.tts, "voice", args.tts_voice),
        (config.cascade, "system_prompt", args.system_prompt),
        (config.session.turn, "silence_ms", args.silence_ms),
        (config.session.turn, "min_speech_ms", args.min_speech_ms),
        (config.session.turn, "threshold", args.vad_threshold),
        (config, "turn_policy", args.turn_policy),
        (config.turn_model, "head", args.state_head),
        (config, "responder", args.responder or ("omni" if args.checkpoint else None)),
        (config.omni.paths, "checkpoint", args.checkpoint),
        (config.omni.paths, "whisper", args.whisper),
        (config.omni.paths, "snac", args.snac),
        (config.omni, "precision", args.omni_precision),
        (config.omni, "codec", args.omni_codec),
        (config.omni, "speak", False if args.omni_text else None),
    ]
    for target, name, value in overrides:
        if value is not None:
            setattr(target, name, value)
    return config


def _load_assistant(args: argparse.Namespace, sessions: int = 1):
    """`sessions`: how many conversations will reply at once (each gets an LLM context)."""
    from rich.console import Console

    from omnitalk.assistant import Assistant

    console = Console(stderr=True)
    config = _config_from(args)
    config.llm.parallel = max(config.llm.parallel, sessions)
    with console.status("loading models..."):
        assistant = Assistant.load(config)
    loaded = ", ".join(f"{kind} {seconds}s" for kind, seconds in assistant.load_seconds.items())
    console.print(f"models ready ({loaded})")
    return assistant


def cmd_talk(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from omnitalk.audio.io import load_audio, write_wav
    from omnitalk.bench.questions import QUESTIONS
    from omnitalk.engines.speak import speak
    from omnitalk.talk import Feeder, iter_turns

    console = Console(stderr=True)
    if not args.inputs and not args.demo:
        console.print("[red]give audio files to play, or --demo for two built-in spoken questions")
        return 2
    turns, names = [], []
    for path in args.inputs:
        turns.append(load_audio(path, max_seconds=args.max_seconds))
        names.append(str(path))
    assistant = _load_assistant(args)
    if args.demo:
        for question in QUESTIONS[:2]:
            turns.append(speak(assistant.voice, question))
            names.append(f"demo: {question}")
    feeder = Feeder(realtime=not args.fast)
    session = feeder.session = assistant.new_session(on_event=feeder.on_event)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    summaries = []
    # Each turn is written as soon as it is over, so an interrupted run keeps the finished ones.
    results = iter_turns(session, feeder, turns)
    for index, (name, result) in enumerate(zip(names, results, strict=True), 1):
        summary = {
            "input": name,
            "transcript": result.transcript,
            "reply_text": result.reply_text,
            "timings": result.timings,
            "user_turns": result.user_turns,
            "reply_wav": None,
        }
        if not result.speech_detected:
            summary["error"] = "no speech detected in this input"
        if result.cancelled:
            summary["cancelled"] = result.cancelled
        if result.errors:
            summary["errors"] = result.errors
        if result.reply_audio.size:
            wav = args.out_dir / f"turn_{index:02d}.wav"
            write_wav(wav, result.reply_audio, result.sample_rate)
            summary["reply_wav"] = str(wav)
        (args.out_dir / f"turn_{index:02d}.json").write_text(json.dumps(summary, indent=2) + "\n")
        summaries.append(summary)
        if not args.json:
            console.print(f"[bold]{index}. you:[/] {result.transcript or '(nothing heard)'}")
            console.print(f"   [bold]assistant:[/] {result.reply_text}")
            shown = ", ".join(
                f"{stage} {value:.0f} ms"
                for stage, value in result.timings.items()
                if value is not None
            )
            console.print(f"   [dim]{shown or 'no reply'}")
            for error in result.errors:
                console.print(f"   [red]{escape(error)}")
    session.close()
    if args.json:
        print(json.dumps(summaries, indent=2))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from omnitalk.chat import MicrophoneUnavailable, run_chat

    try:
        return run_chat(_config_from(args), barge_in=not args.no_barge_in,
                        echo_cancel=not args.no_echo_cancel)
    except MicrophoneUnavailable as error:
        print(f"omnitalk chat: {error}", file=sys.stderr)
        return 2


def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    from rich.console import Console

    from omnitalk.assistant import Assistant
    from omnitalk.server.app import ServerConfig, serve
    from omnitalk.server.origins import OriginSyntaxError, normalise_origin

    console = Console(stderr=True)
    config = _config_from(args)  # a bad config file fails now, not in the background
    config.llm.parallel = max(config.llm.parallel, args.max_sessions)  # a reply per session
    try:
        for origin in args.allow_origin:
            normalise_origin(origin)
    except OriginSyntaxError as error:
        console.print(f"[red]--allow-origin: {error}")
        return 2
    server = ServerConfig(host=args.host, port=args.port, api_key=args.api_key or None,
                          max_sessions=args.max_sessions, record_dir=args.record_dir,
                          allowed_origins=tuple(args.allow_origin),
                          max_connections=args.max_connections, drain_s=args.drain_s)
    if server.host not in ("127.0.0.1", "localhost", "::1") and not server.api_key:
        console.print(f"[yellow]warning: listening on {server.host} without --api-key; anyone "
                      "who can reach this port can use the assistant")
    if (not 0 < server.port < 65536 or not 0 < server.max_sessions < server.max_connections
            or not server.drain_s >= 0):
        console.print("[red]--port must be 1-65535, --max-sessions at least 1, "
                      "--max-connections more than --max-sessions and --drain-s at least 0")
        return 2
    if server.record_dir is not None:
        try:
            server.record_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            console.print(f"[red]cannot write session records to {server.record_dir}: {error}")
            return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    console.print(f"omnitalk serving on http://{server.host}:{server.port}/ (models load in the "
                  "background; /readyz says when they are ready)")
    serve(server, lambda: Assistant.load(config))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from omnitalk.engines import packaged
    from omnitalk.engines.base import EngineError
    from omnitalk.engines.registry import BACKENDS

    table = Table(title="Packaged models")
    for name in ("model", "kind", "package", "version", "files"):
        table.add_column(name, overflow="fold")
    for model in packaged.ALL:
        try:
            files = "\n".join(str(p) for p in packaged.LOCATORS[model.name]())
        except EngineError as error:
            files = f"[red]{escape(str(error))}"
        table.add_row(model.name, model.kind, model.package, model.version() or "-", files)
    console = Console(width=max(140, Console().width))
    console.print(table)
    for kind, backends in BACKENDS.items():
        console.print(f"{kind} backends: {', '.join(backends)}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from omnitalk.data.build import build_dataset
    from omnitalk.data.config import load_data_config

    config = load_data_config(args.config)
    for target, name, value in ((config, "out_dir", args.out_dir),
                                (config, "workers", args.workers),
                                (config.source, "limit", args.limit)):
        if value is not None:
            setattr(target, name, str(value) if name == "out_dir" else value)
    if config.workers < 1 or config.source.limit < 0:
        print("omnitalk data: --workers must be at least 1 and --limit at least 0",
              file=sys.stderr)
        return 2
    build_dataset(config)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from omnitalk.train.config import check, load_train_config
    from omnitalk.train.run import train_stage

    if args.config == "state-head":
        return _train_state_head(args)
    if args.config == "codec":
        return _train_codec(args)
    if args.quantizer is not None:
        print("omnitalk train: --quantizer is for `train codec`", file=sys.stderr)
        return 2
    if args.episodes is not None or args.seed is not None or args.reader_precision is not None:
        print("omnitalk train: --episodes, --seed and --reader-precision are for `train "
              "state-head`; a stage takes its seed from its TOML file", file=sys.stderr)
        return 2
    config = load_train_config(args.config)
    for name in ("out_dir", "data", "init", "backbone", "steps", "precision"):
        value = getattr(args, name)
        if value is not None:
            setattr(config, name, str(value) if isinstance(value, Path) else value)
    check(config, "the command line")
    train_stage(config)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import shutil

    from rich.console import Console

    from omnitalk.omni.checkpoint import export_safetensors, load_checkpoint

    console = Console(stderr=True)
    with console.status(f"loading {args.checkpoint}..."):
        checkpoint = load_checkpoint(args.checkpoint)
    out = export_safetensors(checkpoint, args.out_dir)
    # The encoders and the codec travel with the talker, so the export is a whole --checkpoint.
    for name in ("small.pt", "whisper", "snac", "ViT-B-32.pt"):
        source, target = args.checkpoint / name, out / name
        if source.is_dir() and not target.exists():
            shutil.copytree(source, target)
        elif source.is_file() and not target.exists():
            shutil.copyfile(source, target)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    console.print(f"wrote {out} ({size:.0f} MB): load it with --checkpoint {out}")
    return 0


def _calibrate_machine() -> None:
    """The machine's GEMM calibration, measured before any model loads: idle engine thread
    pools would skew it. Every table footer and JSON line reuses it."""
    from omnitalk.bench.report import machine

    machine()


def cmd_bench_latency(args: argparse.Namespace) -> int:
    from omnitalk.bench import latency

    fixtures = args.fixtures if args.fixtures.is_dir() else None
    if args.long and fixtures is None:
        print(f"omnitalk bench latency: --long needs the real recordings; no folder at "
              f"{args.fixtures}", file=sys.stderr)
        return 2
    _calibrate_machine()
    latency.run(_load_assistant(args), fixtures, realtime=not args.fast, rounds=args.rounds,
                plot=args.plot, json_line=args.json, long=args.long)
    return 0


def cmd_bench_asr(args: argparse.Namespace) -> int:
    from omnitalk.bench import asr
    from omnitalk.engines import registry

    config = _config_from(args)
    _calibrate_machine()
    asr.run(registry.create("asr", config.asr), args.fixtures, repeats=args.repeats,
            json_line=args.json)
    return 0


def cmd_bench_llm(args: argparse.Namespace) -> int:
    from omnitalk.bench import llm

    _calibrate_machine()
    llm.run(_config_from(args), repeats=args.repeats, json_line=args.json)
    return 0


def cmd_bench_serve(args: argparse.Namespace) -> int:
    from omnitalk.bench import serve

    try:
        sessions = [int(n) for n in args.sessions.split(",")]
    except ValueError:
        sessions = []
    if not sessions or min(sessions) < 1 or args.rounds < 1:
        print("omnitalk bench: --sessions wants counts like 1,2,4,8 and --rounds >= 1",
              file=sys.stderr)
        return 2
    _calibrate_machine()
    serve.run(_load_assistant(args, max(sessions)), sessions, rounds=args.rounds,
              json_line=args.json)
    return 0


def cmd_bench_omni(args: argparse.Namespace) -> int:
    from omnitalk.bench import omni

    precisions = [p for p in args.precisions.split(",") if p]
    if not precisions or set(precisions) - set(omni.PRECISION_SPECS):
        print("omnitalk bench: --precisions wants a list from "
              f"{','.join(omni.PRECISION_SPECS)}", file=sys.stderr)
        return 2
    try:
        sessions = [int(n) for n in args.sessions.split(",") if n]
    except ValueError:
        sessions = [0]
    if any(n < 1 for n in sessions):
        print("omnitalk bench: --sessions wants positive counts, e.g. 1,2,4", file=sys.stderr)
        return 2
    _calibrate_machine()
    omni.run(precisions, threads=args.threads, question_seconds=args.question_seconds,
             json_line=args.json, sessions=tuple(sessions))
    return 0


def cmd_bench_data(args: argparse.Namespace) -> int:
    from omnitalk.bench import data

    if args.items < 1 or args.workers < 1:
        print("omnitalk bench: --items and --workers must be at least 1", file=sys.stderr)
        return 2
    _calibrate_machine()
    data.run(items=args.items, workers=args.workers, json_line=args.json)
    return 0


def _train_state_head(args: argparse.Namespace) -> int:
    from omnitalk.train.run import train_state_head_with_progress
    from omnitalk.train.state_head import StateHeadConfig

    stage_only = [flag for flag in ("data", "init", "precision") if getattr(args, flag) is not None]
    if stage_only:
        print(f"omnitalk train state-head: --{stage_only[0]} is for a talker stage (the head's "
              "backbone precision is --reader-precision)", file=sys.stderr)
        return 2
    config = StateHeadConfig()
    if args.reader_precision is not None:
        config.precision = args.reader_precision
    for name in ("out_dir", "backbone", "steps", "episodes", "seed"):
        value = getattr(args, name)
        if value is not None:
            setattr(config, name, str(value) if isinstance(value, Path) else value)
    if config.steps < 1 or config.episodes < 0:
        print("omnitalk train state-head: --steps must be at least 1 and --episodes at least 0",
              file=sys.stderr)
        return 2
    train_state_head_with_progress(config)
    return 0


def _train_codec(args: argparse.Namespace) -> int:
    from omnitalk.codec.voice_training import CodecTrainConfig, train_codec

    other = [flag for flag in ("data", "init", "backbone", "precision", "episodes",
                               "reader_precision") if getattr(args, flag) is not None]
    if other:
        print(f"omnitalk train codec: --{other[0].replace('_', '-')} is not a codec setting "
              "(it takes --out-dir, --steps, --seed and --quantizer)", file=sys.stderr)
        return 2
    config = CodecTrainConfig()
    for name in ("out_dir", "steps", "seed", "quantizer"):
        value = getattr(args, name)
        if value is not None:
            setattr(config, name, str(value) if isinstance(value, Path) else value)
    if config.steps < 1:
        print("omnitalk train codec: --steps must be at least 1", file=sys.stderr)
        return 2
    _, report = train_codec(config, lambda message: print(message, file=sys.stderr, flush=True))
    print(f"codec written to {report['out_dir']} ({report['sentences']} sentences, "
          f"{report['z_frames']} z-frames, {report['seconds']:.0f} s of training); "
          f"check it with: omnitalk eval codec --codec {report['out_dir']}")
    return 0


def cmd_eval(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    parser.print_help(sys.stderr)
    print("omnitalk eval: name an evaluation (duplex, codec)", file=sys.stderr)
    return 2


def cmd_eval_codec(args: argparse.Namespace) -> int:
    from rich.console import Console

    from omnitalk.bench.report import print_json, print_report
    from omnitalk.codec.voice_codec import PACKAGED
    from omnitalk.engines.base import EngineError
    from omnitalk.eval.codec import edges_table, evaluate, table

    if args.limit < 0:
        print("omnitalk eval codec: --limit must be at least 0", file=sys.stderr)
        return 2
    console = Console(stderr=True)
    try:
        with console.status("evaluating...") as status:
            results = evaluate([str(c) for c in args.codec or [PACKAGED]], str(args.voice or ""),
                               args.limit, lambda message: status.update(message))
    except EngineError as error:
        print(f"omnitalk eval codec: {error}", file=sys.stderr)
        return 2
    wide = Console(width=max(160, Console().width))
    wide.print(table(results))
    print_report(edges_table(results), wide)
    if args.json:
        print_json("eval codec", results)
    return 0


def cmd_eval_duplex(args: argparse.Namespace) -> int:
    from rich.console import Console

    from omnitalk.bench.report import print_json, print_report
    from omnitalk.eval.duplex import DuplexEvalConfig, run, tables

    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    if args.episodes < 8 or set(sets) - {"seen", "unseen", "real"} or not sets:
        print("omnitalk eval duplex: --episodes must be at least 8 and --sets a list of seen, "
              "unseen and real", file=sys.stderr)
        return 2
    if "real" in sets and not args.fixtures.is_dir():
        print(f"omnitalk eval duplex: no folder of real recordings at {args.fixtures} (give "
              "--fixtures, or leave real out of --sets)", file=sys.stderr)
        return 2
    config = DuplexEvalConfig(episodes=args.episodes, head=str(args.head or ""),
                              smart_turn=not args.no_smart_turn, plot=str(args.plot or ""),
                              cases=str(args.cases or ""), sets=sets,
                              fixtures=str(args.fixtures))
    console = Console(stderr=True)
    with console.status("evaluating...") as status:
        results = run(config, lambda message: status.update(message))
    for table in tables(results)[:-1]:
        Console(width=max(160, Console().width)).print(table)
    last = tables(results)[-1]
    print_report(last, Console(width=max(160, Console().width)))
    print(f"median per decision: transcription {results['asr_ms_median']:.0f} ms, state head "
          f"{results['head_ms_median']:.0f} ms; smart turn: {results['smart_turn']}"
          + (f"; plot {results['plot']}" if config.plot else ""))
    if args.json:
        print_json("eval duplex", results)
    return 0


def _add_bench(verbs: argparse._SubParsersAction) -> None:
    bench = verbs.add_parser(
        "bench", help="measure speed: latency, ASR, LLM, serving, the end-to-end talker, "
        "dataset making",
        description="Speed benchmarks. Each prints its table(s) with a footer naming the machine "
        "(CPU, its flags, a float32 GEMM calibration in GFLOP/s); with --json the last line of "
        "stdout is one JSON object of the same figures and the machine.")
    benchmarks = bench.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")

    def benchmark(name: str, run: Callable[[argparse.Namespace], int], help: str,
                  description: str) -> argparse.ArgumentParser:
        parser = benchmarks.add_parser(name, help=help, description=description)
        parser.set_defaults(run=run)
        return parser

    def fixtures_flag(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES.resolve(),
                            help="folder with audio files and transcripts.tsv")

    latency = benchmark(
        "latency", cmd_bench_latency, help="voice-to-voice latency of the assistant, by stage",
        description="Play the speech fixtures and six synthetic spoken questions into fresh "
        "sessions, in real time, and measure from the end of the user's speech to the final "
        "transcript, the first LLM token, the first reply audio and the end of the reply.")
    fixtures_flag(latency)
    latency.add_argument("--fast", action="store_true", help="do not play in real time")
    latency.add_argument("--rounds", type=int, default=1,
                         help="passes over the inputs (default 1)")
    latency.add_argument("--plot", type=Path, help="write a PNG chart here")
    latency.add_argument("--long", action="store_true",
                         help="also long turns: the recordings run together into 15 s and 60 s")
    _engine_flags(latency)

    asr = benchmark(
        "asr", cmd_bench_asr, help="word error rate and speed of the ASR engine",
        description="Transcribe each speech fixture and report its time, real-time factor and "
        "word error rate against transcripts.tsv, and the pooled WER.")
    fixtures_flag(asr)
    asr.add_argument("--repeats", type=int, default=3, help="runs per file (default 3)")
    _engine_flags(asr, only={"--config", "--asr-model"})

    llm = benchmark(
        "llm", cmd_bench_llm, help="load time, first token and generation speed per local "
        "LLM backend",
        description="Load the model in llama-cpp and in transformers and answer six questions "
        "with each: load seconds, time to the first token and deltas per second (medians).")
    llm.add_argument("--repeats", type=int, default=3,
                     help="passes over the questions (default 3)")
    _engine_flags(llm, only={"--config", "--llm-model", "--system-prompt"})

    serve = benchmark(
        "serve", cmd_bench_serve, help="latency of the real server under concurrent sessions",
        description="Run the server in-process and have N clients talk to /v1/stream at once "
        "like microphones; measure from the last speech sample sent to the first reply audio "
        "received, beside the server's own stage timings.")
    serve.add_argument("--sessions", default="1,2,4,8",
                       help="concurrent session counts to measure (default 1,2,4,8)")
    serve.add_argument("--rounds", type=int, default=2,
                       help="questions per session (default 2)")
    _engine_flags(serve)

    omni = benchmark(
        "omni", cmd_bench_omni, help="can a Mini-Omni-sized talker speak in real time here",
        description="Build a random talker of Mini-Omni's released shape, with random Whisper "
        "and SNAC, and measure per precision: decoding steps per second, where a step goes, "
        "SNAC's real-time factor, time to first audio and peak memory; then how streamed SNAC "
        "chunks differ from one whole decode. Needs no weights.")
    omni.add_argument("--precisions", default="fp32,bf16,int8",
                      help="talker precisions to measure (default fp32,bf16,int8; int8 "
                      "uses the kernel picked for this CPU, int8:dynamic and "
                      "int8:weight-only name one)")
    omni.add_argument("--sessions", default="",
                      help="also answer this many questions at once, e.g. 1,2,4: ms per step "
                      "per session and time to first audio (default: none)")
    omni.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    omni.add_argument("--question-seconds", type=float, default=3.0,
                      help="length of the spoken question (default 3)")

    data = benchmark(
        "data", cmd_bench_data, help="how fast the dataset factory synthesises and verifies "
        "speech",
        description="Time Piper synthesis and Whisper verification of sample conversations in "
        "one process (real-time factor, conversations per minute), then a whole build of the "
        "same conversations with worker processes, model loading included.")
    data.add_argument("--items", type=int, default=24,
                      help="sample conversations to synthesise and verify (default 24)")
    data.add_argument("--workers", type=int, default=2,
                      help="worker processes of the whole build (default 2)")
    for parser in benchmarks.choices.values():  # last, after each benchmark's own options
        parser.add_argument("--json", action="store_true",
                            help="end stdout with one JSON line: the figures and the machine")


def _add_eval(verbs: argparse._SubParsersAction) -> None:
    evaluate = verbs.add_parser(
        "eval", help="measure quality: duplex turn-taking, the voice codec",
        description="Quality evaluations: what the models get right, where bench measures how "
        "fast they run. Talker speech-text consistency is planned.")
    evaluate.set_defaults(run=functools.partial(cmd_eval, evaluate))
    kinds = evaluate.add_subparsers(title="evaluations", metavar="EVALUATION")
    duplex = kinds.add_parser(
        "duplex", help="turn-taking policies side by side (vad, model, Smart Turn)",
        description="Replays held-out spoken episodes (finished and paused turns; "
        "backchannels, coughs, noise, interruptions and stop commands over a reply) and the "
        "real recordings through each turn policy, on the same VAD and transcripts, and "
        "reports Acc@K, endpoint delay, premature ends, false barge-ins and stop recall "
        "(docs/duplex.md).")
    duplex.add_argument("--episodes", type=int, default=96,
                        help="simulated episodes per voice set (default 96)")
    duplex.add_argument("--sets", default="seen,unseen,real",
                        help="seen (training voice families), unseen (Flite), real "
                        "(recordings); default all")
    duplex.add_argument("--head", type=Path, help="a state head file (default: the packaged)")
    duplex.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES.resolve(),
                        help="folder of real recordings (default ../shared/fixtures/speech)")
    duplex.add_argument("--no-smart-turn", action="store_true",
                        help="leave out the Smart Turn v3.2 peer")
    duplex.add_argument("--plot", type=Path, help="PNG: endpoint delay vs premature ends")
    duplex.add_argument("--cases", type=Path,
                        help="JSONL: every episode's transcripts and each policy's decisions")
    duplex.add_argument("--json", action="store_true", help="one JSON object as the last line")
    duplex.set_defaults(run=cmd_eval_duplex)
    codec = kinds.add_parser(
        "codec", help="the voice codec's round trip: word error rate, log-mel distance, usage",
        description="Speaks the held-out sample answers with the installed Piper voice, codes "
        "their z with each codec and back, decodes with the voice's own decoder, and compares "
        "Whisper tiny.en's transcripts of the original and of each round trip (docs/codec.md).")
    codec.add_argument("--codec", type=Path, action="append",
                       help="a codec folder from `omnitalk train codec` (repeat to compare; "
                       "default: the packaged codec of en_US-joe-medium)")
    codec.add_argument("--voice", type=Path, help="a Piper .onnx (default: the packaged voice)")
    codec.add_argument("--limit", type=int, default=0,
                       help="evaluate only the first N held-out answers (default all)")
    codec.add_argument("--json", action="store_true", help="one JSON object as the last line")
    codec.set_defaults(run=cmd_eval_codec)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omnitalk", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    talk = verbs.add_parser("talk", help="play audio files into the assistant as user turns",
                            description="Play each file as a user turn, in real time; write "
                            "each reply as WAV and a JSON summary per turn.")
    talk.add_argument("inputs", nargs="*", type=Path, help="audio files (any format ffmpeg reads)")
    talk.add_argument("--out-dir", type=Path, default=Path("out/talk"))
    talk.add_argument("--json", action="store_true", help="print the turn summaries as JSON")
    talk.add_argument("--fast", action="store_true",
                      help="feed audio as fast as it is taken instead of in real time")
    talk.add_argument("--demo", action="store_true", help="add two built-in spoken questions")
    talk.add_argument("--max-seconds", type=float, default=600.0, help="longest input accepted")
    _engine_flags(talk)
    talk.set_defaults(run=cmd_talk)

    chat = verbs.add_parser("chat", help="live conversation through the microphone")
    chat.add_argument("--no-barge-in", action="store_true",
                      help="do not let speech interrupt replies (use with speakers, no headset)")
    chat.add_argument("--no-echo-cancel", action="store_true",
                      help="do not remove the assistant's own voice from the microphone "
                      "(echo cancellation is on by default; not needed with a headset)")
    _engine_flags(chat)
    chat.set_defaults(run=cmd_chat)

    serve = verbs.add_parser(
        "serve", help="web page + OpenAI Realtime and raw PCM WebSockets",
        description="Serve the assistant: the web page at /, the OpenAI Realtime protocol at "
        "/v1/realtime and raw PCM16 at /v1/stream (docs/protocol.md).")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--api-key", default=os.environ.get("OMNITALK_API_KEY"),
                       help="require this key on every route and socket (env OMNITALK_API_KEY)")
    serve.add_argument("--max-sessions", type=int, default=4,
                       help="concurrent conversations; more are refused (default 4)")
    serve.add_argument("--max-connections", type=int, default=1000,
                       help="open sockets of every kind; when full, the longest-idle one is "
                       "dropped for a new one (default 1000)")
    serve.add_argument("--drain-s", type=float, default=60.0,
                       help="on SIGTERM, refuse new sessions and let running ones go on this "
                       "long before closing them (default 60; SIGINT stops at once)")
    serve.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                       help="let web pages from ORIGIN (http(s)://host[:port]) open the sockets; "
                       "repeatable. The server's own page always may; other sites may not")
    serve.add_argument("--record-dir", type=Path,
                       help="write each session's events (JSONL) and audio (WAV) here")
    _engine_flags(serve)
    serve.set_defaults(run=cmd_serve)

    data = verbs.add_parser(
        "data", help="build spoken-dialogue training data from text conversations",
        description="Rewrite, filter, normalise, synthesise (Piper), verify (Whisper), tokenise "
        "and export text conversations as spoken dialogue, resumably: run the same command "
        "again after an interruption and it goes on where it stopped (docs/data.md).")
    data_verbs = data.add_subparsers(dest="data_verb", required=True, metavar="ACTION")
    build = data_verbs.add_parser("build", help="run a build described by a TOML file",
                                  description="Without CONFIG, builds the built-in sample set.")
    build.add_argument("config", nargs="?", type=Path, help="TOML file (see docs/data.md)")
    build.add_argument("--out-dir", type=Path, help="override out_dir")
    build.add_argument("--workers", type=int, help="worker processes for the model stages")
    build.add_argument("--limit", type=int, help="only the first N conversations (0: all)")
    build.set_defaults(run=cmd_data)

    train = verbs.add_parser(
        "train", help="teach a causal LM to hear and speak, stage by stage",
        description="Run one stage of the recipe (docs/train.md): stage1-align, stage2-adapt, "
        "stage3-speak, stage3-tiny, freeze-omni, or a TOML file; `omnitalk train state-head` "
        "trains the duplex turn-taking head (docs/duplex.md), `omnitalk train codec` the "
        "voice codec (docs/codec.md). A stage that finds its "
        "checkpoint in out_dir goes on from it. For several processes (GPUs, or CPU "
        "processes over gloo): torchrun --nproc_per_node N -m omnitalk.cli train CONFIG.")
    train.add_argument("config", help="a shipped stage name, a TOML file, state-head (the "
                       "duplex turn-taking head: examples from spoken episodes, then training) "
                       "or codec (the voice codec over Piper's latent)")
    train.add_argument("--out-dir", type=Path, help="override out_dir")
    train.add_argument("--data", type=Path, help="override data (a dataset folder)")
    train.add_argument("--init", type=Path, help="start from this talker checkpoint")
    train.add_argument("--backbone", help="a transformers folder or .gguf to make a talker of")
    train.add_argument("--steps", type=int, help="override steps")
    train.add_argument("--precision", choices=["no", "bf16", "fp16"],
                       help="override precision")
    train.add_argument("--episodes", type=int,
                       help="state-head: spoken episodes to make examples from (default 560)")
    train.add_argument("--seed", type=int, help="state-head and codec: the seed of episodes "
                       "and batches")
    train.add_argument("--quantizer", choices=["simvq", "vq"],
                       help="codec: SimVQ (default) or plain VQ codebooks")
    train.add_argument("--reader-precision", choices=["fp32", "int8"],
                       help="state-head: what the frozen backbone computes in, in training and "
                       "at run time (default fp32; int8 decides faster and a little worse)")
    train.set_defaults(run=cmd_train)

    export = verbs.add_parser(
        "export", help="convert a Mini-Omni checkpoint folder to safetensors",
        description="Read a released Mini-Omni / Mini-Omni2 folder (lit_model.pth, "
        "model_config.yaml, tokenizer.json) and write model.safetensors (the tied head stored "
        "once), omni_config.json and the tokenizer, plus any small.pt, snac/ or ViT-B-32.pt.")
    export.add_argument("checkpoint", type=Path, help="the released checkpoint folder")
    export.add_argument("out_dir", type=Path, help="where to write the export")
    export.set_defaults(run=cmd_export)

    models = verbs.add_parser("models", help="list the packaged models and where their files are")
    models.set_defaults(run=cmd_models)

    _add_bench(verbs)
    _add_eval(verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from omnitalk.audio.io import AudioDecodeError
    from omnitalk.config_file import ConfigError
    from omnitalk.engines.base import EngineError

    try:
        return args.run(args)
    except (AudioDecodeError, ConfigError, EngineError, FileNotFoundError) as error:
        print(f"omnitalk {args.verb}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
