// AudioWorklet processor for the chat page's microphone: turns the captured samples (Float32 at
// the AudioContext's rate) into PCM16 little-endian frames of 20 ms posted to the page, which
// sends them on the voice WebSocket. Runs on the audio rendering thread; no allocation but one
// buffer per frame (transferred, not copied).
'use strict';

class ParleyCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.frame = Math.max(1, Math.round(sampleRate / 50));
    this.buf = new Int16Array(this.frame);
    this.n = 0;
  }

  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) {
      for (let i = 0; i < ch.length; i++) {
        const v = Math.max(-1, Math.min(1, ch[i]));
        this.buf[this.n++] = v < 0 ? v * 32768 : v * 32767;
        if (this.n === this.frame) {
          this.port.postMessage(this.buf.buffer, [this.buf.buffer]);
          this.buf = new Int16Array(this.frame);
          this.n = 0;
        }
      }
    }
    return true;  // keep running while the page holds the node
  }
}

registerProcessor('parley-capture', ParleyCapture);
