"""`omnitalk serve` as a user starts it: flags checked up front, then a real process that serves."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from omnitalk.cli import main
from serving import free_port


def test_serve_refuses_bad_flags_with_a_clear_message(capsys, tmp_path):
    assert main(["serve", "--port", "0"]) == 2
    assert main(["serve", "--max-sessions", "0"]) == 2
    assert main(["serve", "--max-sessions", "8", "--max-connections", "8"]) == 2
    assert "--max-connections more than --max-sessions" in " ".join(
        capsys.readouterr().err.split())  # rich wraps long lines
    for origin in ("example.com", "ftp://example.com", "http://example.com/page",
                   "http://example.com:99999"):
        assert main(["serve", "--allow-origin", "https://ok.example", "--allow-origin",
                     origin]) == 2
        assert "--allow-origin" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["serve", "--record-dir", str(blocker / "records")]) == 2
    assert "cannot write session records" in capsys.readouterr().err


@pytest.mark.real_models
def test_serve_process_is_live_at_once_ready_after_loading_and_serves_the_page(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "omnitalk.cli", "serve", "--port", str(port),
               "--api-key", "secret", "--record-dir", str(tmp_path)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    auth = {"Authorization": "Bearer secret"}
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        ready = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"{base}/readyz", headers=auth, timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert ready is not None and ready.status_code == 200, server.poll()
        assert ready.json()["max_sessions"] == 4
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 401
        page = httpx.get(f"{base}/", headers=auth, timeout=5)
        assert page.status_code == 200 and "omnitalk" in page.text
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert f"http://127.0.0.1:{port}/" in output
