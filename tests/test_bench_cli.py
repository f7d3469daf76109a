"""`omnitalk bench` and `omnitalk eval` as sub-command groups: each benchmark takes only its own
flags and ends with a JSON line that names the machine. The benchmarks themselves need the real
models (`bench data --items 4` takes 1.5 minutes here), so only `latency` runs, on fakes."""

from __future__ import annotations

import dataclasses
import json
import re
import sys

import numpy as np
import pytest

from fakes import RATE, EnergyVAD, ScriptedASR, ScriptedLLM, SilentTTS, silence, tone
from omnitalk.agent.responders.cascade import CascadeResponder
from omnitalk.assistant import AssistantConfig
from omnitalk.bench import latency
from omnitalk.bench.questions import QUESTIONS
from omnitalk.bench.report import (
    CPU_FLAGS,
    Machine,
    machine,
    percentile_figures,
    print_json,
    read_cpuinfo,
)
from omnitalk.cli import _config_from, build_parser, main
from serving import FakeAssistant

ENGINE_FLAGS = {"--config", "--llm", "--llm-model", "--llm-url", "--llm-api-key", "--asr-model",
                "--tts-voice", "--system-prompt", "--responder", "--checkpoint", "--whisper",
                "--snac", "--omni-codec", "--omni-precision", "--omni-text", "--silence-ms",
                "--min-speech-ms", "--vad-threshold", "--turn-policy", "--state-head"}
OWN_FLAGS = {
    "latency": {"--fixtures", "--fast", "--rounds", "--plot", "--long"} | ENGINE_FLAGS,
    "asr": {"--fixtures", "--repeats", "--config", "--asr-model"},
    "llm": {"--repeats", "--config", "--llm-model", "--system-prompt"},
    "serve": {"--sessions", "--rounds"} | ENGINE_FLAGS,
    "omni": {"--precisions", "--threads", "--question-seconds", "--sessions"},
    "data": {"--items", "--workers"},
}


def help_text(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def options_in(help: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", help))


def test_bench_omni_help_shows_only_its_own_options(capsys):
    options = options_in(help_text(capsys, ["bench", "omni"]))
    assert {"--precisions", "--threads", "--question-seconds", "--sessions", "--json"} <= options
    assert not {"--checkpoint", "--fixtures", "--rounds", "--config", "--items"} & options


@pytest.mark.parametrize("benchmark", sorted(OWN_FLAGS))
def test_each_benchmark_has_its_help_and_exactly_its_flags(capsys, benchmark):
    text = help_text(capsys, ["bench", benchmark])
    assert f"omnitalk bench {benchmark}" in text
    assert options_in(text) == OWN_FLAGS[benchmark] | {"--help", "--json"}


def test_bench_help_lists_every_benchmark(capsys):
    text = help_text(capsys, ["bench"])
    for benchmark in OWN_FLAGS:
        assert re.search(rf"^\s+{benchmark}\s+\S", text, re.MULTILINE), benchmark


@pytest.mark.parametrize("argv", [
    ["bench", "omni", "--checkpoint", "mini-omni"],
    ["bench", "data", "--sessions", "2"],
    ["bench", "asr", "--llm", "openai"],
    ["bench", "llm", "--llm-url", "http://127.0.0.1:8080/v1"],
    ["bench", "serve", "--items", "3"],
    ["bench", "latency", "--precisions", "int8"],
])
def test_a_flag_of_another_benchmark_is_refused(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_bench_without_a_benchmark_says_which_are_there(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench"])
    assert exit_.value.code == 2
    assert "BENCHMARK" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["bench", "omni", "--precisions", "fp64"], "--precisions wants a list from fp32,bf16,int8,"),
    (["bench", "omni", "--sessions", "1,0"], "--sessions wants positive counts"),
    (["bench", "omni", "--sessions", "two"], "--sessions wants positive counts"),
    (["bench", "serve", "--sessions", "1,x"], "--sessions wants counts like 1,2,4,8"),
    (["bench", "serve", "--rounds", "0"], "--rounds >= 1"),
    (["bench", "data", "--items", "0"], "--items and --workers must be at least 1"),
])
def test_bad_values_are_refused_before_anything_loads(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_narrow_benchmark_leaves_the_flags_it_lacks_to_the_config():
    args = build_parser().parse_args(["bench", "llm", "--llm-model", "model.gguf",
                                      "--system-prompt", "Be brief."])
    config = _config_from(args)
    assert config.llm.model == "model.gguf" and config.cascade.system_prompt == "Be brief."
    assert config.llm.backend == "llama-cpp" and config.responder == "cascade"


def test_eval_without_an_evaluation_prints_its_help_and_names_them(capsys):
    assert main(["eval"]) == 2
    err = capsys.readouterr().err
    assert "usage: omnitalk eval" in err
    assert "omnitalk eval: name an evaluation (duplex, codec)" in err


def test_eval_duplex_has_its_own_flags_and_refuses_bad_ones(capsys):
    text = " ".join(help_text(capsys, ["eval", "duplex"]).split())
    for flag in ("--episodes", "--sets", "--head", "--no-smart-turn", "--plot", "--json"):
        assert flag in text
    assert re.search(r"^\s+eval\s+measure quality", help_text(capsys, []), re.MULTILINE)
    assert main(["eval", "duplex", "--sets", "seen,elsewhere"]) == 2
    assert "--sets a list of seen, unseen and real" in capsys.readouterr().err
    assert main(["eval", "duplex", "--episodes", "3"]) == 2


def test_the_machine_fingerprint_has_every_field_and_a_positive_calibration():
    found = machine()
    assert found is machine()  # the calibration runs once per process
    assert found.cpu_model and found.cpu_vendor and found.cores >= 1
    assert set(found.cpu_flags) == set(CPU_FLAGS)
    assert all(isinstance(present, bool) for present in found.cpu_flags.values())
    assert found.gemm_gflops_median > 0
    assert found.python == sys.version.split()[0]
    record = json.loads(json.dumps(dataclasses.asdict(found)))
    assert set(record) == {field.name for field in dataclasses.fields(Machine)}
    summary = found.summary()
    assert found.cpu_model in summary and "GFLOP/s" in summary


def test_cpuinfo_fields_come_from_the_first_processor(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
                    "model name\t: AMD EPYC 9R14\nstepping\t: 1\nflags\t\t: fpu avx2 avx512f "
                    "avx512_bf16 avx512_vnni\n\nprocessor\t: 1\nmodel name\t: other\n")
    fields = read_cpuinfo(info)
    assert fields["model name"] == "AMD EPYC 9R14" and fields["cpu family"] == "25"
    assert fields["model"] == "17" and "avx512_bf16" in fields["flags"].split()
    assert read_cpuinfo(tmp_path / "missing") == {}


def test_percentile_figures_name_their_units():
    figures = percentile_figures({"to_first_audio": [300.0, 100.0, 200.0], "total": []})
    assert figures["to_first_audio_ms_median"] == 200.0
    assert figures["to_first_audio_count"] == 3 and figures["total_count"] == 0
    assert {"to_first_audio_ms_p90", "to_first_audio_ms_min", "to_first_audio_ms_max"} <= set(
        figures)
    assert "total_ms_median" not in figures


def test_the_json_line_takes_numpy_figures(capsys):
    print_json("omni", {"step_ms": np.float64(31.5), "realtime": np.float64(40) <= 85.3,
                        "turns": np.int64(3)})
    record = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert record["step_ms"] == 31.5 and record["realtime"] is True and record["turns"] == 3
    assert record["benchmark"] == "omni" and record["machine"]["gemm_gflops_median"] > 0


class ToneVoice:
    """Says any text as a tone, which the energy VAD hears as speech."""

    sample_rate = RATE

    def synthesize(self, text: str):
        yield tone(0.6)


def test_a_benchmark_ends_stdout_with_its_figures_and_the_machine_as_json(capsys):
    responder = CascadeResponder(ScriptedLLM("Sure. Here is a short answer."), SilentTTS())
    assistant = FakeAssistant(AssistantConfig(), EnergyVAD(), ScriptedASR(), responder,
                              ToneVoice(), {})
    latency.run(assistant, None, realtime=False, json_line=True)
    out = capsys.readouterr().out
    assert "Voice-to-voice latency" in out and "machine: " in out
    assert "playing inputs" not in out  # progress goes to stderr
    record = json.loads(out.splitlines()[-1])
    assert record["benchmark"] == "latency" and record["realtime"] is False
    assert record["to_first_audio_count"] == len(QUESTIONS)
    assert record["to_first_audio_ms_median"] >= 0
    assert record["machine"] == json.loads(json.dumps(dataclasses.asdict(machine())))


def test_long_turns_run_the_recordings_together_in_order_with_their_pauses_shortened():
    clips = [(np.concatenate([silence(0.5), tone(1.0), silence(1.0), tone(1.0)]), "one two"),
             (tone(2.0), "three")]
    audio, words = latency.long_turn(clips, 10.0, EnergyVAD())
    # 2.26 s + 2 s + 2.26 s + 2 s with 0.25 s between: a third "one two" would pass 11 s.
    assert words == "one two three one two three"
    assert audio.size / RATE == pytest.approx(9.27, abs=0.05)
    frames = np.abs(audio[:audio.size // 512 * 512].reshape(-1, 512)).max(axis=1) > 0.01
    assert frames[0] and frames[-1]  # the silence before and after the speech is dropped
    quiet = np.concatenate([[0], (np.abs(audio) == 0).astype(int), [0]])
    starts, ends = np.flatnonzero(np.diff(quiet) == 1), np.flatnonzero(np.diff(quiet) == -1)
    # No pause over 0.25 s, give or take the VAD's 32 ms frame at a recording's edge.
    assert (ends - starts).max() / RATE <= 0.25 + 0.032


def test_eval_duplex_refuses_a_missing_folder_of_recordings(capsys, tmp_path):
    assert main(["eval", "duplex", "--fixtures", str(tmp_path / "nowhere")]) == 2
    assert "no folder of real recordings at" in capsys.readouterr().err


def test_bench_latency_long_refuses_a_missing_folder_of_recordings(capsys, tmp_path):
    assert main(["bench", "latency", "--long", "--fixtures", str(tmp_path / "nowhere")]) == 2
    assert "--long needs the real recordings" in capsys.readouterr().err


def test_train_refuses_state_head_flags_on_a_stage_and_stage_flags_on_the_head(capsys):
    assert main(["train", "stage1-align", "--episodes", "10"]) == 2
    assert "--episodes, --seed and --reader-precision are for `train state-head`" \
        in capsys.readouterr().err
    assert main(["train", "stage1-align", "--reader-precision", "int8"]) == 2
    assert main(["train", "state-head", "--steps", "0"]) == 2
    assert "--steps must be at least 1" in capsys.readouterr().err
    assert main(["train", "state-head", "--precision", "bf16"]) == 2
    assert "--precision is for a talker stage" in capsys.readouterr().err
