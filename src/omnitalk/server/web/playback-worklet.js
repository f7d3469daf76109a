// Runs on the audio thread: plays reply audio from a queue of chunks (the jitter buffer).
//
// Playback starts only once `prebufferFrames` are queued, so uneven network arrival does not
// turn into gaps; once the server says the reply is complete, whatever is left plays at once.
// Running dry before that is an underrun. The page is told when playback starts and stops and
// how many samples have been played (every message carries `playedSamples`).
const PROGRESS_INTERVAL_SECONDS = 0.05;

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor({ processorOptions }) {
    super();
    this.prebufferFrames = processorOptions.prebufferFrames;
    this.queue = []; // Float32Array chunks, oldest first
    this.readOffset = 0; // frames of queue[0] already played
    this.bufferedFrames = 0;
    this.replyComplete = false;
    this.playing = false;
    this.playedSamples = 0;
    this.lastProgressAt = 0;
    this.port.onmessage = ({ data }) => this.handle(data);
  }

  handle(message) {
    if (message.type === "audio") {
      // PCM16 little-endian; browsers only run on little-endian machines, so Int16Array fits.
      const pcm = new Int16Array(message.pcm);
      const chunk = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) chunk[i] = pcm[i] / 32768;
      this.queue.push(chunk);
      this.bufferedFrames += chunk.length;
      this.replyComplete = false;
    } else if (message.type === "reply-complete") {
      this.replyComplete = true;
    } else if (message.type === "clear") {
      // Barge-in: the user is talking, so nothing queued may be heard any more.
      this.queue = [];
      this.readOffset = 0;
      this.bufferedFrames = 0;
      this.replyComplete = false;
      if (this.playing) this.setPlaying(false);
    }
  }

  process(inputs, [output]) {
    const out = output[0];
    const enoughQueued = this.bufferedFrames >= this.prebufferFrames || this.replyComplete;
    if (!this.playing && this.bufferedFrames > 0 && enoughQueued) this.setPlaying(true);
    if (!this.playing) return true; // the output stays silent (it starts zero-filled)

    let written = 0;
    while (written < out.length && this.queue.length > 0) {
      const chunk = this.queue[0];
      const count = Math.min(out.length - written, chunk.length - this.readOffset);
      out.set(chunk.subarray(this.readOffset, this.readOffset + count), written);
      written += count;
      this.readOffset += count;
      if (this.readOffset === chunk.length) {
        this.queue.shift();
        this.readOffset = 0;
      }
    }
    this.bufferedFrames -= written;
    this.playedSamples += written;

    if (this.bufferedFrames === 0) {
      if (!this.replyComplete) this.report("underrun");
      this.setPlaying(false);
    } else if (currentTime - this.lastProgressAt >= PROGRESS_INTERVAL_SECONDS) {
      this.report("progress");
    }
    return true;
  }

  setPlaying(playing) {
    this.playing = playing;
    this.report(playing ? "started" : "stopped");
  }

  report(type) {
    this.lastProgressAt = currentTime;
    this.port.postMessage({ type, playedSamples: this.playedSamples });
  }
}

registerProcessor("playback", PlaybackProcessor);
