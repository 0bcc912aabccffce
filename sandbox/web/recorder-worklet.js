/*
 * AudioWorklet of the page's recorder (recorder.js): posts the microphone's samples, down-mixed to mono, in blocks of
 * 4,096 frames (about 85 ms at 48 kHz), so the main thread gets a few dozen messages a second, not 375. Any
 * message from the page asks for the part-filled block, answered with it and then `'end'`.
 */
const BLOCK_FRAMES = 4096;

class PcmCollector extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(BLOCK_FRAMES);
    this.filled = 0;
    this.port.onmessage = () => {
      this.port.postMessage(this.block.slice(0, this.filled));
      this.filled = 0;
      this.port.postMessage('end');
    };
  }

  process(inputs) {
    const channels = inputs[0] || [];
    const frames = channels[0]?.length || 0;
    for (let i = 0; i < frames; i++) {
      let sum = 0;
      for (const channel of channels) sum += channel[i];
      this.block[this.filled++] = sum / channels.length;
      if (this.filled === BLOCK_FRAMES) {
        this.port.postMessage(this.block);
        this.block = new Float32Array(BLOCK_FRAMES);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor('pcm-collector', PcmCollector);
