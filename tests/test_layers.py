"""The import graph follows the layer order of DESIGN.md: nothing below the top imports the top."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "omnitalk"
LOWER_LAYERS = ("agent", "omni", "codec", "duplex", "data", "train", "text", "audio", "engines")
TOP = ("omnitalk.bench", "omnitalk.server", "omnitalk.cli", "omnitalk.eval")


def imported_modules(path: Path) -> set[str]:
    """Every omnitalk module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] == "omnitalk"}


def upward_imports(layer_dir: Path) -> list[str]:
    return [
        f"{path.relative_to(layer_dir.parent)} imports {name}"
        for path in sorted(layer_dir.rglob("*.py"))
        for name in sorted(imported_modules(path))
        if any(name == top or name.startswith(top + ".") for top in TOP)
    ]


@pytest.mark.parametrize("layer", LOWER_LAYERS)
def test_lower_layers_do_not_import_bench_server_eval_or_cli(layer):
    assert (PACKAGE / layer).is_dir()
    assert upward_imports(PACKAGE / layer) == []


def test_the_walk_sees_imports_inside_functions(tmp_path):
    layer = tmp_path / "agent"
    layer.mkdir()
    (layer / "late.py").write_text("def f():\n    from omnitalk.server import app\n"
                                   "    import omnitalk.cli\n")
    assert upward_imports(layer) == ["agent/late.py imports omnitalk.cli",
                                     "agent/late.py imports omnitalk.server",
                                     "agent/late.py imports omnitalk.server.app"]


def test_the_assistant_and_talk_loops_do_not_import_the_top():
    for name in ("assistant.py", "talk.py", "chat.py", "config_file.py"):
        assert [m for m in imported_modules(PACKAGE / name) if m.startswith(TOP)] == [], name


def test_codec_does_not_import_the_models_above_it():
    assert [m for p in (PACKAGE / "codec").rglob("*.py") for m in imported_modules(p)
            if m.startswith(("omnitalk.omni", "omnitalk.agent", "omnitalk.duplex"))] == []


def loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return set(out.split())


def test_reading_a_training_config_does_not_load_the_conversation_or_torch():
    loaded = loaded_after_import("omnitalk.train.config")
    assert "omnitalk.config_file" in loaded
    assert not {"omnitalk.agent.session", "omnitalk.assistant", "torch"} & loaded


def test_the_cascade_assistant_does_not_load_torch():
    loaded = loaded_after_import("omnitalk.assistant")
    assert "omnitalk.agent.responders.omni" not in loaded  # imported only when chosen
    assert "torch" not in loaded
