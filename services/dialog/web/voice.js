// Parley web chat, voice: one live voice session on /v1/sessions/{id}/voice — the microphone
// captured by an AudioWorklet (capture-worklet.js) and sent as PCM16, the server's events handed
// to the page, the bot's speech played back as it streams and flushed at once when it is
// interrupted. Plain browser JavaScript; app.js owns the page and gives the callbacks.
'use strict';

(function () {
  // callbacks: onState(state), onEvent(event), onError(message). state: connecting, open, closed.
  class ParleyVoice {
    constructor(sessionId, apiKey, callbacks) {
      this.sessionId = sessionId;
      this.apiKey = apiKey;
      this.cb = callbacks;
      this.state = 'idle';
      this.audioBytes = 0;       // bot audio received
      this.sentBytes = 0;        // microphone audio sent
      this.interruptions = 0;
      this.events = [];          // types, in order (tests, the console)
      this.sources = new Set();  // scheduled playback
      this.playAt = 0;
      this.outRate = 16000;
      this.ws = null;
      this.ctx = null;
      this.stream = null;
      this.node = null;
    }

    async start() {
      this.setState('connecting');
      // Echo cancellation keeps the bot's own voice (from the speakers) out of the microphone, so
      // it cannot interrupt itself; noise suppression and AGC help the recognizer.
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      this.ctx = new AudioContext();
      if (this.ctx.state === 'suspended') await this.ctx.resume();
      await this.ctx.audioWorklet.addModule('/static/capture-worklet.js');
      const rate = Math.round(this.ctx.sampleRate);
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      let url = proto + '//' + location.host + '/v1/sessions/' + encodeURIComponent(this.sessionId) +
        '/voice?sample_rate=' + rate;
      if (this.apiKey) url += '&access_token=' + encodeURIComponent(this.apiKey);
      const ws = new WebSocket(url, ['parley.voice.v1']);
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error('the voice connection was refused (is speech configured? is the session alive?)'));
      });
      ws.onmessage = (m) => this.onMessage(m);
      ws.onclose = (c) => this.onClose(c);
      ws.onerror = null;
      const source = this.ctx.createMediaStreamSource(this.stream);
      this.node = new AudioWorkletNode(this.ctx, 'parley-capture');
      this.node.port.onmessage = (m) => {
        if (this.ws && this.ws.readyState === WebSocket.OPEN && this.state === 'open') {
          this.ws.send(m.data);
          this.sentBytes += m.data.byteLength;
        }
      };
      source.connect(this.node);
      this.node.connect(this.ctx.destination);  // pulled by the graph; it outputs silence
      this.setState('open');
    }

    // Stops the microphone; the server finishes the reply in progress, then closes.
    stop() {
      if (this.stream) for (const t of this.stream.getTracks()) t.stop();
      this.stream = null;
      if (this.node) this.node.disconnect();
      this.node = null;
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'end' }));
      this.setState('stopping');
    }

    sendText(text) {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
      this.flush();  // a typed turn interrupts the bot
      this.ws.send(JSON.stringify({ type: 'text', text }));
      return true;
    }

    onMessage(m) {
      if (typeof m.data !== 'string') {
        this.play(m.data);
        return;
      }
      let e;
      try { e = JSON.parse(m.data); } catch (_) { return; }
      this.events.push(e.type);
      if (e.type === 'bot_speech_started') {
        this.outRate = e.sampleRateHz || this.outRate;
      } else if (e.type === 'interrupted') {
        this.interruptions++;
        this.flush();  // the server sends no more of it; drop what is still queued here
      }
      this.cb.onEvent(e);
    }

    onClose(c) {
      if (c.code !== 1000 && this.state !== 'closed') {
        this.cb.onError('the voice session ended (' + c.code + (c.reason ? ': ' + c.reason : '') + ')');
      }
      if (this.stream) for (const t of this.stream.getTracks()) t.stop();
      this.stream = null;
      this.setState('closed');
    }

    // Queues one frame of the bot's PCM16 speech right after the previous one.
    play(buffer) {
      this.audioBytes += buffer.byteLength;
      if (!this.ctx) return;
      const pcm = new Int16Array(buffer);
      if (!pcm.length) return;
      const audio = this.ctx.createBuffer(1, pcm.length, this.outRate);
      const ch = audio.getChannelData(0);
      for (let i = 0; i < pcm.length; i++) ch[i] = pcm[i] / 32768;
      const src = this.ctx.createBufferSource();
      src.buffer = audio;
      src.connect(this.ctx.destination);
      const at = Math.max(this.ctx.currentTime + 0.02, this.playAt);
      src.start(at);
      this.playAt = at + audio.duration;
      this.sources.add(src);
      src.onended = () => this.sources.delete(src);
    }

    flush() {
      for (const s of this.sources) {
        try { s.stop(); } catch (_) { /* already ended */ }
      }
      this.sources.clear();
      this.playAt = 0;
    }

    close() {
      this.flush();
      if (this.ws) this.ws.close(1000);
      if (this.stream) for (const t of this.stream.getTracks()) t.stop();
      if (this.ctx) this.ctx.close();
      this.setState('closed');
    }

    setState(s) {
      this.state = s;
      this.cb.onState(s);
    }
  }

  ParleyVoice.supported = () => !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia &&
    window.AudioWorkletNode && window.WebSocket && window.AudioContext);
  window.ParleyVoice = ParleyVoice;
})();
