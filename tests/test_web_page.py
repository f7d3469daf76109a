"""The web page at `/` in a real browser (Debian's Chromium, headless) against the real server.

Chromium's fake microphone plays a WAV file into getUserMedia, so the page runs exactly as it
would for a person: AudioWorklet capture, /v1/stream, the playback worklet, the transcript.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import soundfile as sf
from playwright.sync_api import Browser, Playwright, expect, sync_playwright

from omnitalk.engines.speak import speak
from omnitalk.text.wer import normalise_for_wer
from serving import FakeAssistant, running_server

CHROMIUM = Path("/usr/bin/chromium")
QUESTION = "What is the capital of France?"
# Generous: on a 2-core machine a reply takes seconds, and nothing here is a timing check.
REPLY_TIMEOUT_MS = 120_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium); "
    "these tests never download a browser",
)


@pytest.fixture(scope="module")
def playwright() -> Playwright:
    with sync_playwright() as playwright:
        yield playwright


def launch_chromium(playwright: Playwright, *extra_args: str) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync",
            "--autoplay-policy=no-user-gesture-required", *extra_args,
        ],
    )


def microphone_playing(wav: Path) -> list[str]:
    """Chromium flags for a microphone that plays `wav` once, then silence, with no prompt."""
    return [
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}%noloop",
    ]


def write_spoken_question(tts, path: Path) -> Path:
    # A second of silence before, as a person takes to start talking, and enough after for the
    # turn to end and the reply to play while the microphone hears nothing that would interrupt.
    rate = 16000
    speech = speak(tts, QUESTION, rate)
    audio = np.concatenate([np.zeros(rate, np.float32), speech, np.zeros(8 * rate, np.float32)])
    sf.write(path, audio, rate, subtype="PCM_16")  # the PCM WAV Chromium's fake capture reads
    return path


@pytest.mark.real_models
def test_the_page_hears_a_spoken_question_and_plays_the_spoken_reply(
    playwright, real_assistant, tmp_path
):
    wav = write_spoken_question(real_assistant.responder.tts, tmp_path / "question.wav")
    with running_server(lambda: real_assistant) as base:
        browser = launch_chromium(playwright, *microphone_playing(wav))
        try:
            page = browser.new_context(permissions=["microphone"]).new_page()
            page.goto(f"{base}/")
            page.click("#start-stop")

            user = page.locator("#transcript .bubble.user:not(.partial)").first
            # Whisper tiny.en sometimes hears the browser's copy of "France" as "friends":
            # the words before it are what the page must have carried.
            expect(user).to_contain_text("capital of", ignore_case=True,
                                         timeout=REPLY_TIMEOUT_MS)
            # The reply is over once reply_done has come and the speaker has played and gone
            # quiet. (Under load reply_done can come before the playback worklet has started
            # on the queued audio, and the page shows "listening" for that moment.)
            page.wait_for_function(
                """() => {
                    const stats = window.omnitalkStats;
                    return stats.turns[0].serverToFirstAudioMs !== null
                        && stats.playedSamples > 0
                        && document.body.dataset.state === "listening";
                }""",
                timeout=REPLY_TIMEOUT_MS,
            )
            stats = page.evaluate("window.omnitalkStats")
            reply = page.locator("#transcript .bubble.assistant").first
            reply_text = reply.locator(".text").inner_text()
            latency = reply.locator(".latency").inner_text()
            error_hidden = page.locator("#error").is_hidden()
        finally:
            browser.close()

    turn = stats["turns"][0]
    assert "capital of" in normalise_for_wer(turn["userText"]), turn  # "France": see above
    assert reply_text.strip() and reply_text == turn["replyText"]
    assert stats["playedSamples"] > 0
    # Nobody interrupted, so every sample that arrived was played.
    assert stats["playedSamples"] == stats["receivedAudioBytes"] // 2
    assert turn["clientToFirstAudioMs"] is not None
    assert "ms" in latency
    assert error_hidden


def test_an_insecure_origin_explains_how_to_reach_the_microphone(playwright):
    """Browsers hide the microphone outside https:// and localhost; the page must say so."""
    # Any name other than localhost is an insecure origin over plain http. The server listens on
    # loopback, so it answers that name only when told to.
    with running_server(FakeAssistant.build, allowed_origins=("http://omnitalk.test",)) as base:
        port = urlsplit(base).port
        browser = launch_chromium(playwright, "--host-resolver-rules=MAP omnitalk.test 127.0.0.1")
        try:
            page = browser.new_page()
            page.goto(f"http://omnitalk.test:{port}/")
            notice = page.locator("#notice")
            expect(notice).to_be_visible()
            expect(notice).to_contain_text("https://")
            expect(notice).to_contain_text("http://localhost")
            expect(notice).to_contain_text(f"ssh -L {port}:localhost:{port}")
            expect(page.locator("#start-stop")).to_be_disabled()
            expect(page.locator("body")).to_have_attribute("data-state", "error")
        finally:
            browser.close()


OPEN_SOCKET = """url => new Promise(resolve => {
    const socket = new WebSocket(url);
    socket.onopen = () => { socket.close(); resolve("open"); };
    socket.onerror = () => resolve("refused");
})"""


def test_a_page_on_another_site_cannot_open_the_assistants_socket(playwright, tmp_path):
    """Cross-site WebSocket hijacking, tried by a real browser: a page served from another
    origin opens ws://127.0.0.1:PORT/v1/stream and is refused; the server's own page is not."""
    import functools
    import http.server
    import threading

    (tmp_path / "index.html").write_text("<html><body>another site</body></html>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    other_site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=other_site.serve_forever, daemon=True).start()
    with running_server(FakeAssistant.build) as base:
        socket_url = base.replace("http://", "ws://") + "/v1/stream"
        browser = launch_chromium(playwright, "--host-resolver-rules=MAP evil.test 127.0.0.1")
        try:
            page = browser.new_page()
            page.goto(f"http://evil.test:{other_site.server_address[1]}/")
            assert page.evaluate(OPEN_SOCKET, socket_url) == "refused"
            page.goto(base + "/")
            assert page.evaluate(OPEN_SOCKET, socket_url) == "open"
        finally:
            browser.close()
            other_site.shutdown()


def test_the_page_shows_the_turn_policys_decision(playwright, tmp_path):
    """With the model policy the page says what was decided at the pause, in words."""
    from omnitalk.agent.turn_policy import ModelPolicy, ModelPolicyConfig
    from test_turn_policy import ScriptedHead

    rate = 16000
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate)  # the energy VAD's speech
    audio = np.concatenate([np.zeros(rate), tone, np.zeros(6 * rate)]).astype(np.float32)
    wav = tmp_path / "tone.wav"
    sf.write(wav, audio, rate, subtype="PCM_16")
    policy = ModelPolicy(ScriptedHead(), ModelPolicyConfig())

    def build():
        return FakeAssistant.build(transcript="What is the capital of France?", policy=policy)

    with running_server(build) as base:
        browser = launch_chromium(playwright, *microphone_playing(wav))
        try:
            page = browser.new_context(permissions=["microphone"]).new_page()
            page.goto(f"{base}/")
            page.click("#start-stop")
            decision = page.locator("#turn-decision")
            expect(decision).to_be_visible(timeout=REPLY_TIMEOUT_MS)
            expect(decision).to_contain_text("your turn is over")
            expect(decision).to_contain_text("What is the capital of France?")
            expect(decision).to_have_attribute("data-decision", "respond")
        finally:
            browser.close()
