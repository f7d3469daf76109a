import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "speech"


@pytest.fixture(scope="session")
def real_assistant():
    """The assistant on its real packaged models, loaded once for every test that needs it."""
    from omnitalk.assistant import Assistant

    return Assistant.load()


@pytest.fixture(scope="module")
def server():
    """A shared server on the default scripted assistant, with a small message limit."""
    from protocol_client import LIMIT
    from serving import FakeAssistant, running_server

    with running_server(FakeAssistant.build, max_message_bytes=LIMIT) as base:
        yield base
