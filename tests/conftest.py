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
