// omnitalk in the browser: microphone -> /v1/stream -> speaker, with a live transcript.
// The wire protocol is docs/protocol.md, "The raw binary profile: /v1/stream".

const CAPTURE_CHUNK_SECONDS = 0.02;
const PREBUFFER_SECONDS = 0.08;
// The sample rates /v1/stream accepts; a context outside them is asked for the highest one.
const MIN_SERVER_RATE = 8000;
const MAX_SERVER_RATE = 48000;
// Microphone audio held while the server gets ready, so words said meanwhile are not lost.
const MAX_HELD_CHUNKS = Math.round(10 / CAPTURE_CHUNK_SECONDS);

const STATE_LABELS = {
  idle: "press Start",
  connecting: "connecting…",
  listening: "listening",
  "user-speaking": "you are speaking",
  thinking: "thinking…",
  speaking: "speaking",
  error: "error",
};

// What a close code means for the person in front of the page.
const CLOSE_EXPLANATIONS = {
  1001: "the server is going away (restarting or shutting down)",
  1006: "the connection failed or was cut (check that the server is running and the API key " +
    "is right)",
  1008: "the server refused this client, usually for a missing or wrong API key (reload the " +
    "page and give the key as the password)",
  1009: "a message was too large for the server",
  1011: "the server hit an internal error",
  1012: "the server is restarting; press Start again in a moment",
  1013: "the server is busy or not ready (session limit reached or models still loading); " +
    "try again shortly",
};

// Server errors after which the reply being waited for will not come.
const TURN_ENDING_ERRORS = new Set(["asr_error", "llm_error", "tts_error"]);

const ui = {
  body: document.body,
  button: document.getElementById("start-stop"),
  state: document.getElementById("state"),
  notice: document.getElementById("notice"),
  error: document.getElementById("error"),
  transcript: document.getElementById("transcript"),
  decision: document.getElementById("turn-decision"),
};

// What the model turn policy decided at the user's pause, in the listener's words.
const DECISION_LABELS = {
  listen: "sounds unfinished: still listening",
  respond: "your turn is over: answering",
  ignore: "not a turn (a backchannel or a noise): carrying on",
  stop: "stopped, as asked",
};

function showDecision(event) {
  const heard = event.text ? `“${event.text}”: ` : "";
  ui.decision.textContent = heard + DECISION_LABELS[event.state];
  ui.decision.dataset.decision = event.state;
  ui.decision.hidden = false;
}

// Test and debugging hook, updated live; reset by each Start.
const stats = { playedSamples: 0, receivedAudioBytes: 0, underruns: 0, turns: [] };
window.omnitalkStats = stats;

let conversation = null; // the running Conversation, or null

function showState(state) {
  ui.body.dataset.state = state;
  ui.state.textContent = STATE_LABELS[state];
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = !message;
}

function microphoneBlockedMessage() {
  if (window.isSecureContext && navigator.mediaDevices?.getUserMedia) return null;
  const port = location.port || (location.protocol === "https:" ? "443" : "80");
  const why = window.isSecureContext
    ? "This browser gives the page no microphone access (navigator.mediaDevices is missing)."
    : `This page cannot use the microphone: it was opened as ${location.origin}.`;
  return [
    `${why} Browsers only allow the microphone on https:// pages or on http://localhost and ` +
      "http://127.0.0.1.",
    "To fix it, do one of:",
    `• open http://localhost:${port}/ in a current browser on the machine that runs ` +
      "omnitalk serve;",
    `• from another machine, tunnel the port over SSH: ssh -L ${port}:localhost:${port} ` +
      `user@server, then open http://localhost:${port}/;`,
    "• put the server behind HTTPS (a reverse proxy with a certificate).",
  ].join("\n");
}

function microphoneErrorMessage(error) {
  switch (error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Microphone permission was denied. Allow the microphone for this site (the icon " +
        "at the left of the address bar, or the browser's site settings) and press Start again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone was found. Connect one (or enable it in the system's sound " +
        "settings) and press Start again.";
    case "NotReadableError":
      return "The microphone could not be opened: another application may be using it.";
    default:
      return `The microphone could not be started: ${error.name}: ${error.message}`;
  }
}

// The conversation log: one user bubble and one assistant bubble per turn, plus the record of
// that turn in stats.turns.
class TranscriptView {
  constructor() {
    this.turns = new Map(); // turn number -> { record, userBubble, assistantBubble }
  }

  turn(number) {
    if (!this.turns.has(number)) {
      const record = {
        turn: number, userText: "", replyText: "", interrupted: false, playedText: null,
        serverToFirstAudioMs: null, clientToFirstAudioMs: null,
      };
      stats.turns.push(record);
      this.turns.set(number, { record });
    }
    return this.turns.get(number);
  }

  bubble(number, side) {
    const entry = this.turn(number);
    const key = `${side}Bubble`;
    if (!entry[key]) {
      const bubble = document.createElement("div");
      bubble.className = `bubble ${side}`;
      bubble.dataset.turn = number;
      const text = document.createElement("span");
      text.className = "text";
      bubble.append(text);
      // Users speak before the assistant answers; keep that order even if events interleave.
      const reply = side === "user" ? entry.assistantBubble : null;
      ui.transcript.insertBefore(bubble, reply ?? null);
      entry[key] = bubble;
    }
    return entry[key];
  }

  userText(number, text, final) {
    const bubble = this.bubble(number, "user");
    bubble.classList.toggle("partial", !final);
    bubble.querySelector(".text").textContent = text;
    this.turn(number).record.userText = text;
  }

  replyText(number, text) {
    this.bubble(number, "assistant").querySelector(".text").textContent = text;
    this.turn(number).record.replyText = text;
  }

  appendReplyClause(number, clause) {
    const current = this.turn(number).record.replyText;
    this.replyText(number, current ? `${current} ${clause.trim()}` : clause.trim());
  }

  replyInterrupted(number, playedText) {
    const { record } = this.turn(number);
    record.interrupted = true;
    record.playedText = playedText;
    this.bubble(number, "assistant").classList.add("interrupted");
    this.replyText(number, playedText || "…");
  }

  latency(number, field, milliseconds) {
    const { record } = this.turn(number);
    record[field] = Math.round(milliseconds);
    const parts = [];
    if (record.serverToFirstAudioMs !== null) {
      parts.push(`first audio ${record.serverToFirstAudioMs} ms after you stopped speaking`);
    }
    if (record.clientToFirstAudioMs !== null) {
      parts.push(`played here ${record.clientToFirstAudioMs} ms after the turn ended`);
    }
    const bubble = this.bubble(number, "assistant");
    let line = bubble.querySelector(".latency");
    if (!line) {
      line = document.createElement("small");
      line.className = "latency";
      bubble.append(line);
    }
    line.textContent = parts.join(" · ");
  }
}

class Conversation {
  constructor() {
    this.view = new TranscriptView();
    this.ready = false;
    this.userSpeaking = false;
    this.awaitingReply = false;
    this.playing = false;
    this.released = false; // stopped or failed: its late callbacks must not touch the page
    this.speechStoppedAt = null; // performance.now() of the last speech_stopped
    this.replyTurn = null; // the turn whose reply audio is arriving
    this.heldAudio = []; // PCM16 chunks captured before `ready`
  }

  get state() {
    if (!this.ready) return "connecting";
    if (this.userSpeaking) return "user-speaking";
    if (this.playing) return "speaking";
    if (this.awaitingReply) return "thinking";
    return "listening";
  }

  render() {
    if (!this.released) showState(this.state);
  }

  async start() {
    this.render();
    // Created inside the click handler so the browser lets it play; its rate is whatever the
    // device runs at, and both directions of audio use that rate.
    this.context = new AudioContext();
    const deviceRate = this.context.sampleRate;
    if (deviceRate < MIN_SERVER_RATE || deviceRate > MAX_SERVER_RATE) {
      this.context.close(); // e.g. a 96 kHz audio interface: let the browser resample instead
      this.context = new AudioContext({ sampleRate: MAX_SERVER_RATE });
    }
    try {
      this.microphone = await navigator.mediaDevices.getUserMedia({
        audio: {
          echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1,
        },
      });
    } catch (error) {
      this.fail(microphoneErrorMessage(error));
      return;
    }
    if (this.released) return this.release(); // stopped meanwhile: let go of the microphone
    const rate = this.context.sampleRate;
    await Promise.all([
      this.context.audioWorklet.addModule("capture-worklet.js"),
      this.context.audioWorklet.addModule("playback-worklet.js"),
    ]);
    if (this.released) return;

    this.playback = new AudioWorkletNode(this.context, "playback", {
      numberOfInputs: 0,
      outputChannelCount: [1],
      processorOptions: { prebufferFrames: Math.round(rate * PREBUFFER_SECONDS) },
    });
    this.playback.port.onmessage = ({ data }) => this.onPlayback(data);
    this.playback.connect(this.context.destination);

    // No outputs: the browser still runs it, and nothing of the microphone reaches the speaker.
    this.capture = new AudioWorkletNode(this.context, "capture", {
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: "explicit",
      processorOptions: { chunkFrames: Math.round(rate * CAPTURE_CHUNK_SECONDS) },
    });
    this.capture.port.onmessage = ({ data }) => this.sendAudio(data);
    this.context.createMediaStreamSource(this.microphone).connect(this.capture);

    // Relative to the page, so the app also works behind a proxy that serves it under a prefix.
    const url = new URL(`v1/stream?input_rate=${rate}&output_rate=${rate}`, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    this.socket = new WebSocket(url);
    this.socket.binaryType = "arraybuffer";
    this.socket.onmessage = ({ data }) => {
      if (typeof data === "string") this.onEvent(JSON.parse(data));
      else this.onReplyAudio(data);
    };
    this.socket.onclose = (event) => this.onClose(event);
  }

  stop() {
    this.release();
    showState("idle");
  }

  fail(message) {
    if (this.released) return; // stopped meanwhile: nobody is waiting for this any more
    this.release();
    showError(message);
    showState("error");
  }

  release() {
    this.released = true;
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close(1000, "stopped");
    }
    this.microphone?.getTracks().forEach((track) => track.stop());
    if (this.context && this.context.state !== "closed") this.context.close();
    if (conversation === this) {
      conversation = null;
      ui.button.textContent = "Start";
    }
  }

  sendAudio(samples) {
    const pcm = new Int16Array(samples.length);
    for (let i = 0; i < samples.length; i++) {
      const sample = Math.max(-1, Math.min(1, samples[i]));
      pcm[i] = sample < 0 ? sample * 0x8000 : sample * 0x7fff;
    }
    if (this.ready) {
      if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(pcm.buffer);
    } else {
      this.heldAudio.push(pcm.buffer);
      if (this.heldAudio.length > MAX_HELD_CHUNKS) this.heldAudio.shift();
    }
  }

  onReplyAudio(buffer) {
    stats.receivedAudioBytes += buffer.byteLength;
    // Whole samples only; the server never splits one, so a stray odd byte is just dropped.
    const pcm = buffer.byteLength % 2 ? buffer.slice(0, buffer.byteLength - 1) : buffer;
    this.playback.port.postMessage({ type: "audio", pcm }, [pcm]);
  }

  clearPlayback() {
    this.playback.port.postMessage({ type: "clear" });
  }

  onPlayback({ type, playedSamples }) {
    if (this.released) return;
    stats.playedSamples = playedSamples;
    if (type === "underrun") stats.underruns += 1;
    if (type === "started") {
      this.playing = true;
      if (this.speechStoppedAt !== null && this.replyTurn !== null) {
        this.view.latency(this.replyTurn, "clientToFirstAudioMs",
          performance.now() - this.speechStoppedAt);
        this.speechStoppedAt = null;
      }
    } else if (type === "stopped") {
      this.playing = false;
    }
    this.render();
  }

  onEvent(event) {
    switch (event.type) {
      case "ready":
        this.ready = true;
        this.heldAudio.forEach((chunk) => this.socket.send(chunk));
        this.heldAudio = [];
        break;
      case "speech_started":
        this.clearPlayback(); // barge-in: stop talking over the user at once
        this.userSpeaking = true;
        this.awaitingReply = false;
        this.speechStoppedAt = null;
        break;
      case "speech_stopped":
        this.userSpeaking = false;
        this.awaitingReply = true;
        this.speechStoppedAt = performance.now();
        this.replyTurn = event.turn;
        break;
      case "turn_decision":
        showDecision(event);
        // Nothing will be answered: the page goes back to listening.
        if (event.state === "ignore" || event.state === "stop") this.awaitingReply = false;
        break;
      case "transcript_partial":
        this.view.userText(event.turn, event.text, false);
        break;
      case "transcript_final":
        this.view.userText(event.turn, event.text, true);
        break;
      case "reply_started":
        this.awaitingReply = true;
        this.replyTurn = event.turn;
        this.view.bubble(event.turn, "assistant");
        break;
      case "reply_text":
        this.view.appendReplyClause(event.turn, event.text);
        break;
      case "reply_done":
        this.awaitingReply = false;
        this.playback.port.postMessage({ type: "reply-complete" });
        this.view.replyText(event.turn, event.text);
        if (event.timings?.to_first_audio != null) {
          this.view.latency(event.turn, "serverToFirstAudioMs", event.timings.to_first_audio);
        }
        break;
      case "reply_cancelled":
        this.awaitingReply = false;
        this.clearPlayback();
        this.view.replyInterrupted(event.turn, event.played_text);
        break;
      case "error":
        // The session stays usable: report it and carry on.
        if (TURN_ENDING_ERRORS.has(event.code)) this.awaitingReply = false;
        showError(`Server error (${event.code}): ${event.message}`);
        break;
    }
    this.render();
  }

  onClose({ code, reason }) {
    this.socket = null;
    const explanation = CLOSE_EXPLANATIONS[code] ?? "the server closed the connection";
    const detail = reason ? `${code}, "${reason}"` : `${code}`;
    const what = this.ready ? "The connection to the server closed" : "Could not connect";
    this.fail(`${what} (code ${detail}): ${explanation}.`);
  }
}

async function start() {
  showError("");
  Object.assign(stats, { playedSamples: 0, receivedAudioBytes: 0, underruns: 0, turns: [] });
  ui.transcript.replaceChildren();
  ui.button.textContent = "Stop";
  const starting = new Conversation();
  conversation = starting;
  try {
    await starting.start();
  } catch (error) {
    starting.fail(`Could not start: ${error.message}`);
  }
}

const blocked = microphoneBlockedMessage();
if (blocked) {
  ui.notice.textContent = blocked;
  ui.notice.hidden = false;
  ui.button.disabled = true;
  showState("error");
} else {
  ui.button.addEventListener("click", () => (conversation ? conversation.stop() : start()));
}
