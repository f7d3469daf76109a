// Runs on the audio thread: gathers the microphone's 128-frame render quanta into chunks of
// `chunkFrames` (about 20 ms) so the page sends a few dozen messages a second, not hundreds.
class CaptureProcessor extends AudioWorkletProcessor {
  constructor({ processorOptions }) {
    super();
    this.chunkFrames = processorOptions.chunkFrames;
    this.chunk = new Float32Array(this.chunkFrames);
    this.filled = 0;
  }

  process([input]) {
    const samples = input[0]; // mono: the node is created with channelCount 1, "explicit"
    if (!samples) return true; // no source connected yet
    let offset = 0;
    while (offset < samples.length) {
      const count = Math.min(samples.length - offset, this.chunkFrames - this.filled);
      this.chunk.set(samples.subarray(offset, offset + count), this.filled);
      this.filled += count;
      offset += count;
      if (this.filled === this.chunkFrames) {
        // Transferred, not copied: the page owns this chunk from now on (and it is detached here).
        this.port.postMessage(this.chunk, [this.chunk.buffer]);
        this.chunk = new Float32Array(this.chunkFrames);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("capture", CaptureProcessor);
