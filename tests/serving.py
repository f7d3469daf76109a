"""The real server in a background thread, over real or scripted engines, for tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fakes import EnergyVAD, ScriptedASR, ScriptedLLM, SilentTTS
from omnitalk.agent.responders.cascade import CascadeResponder
from omnitalk.assistant import Assistant, AssistantConfig
from omnitalk.server.app import ServerConfig
from omnitalk.server.background import free_port, serve_in_background


@contextmanager
def running_server(
    load_assistant: Callable[[], Assistant], wait_ready: bool = True, **config
) -> Iterator[str]:
    """Yields the base URL (http://127.0.0.1:PORT) of a server that is up (and ready)."""
    with serve_in_background(ServerConfig(port=free_port(), **config), load_assistant,
                             wait_ready) as base:
        yield base


class FakeAssistant(Assistant):
    """The real Assistant API over scripted engines: the energy VAD hears any tone as speech."""

    @classmethod
    def build(cls, reply: str = "Sure. Here is a short answer.", transcript: str = "hello there",
              llm: ScriptedLLM | None = None, policy=None,
              model_policy=None) -> FakeAssistant:
        """`policy`: the server's turn policy; `model_policy`: the one `semantic_vad` gets."""
        responder = CascadeResponder(llm or ScriptedLLM(reply), SilentTTS())
        assistant = cls(AssistantConfig(), EnergyVAD(), ScriptedASR(transcript), responder,
                        responder.tts, {})
        if policy is not None:
            assistant.policy = policy
        if model_policy is not None:
            assistant._model_policy, assistant._model_policy_tried = model_policy, True
        return assistant


def main() -> None:
    """`python tests/serving.py PORT [MAX_CONNECTIONS]`: the real server on the scripted
    assistant, in a process of its own (for tests that limit, signal or balance that process)."""
    import logging
    import sys

    from omnitalk.server.app import serve

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    port = int(sys.argv[1])
    config = ServerConfig(port=port, header_timeout_s=2.0)
    if len(sys.argv) > 2:
        config.max_connections = int(sys.argv[2])
    serve(config, FakeAssistant.build)


if __name__ == "__main__":
    main()
