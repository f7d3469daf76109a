"""load_config: a TOML file mirrors the config dataclasses; mistakes are clear ConfigErrors."""

from __future__ import annotations

import pytest

from omnitalk.assistant import AssistantConfig, load_config
from omnitalk.config_file import ConfigError


@pytest.fixture
def write_toml(tmp_path):
    def write(text: str):
        path = tmp_path / "omnitalk.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_no_path_gives_defaults():
    config = load_config()
    assert config == AssistantConfig()
    assert config.llm.backend == "llama-cpp"
    assert config.session.turn.silence_ms == 500


def test_settings_are_applied(write_toml):
    path = write_toml(
        """
        [llm]
        backend = "openai"
        model = "gpt-test"

        [session.turn]
        silence_ms = 400

        [tts]
        length_scale = 1
        """
    )
    config = load_config(path)
    assert config.llm.backend == "openai"
    assert config.llm.model == "gpt-test"
    assert config.session.turn.silence_ms == 400
    # An int is accepted for a float setting and stored as a float.
    assert config.tts.length_scale == 1.0 and isinstance(config.tts.length_scale, float)
    # Everything not mentioned keeps its default.
    defaults = AssistantConfig()
    assert config.session.turn.threshold == defaults.session.turn.threshold
    assert config.asr == defaults.asr
    assert config.llm.base_url == defaults.llm.base_url


def test_path_may_be_a_string(write_toml):
    path = write_toml('[cascade.clauses]\nfirst_clause_min_words = 2\n')
    assert load_config(str(path)).cascade.clauses.first_clause_min_words == 2


def test_empty_file_gives_defaults(write_toml):
    assert load_config(write_toml("")) == AssistantConfig()


@pytest.mark.parametrize(
    "text, key",
    [
        ("[llm]\nbackedn = 'openai'\n", "backedn"),
        ("[session.turn]\nsilence = 400\n", "silence"),
        ("[speaker]\nvolume = 1.0\n", "speaker"),
        ("top_level = 1\n", "top_level"),
    ],
)
def test_unknown_key_is_named(write_toml, text, key):
    with pytest.raises(ConfigError, match=f"unknown setting '{key}'"):
        load_config(write_toml(text))


def test_unknown_key_error_says_where_and_lists_known_keys(write_toml):
    path = write_toml("[session.turn]\nsilence = 400\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert f"{path}.session.turn" in message
    assert "silence_ms" in message


@pytest.mark.parametrize(
    "text, words",
    [
        ("[session.turn]\nsilence_ms = 'long'\n", ["silence_ms", "int", "str"]),
        ("[session.turn]\nsilence_ms = 400.5\n", ["silence_ms", "int", "float"]),
        ("[llm]\nbackend = 3\n", ["backend", "str", "int"]),
        ("[tts]\nlength_scale = '1.0'\n", ["length_scale", "float", "str"]),
        ("[llm]\nbackend = ['a']\n", ["backend", "str", "list"]),
    ],
)
def test_wrong_type(write_toml, text, words):
    with pytest.raises(ConfigError) as error:
        load_config(write_toml(text))
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize("text, words", [
    ("[session]\nsegment_s = 0.5\n", "segment_s must be at least 2"),
    ("[session]\ncommit_s = 0\n", "commit_s must be more than 0 and at most segment_s"),
    ("[session]\ncommit_s = 30\n", "commit_s must be more than 0 and at most segment_s"),
    ("[llm]\nparallel = 0\n", "llm.parallel must be at least 1"),
    ("[llm]\ncontext_tokens = 512\nmax_tokens = 512\n", "max_tokens must be less than"),
])
def test_values_the_runtime_cannot_work_with(write_toml, text, words):
    with pytest.raises(ConfigError, match=words):
        load_config(write_toml(text))


def test_a_section_given_as_a_value(write_toml):
    with pytest.raises(ConfigError, match=r"\[llm\] must be a table"):
        load_config(write_toml('llm = "openai"\n'))


@pytest.mark.parametrize(
    "text",
    [
        "[session.turn]\nsilence_ms = true\n",
        "[tts]\nlength_scale = false\n",
    ],
    ids=["int-setting", "float-setting"],
)
def test_booleans_are_not_numbers(write_toml, text):
    with pytest.raises(ConfigError):
        load_config(write_toml(text))


def test_invalid_toml(write_toml):
    path = write_toml("[llm\nbackend = openai\n")
    with pytest.raises(ConfigError, match="invalid TOML") as error:
        load_config(path)
    assert str(path) in str(error.value)


def test_missing_file(tmp_path):
    path = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match="config file not found") as error:
        load_config(path)
    assert str(path) in str(error.value)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)
