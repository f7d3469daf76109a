"""Both responders are built one way, from the assistant's config, and say what they run."""

from __future__ import annotations

import pytest

from fakes import SilentTTS
from omni_tiny import write_omni_folder
from omnitalk.agent import responders
from omnitalk.agent.responders.base import Responder
from omnitalk.agent.responders.cascade import DEFAULT_SYSTEM_PROMPT, CascadeResponder
from omnitalk.agent.responders.omni import OmniResponder
from omnitalk.assistant import AssistantConfig
from omnitalk.engines.base import LLMConfig
from omnitalk.engines.llm_openai import OpenAICompatibleLLM
from omnitalk.omni.settings import OmniPaths, OmniSettings


def test_every_kind_the_config_accepts_has_a_module_with_load():
    import importlib

    for kind in responders.KINDS:
        assert callable(importlib.import_module(f"omnitalk.agent.responders.{kind}").load)


def test_an_unknown_kind_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown responder 'echo'; choose one of: cascade, omni"):
        responders.load("echo", AssistantConfig(), SilentTTS())


def test_the_cascade_is_built_from_the_llm_and_cascade_sections():
    config = AssistantConfig(llm=LLMConfig(backend="openai", model="served-model"))
    config.cascade.system_prompt = "Answer like a pirate."
    voice = SilentTTS()
    responder: Responder = responders.load("cascade", config, voice)
    assert isinstance(responder, CascadeResponder)
    assert isinstance(responder.llm, OpenAICompatibleLLM)
    assert responder.llm.config.model == "served-model"
    assert responder.tts is voice and responder.config is config.cascade
    assert responder.name == "omnitalk-cascade"
    assert responder.default_instructions == "Answer like a pirate."
    assert AssistantConfig().cascade.system_prompt == DEFAULT_SYSTEM_PROMPT


@pytest.mark.parametrize("speak", [True, False])
def test_the_talker_is_built_from_the_omni_section(tmp_path, speak):
    folder = write_omni_folder(tmp_path)
    config = AssistantConfig(responder="omni", omni=OmniSettings(
        paths=OmniPaths(checkpoint=str(folder)), speak=speak))
    voice = SilentTTS()
    responder = responders.load("omni", config, voice)
    assert isinstance(responder, OmniResponder)
    # A talker that speaks needs no voice; one that answers in text is spoken by the voice.
    assert responder.voice is (None if speak else voice)
    assert responder.sample_rate == (24000 if speak else voice.sample_rate)
    assert responder.name == "omnitalk-omni"
    assert responder.default_instructions == ""  # the released talkers take no system prompt
