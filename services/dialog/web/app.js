// Parley web chat: bot picker, sessions, text turns (streamed over SSE when the server supports
// it), voice (voice.js: the microphone button), and a side panel with what the orchestrator
// decided. Plain browser JavaScript, no build step, no external URL. Talks to /v1 of
// parley-dialog (JSON = proto3 JSON of dialog.proto).
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const els = {
    botSelect: $('bot-select'), newSession: $('new-session'), endSession: $('end-session'),
    sessionInfo: $('session-info'), streamToggle: $('stream-toggle'), apiKey: $('api-key'),
    errorBanner: $('error-banner'), errorText: $('error-text'), errorClose: $('error-close'),
    description: $('bot-description'), messages: $('messages'), composer: $('composer'),
    input: $('message-input'), send: $('send-button'), voice: $('voice-button'),
  };
  const state = {
    bots: [],
    session: null,          // {id, botId}
    busy: false,
    streamSupported: true,  // false after the server answered 404/405/501 on turns:stream
    voice: null,            // the live voice session (voice.js), when the microphone is on
    partial: null,          // the user bubble a voice transcript is growing in
    live: null,             // the bot bubble a voice reply's tokens grow in
  };

  // ---- HTTP ---------------------------------------------------------------------------------

  function headers(extra) {
    const h = Object.assign({ 'Accept': 'application/json' }, extra || {});
    const key = els.apiKey.value.trim();
    if (key) h['Authorization'] = 'Bearer ' + key;
    return h;
  }

  // An Error carrying the API's {"error":{"code","message"}} (or a network failure).
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function errorFrom(resp) {
    let code = 'HTTP_' + resp.status;
    let message = resp.statusText || 'request failed';
    try {
      const body = await resp.json();
      if (body && body.error) {
        code = body.error.code || code;
        message = body.error.message || message;
      }
    } catch (_) { /* not JSON: keep the status line */ }
    return new ApiError(resp.status, code, message);
  }

  async function api(method, path, body) {
    let resp;
    try {
      resp = await fetch(path, {
        method,
        headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'UNAVAILABLE', 'cannot reach the orchestrator (' + e.message + ')');
    }
    if (!resp.ok) throw await errorFrom(resp);
    if (resp.status === 204) return {};
    const text = await resp.text();
    return text ? JSON.parse(text) : {};
  }

  // ---- errors -------------------------------------------------------------------------------

  function showError(err) {
    const code = err && err.code ? err.code : 'ERROR';
    let text = code + ': ' + (err && err.message ? err.message : String(err));
    if (err && err.status === 401) text += ' — enter an API key (top right).';
    els.errorText.textContent = text;
    els.errorBanner.hidden = false;
    if (err && err.status === 401) document.querySelector('.settings').open = true;
  }
  function clearError() {
    els.errorBanner.hidden = true;
    els.errorText.textContent = '';
  }

  // ---- chat rendering -----------------------------------------------------------------------

  function addBubble(who, text, kind) {
    const li = document.createElement('li');
    li.className = 'msg ' + who + (kind ? ' kind-' + kind : '');
    const body = document.createElement('div');
    body.className = 'text';
    body.textContent = text;
    li.appendChild(body);
    if (who === 'bot' && kind && kind !== 'response') {
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = kind.replace('_', ' ');
      li.appendChild(tag);
    }
    els.messages.appendChild(li);
    els.messages.scrollTop = els.messages.scrollHeight;
    return li;
  }

  function addBotMessages(messages) {
    for (const m of messages || []) {
      const li = addBubble('bot', m.text || '', m.kind || 'response');
      if (m.sources && m.sources.length) {
        const src = document.createElement('div');
        src.className = 'msg-sources';
        const names = m.sources.map((p) => p.title || p.documentId || p.id);
        src.textContent = 'source: ' + names.filter((n, i) => names.indexOf(n) === i).join(', ');
        li.appendChild(src);
      }
    }
  }

  function addNote(text, cls) {
    const li = document.createElement('li');
    li.className = 'note ' + (cls || '');
    li.textContent = text;
    els.messages.appendChild(li);
    els.messages.scrollTop = els.messages.scrollHeight;
  }

  // ---- side panel ---------------------------------------------------------------------------

  function clearChildren(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function setText(id, text) { $(id).textContent = text === undefined || text === '' ? '—' : text; }
  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function renderPanel(t) {
    $('turn-number').textContent = t.turn ? '#' + t.turn : '';
    setText('outcome', t.outcome);
    $('outcome').className = 'outcome-' + (t.outcome || 'none');
    const intent = t.intent || {};
    setText('intent-name', intent.name);
    const conf = typeof intent.confidence === 'number' ? intent.confidence : 0;
    $('intent-confidence').textContent = intent.name ? conf.toFixed(2) : '';
    $('intent-bar').style.width = Math.round(Math.max(0, Math.min(1, conf)) * 100) + '%';
    setText('nlu-model', t.nluModel);
    setText('active-form', t.activeForm);
    setText('requested-slot', t.requestedSlot);

    // Slots: every session slot, marking those NLU extracted this turn.
    const tbody = $('slots-table').tBodies[0];
    clearChildren(tbody);
    const extracted = {};
    for (const s of t.slots || []) extracted[s.slot] = s;
    const all = Object.assign({}, t.sessionSlots || {});
    for (const name of Object.keys(extracted)) if (!(name in all)) all[name] = extracted[name].value || '';
    const names = Object.keys(all).sort();
    for (const name of names) {
      const tr = document.createElement('tr');
      cell(tr, name, 'slot-name');
      cell(tr, all[name], 'slot-value');
      const e = extracted[name];
      cell(tr, e ? '“' + (e.rawValue || e.value || '') + '”' +
        (typeof e.confidence === 'number' ? ' ' + e.confidence.toFixed(2) : '') : '', 'muted');
      if (e) tr.className = 'fresh';
      tbody.appendChild(tr);
    }
    $('slots-empty').hidden = names.length > 0;

    // Sources: the turn's, else those attached to messages.
    let sources = t.sources || [];
    if (!sources.length) for (const m of t.messages || []) sources = sources.concat(m.sources || []);
    const ol = $('sources');
    clearChildren(ol);
    for (const p of sources) {
      const li = document.createElement('li');
      const head = document.createElement('div');
      head.className = 'source-head';
      head.textContent = (p.title || p.documentId || p.id || 'passage') +
        (typeof p.score === 'number' ? '  ·  ' + p.score.toFixed(3) : '');
      const body = document.createElement('div');
      body.className = 'source-text';
      body.textContent = p.text || '';
      li.appendChild(head);
      li.appendChild(body);
      ol.appendChild(li);
    }
    $('sources-empty').hidden = sources.length > 0;

    // Timings: one bar per stage, scaled to the slowest.
    const tb = $('timings').tBodies[0];
    clearChildren(tb);
    const timings = (t.timings || []).map((s) => ({ stage: s.stage, us: Number(s.durationUs || 0) }));
    const max = Math.max(1, ...timings.map((s) => s.us));
    // A "total" stage (the orchestrator's wall time) is shown as is; otherwise the stages are summed.
    const reported = timings.find((s) => s.stage === 'total');
    let total = 0;
    for (const s of timings) {
      if (s.stage !== 'total') total += s.us;
      const tr = document.createElement('tr');
      cell(tr, s.stage, 'stage');
      const td = cell(tr, '', 'bar-cell');
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = Math.max(2, Math.round(s.us / max * 100)) + '%';
      td.appendChild(bar);
      cell(tr, formatUs(s.us), 'num');
      tb.appendChild(tr);
    }
    $('timings-total').textContent = reported ? 'turn total ' + formatUs(reported.us)
      : (timings.length ? 'sum of stages ' + formatUs(total) : 'no timings');

    const ev = $('events');
    clearChildren(ev);
    if (!(t.events || []).length) {
      const li = document.createElement('li');
      li.className = 'muted';
      li.textContent = 'none';
      ev.appendChild(li);
    }
    for (const e of t.events || []) {
      const li = document.createElement('li');
      li.textContent = [e.type, e.name, e.value && '= ' + e.value, e.detail && '(' + e.detail + ')']
        .filter(Boolean).join(' ');
      ev.appendChild(li);
    }
    const errs = $('turn-errors');
    clearChildren(errs);
    for (const e of t.errors || []) {
      const li = document.createElement('li');
      li.textContent = (e.code || 'UNKNOWN') + ': ' + (e.message || '');
      errs.appendChild(li);
    }
  }

  function formatUs(us) {
    if (us >= 1e6) return (us / 1e6).toFixed(2) + ' s';
    if (us >= 1e3) return (us / 1e3).toFixed(1) + ' ms';
    return us + ' µs';
  }

  // ---- SSE over fetch (EventSource cannot POST) ----------------------------------------------

  // Calls onEvent(name, data) for each complete event of a text/event-stream body.
  async function readSse(resp, onEvent) {
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let name = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (!line || line[0] === ':') continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let val = colon < 0 ? '' : line.slice(colon + 1);
          if (val[0] === ' ') val = val.slice(1);
          if (field === 'event') name = val;
          else if (field === 'data') data.push(val);
        }
        if (data.length) onEvent(name, data.join('\n'));
      }
    }
  }

  // One streamed turn. Returns the final TurnResponse, or null when the server has no stream
  // endpoint (the caller then uses the plain one).
  async function streamTurn(sessionId, text) {
    let resp;
    try {
      resp = await fetch('/v1/sessions/' + encodeURIComponent(sessionId) + '/turns:stream', {
        method: 'POST',
        headers: headers({ 'Content-Type': 'application/json', 'Accept': 'text/event-stream' }),
        body: JSON.stringify({ sessionId, text }),
      });
    } catch (e) {
      throw new ApiError(0, 'UNAVAILABLE', 'cannot reach the orchestrator (' + e.message + ')');
    }
    if (resp.status === 404 && !(await isSessionError(resp.clone()))) return null;
    if (resp.status === 405 || resp.status === 501) return null;
    if (!resp.ok) throw await errorFrom(resp);

    let live = null;      // the bubble that grows token by token
    let final = null;
    let streamError = null;
    await readSse(resp, (name, data) => {
      let obj;
      try { obj = JSON.parse(data); } catch (_) { obj = { text: data }; }
      if (name === 'token') {
        if (!live) { live = addBubble('bot', '', 'generated'); live.classList.add('streaming'); }
        live.firstChild.textContent += obj.text || '';
        els.messages.scrollTop = els.messages.scrollHeight;
      } else if (name === 'error') {
        const e = obj.error || obj;
        streamError = new ApiError(200, e.code || 'INTERNAL', e.message || 'stream failed');
      } else if (name === 'turn' || name === 'done' || name === 'final' || name === 'response' ||
                 (name === 'message' && obj && (obj.messages || obj.turn))) {
        final = obj;
      }
    });
    if (live) live.remove();  // the final turn carries the whole text; render it once
    if (streamError) throw streamError;
    if (!final) throw new ApiError(200, 'DATA_LOSS', 'the reply stream ended before the turn was complete');
    return final;
  }

  // A 404 for an unknown session is a real error; a 404 for an unknown route means "no streaming".
  async function isSessionError(resp) {
    try {
      const body = await resp.json();
      return !!(body && body.error && /session/i.test(body.error.message || ''));
    } catch (_) { return false; }
  }

  // ---- actions ------------------------------------------------------------------------------

  function setBusy(busy) {
    state.busy = busy;
    const ready = !!state.session && !busy;
    els.input.disabled = !state.session;
    els.send.disabled = !ready;
    els.endSession.disabled = !state.session || busy;
    els.newSession.disabled = busy || !els.botSelect.value;
    els.voice.disabled = !state.session || !window.ParleyVoice || !window.ParleyVoice.supported();
    document.body.dataset.state = busy ? 'busy' : (state.session ? 'ready' : 'idle');
  }

  // ---- voice --------------------------------------------------------------------------------

  function voiceOn() { return !!state.voice && (state.voice.state === 'open' || state.voice.state === 'connecting'); }

  function onVoiceEvent(e) {
    switch (e.type) {
      case 'ready':
        if (!e.asr) addNote('Speech recognition is not available: type your messages.', 'warn');
        if (!e.tts) addNote('Speech synthesis is not available: replies come as text.', 'warn');
        break;
      case 'speech_started':
      case 'partial':
        if (!state.partial) state.partial = addBubble('user', '');
        state.partial.classList.add('partial');
        if (e.type === 'partial') state.partial.firstChild.textContent = e.text || '';
        break;
      case 'final': {
        const li = state.partial || addBubble('user', '');
        state.partial = null;
        li.classList.remove('partial');
        li.firstChild.textContent = e.text || '';
        if (e.ignored) {
          li.classList.add('ignored');
          li.title = 'not taken as a turn: ' + e.reason;
          if (!e.text) li.remove();
        }
        break;
      }
      case 'token':
        if (!state.live) { state.live = addBubble('bot', '', 'generated'); state.live.classList.add('streaming'); }
        state.live.firstChild.textContent += e.text || '';
        break;
      case 'turn': {
        if (state.live) { state.live.remove(); state.live = null; }
        const t = e.turn || {};
        addBotMessages(t.messages);
        if ((t.events || []).some((x) => x.type === 'interrupted')) {
          const bots = els.messages.querySelectorAll('.msg.bot');
          if (bots.length) bots[bots.length - 1].classList.add('interrupted');
        }
        renderPanel(Object.assign({}, t, { timings: (t.timings || []).concat(e.timings || []) }));
        break;
      }
      case 'bot_speech_started': {
        const ms = (stage) => {
          const s = (e.timings || []).find((x) => x.stage === stage);
          return s ? Math.round(Number(s.durationUs || 0) / 1000) + ' ms' : '—';
        };
        $('voice-latency').textContent = 'end of speech → first audio ' + ms('voice.first_audio') +
          ' (endpoint ' + ms('voice.endpoint') + ', dialog ' + ms('voice.dialog_first_text') +
          ', speech ' + ms('voice.tts_first_audio') + ')';
        break;
      }
      case 'interrupted':
        if (state.live) { state.live.classList.remove('streaming'); state.live.classList.add('interrupted'); state.live = null; }
        addNote('(you interrupted the bot)');
        break;
      case 'error':
        addNote((e.source || 'voice') + ': ' + ((e.error && e.error.message) || 'error'), 'warn');
        break;
      default:
        break;
    }
    els.messages.scrollTop = els.messages.scrollHeight;
  }

  function setVoiceState(s) {
    document.body.dataset.voice = s;
    const on = s === 'open' || s === 'connecting';
    els.voice.classList.toggle('active', on);
    els.voice.setAttribute('aria-pressed', on ? 'true' : 'false');
    els.voice.title = on ? 'Stop talking' : 'Talk (microphone)';
  }

  async function toggleVoice() {
    clearError();
    if (voiceOn()) {
      state.voice.stop();
      return;
    }
    if (!state.session) return;
    const v = new window.ParleyVoice(state.session.id, els.apiKey.value.trim(), {
      onState: setVoiceState,
      onEvent: onVoiceEvent,
      onError: (msg) => showError(new ApiError(0, 'UNAVAILABLE', msg)),
    });
    state.voice = v;
    try {
      await v.start();
      addNote('Listening… speak, or type; the bot answers aloud. Click the microphone to stop.');
    } catch (err) {
      v.close();
      showError(new ApiError(0, 'UNAVAILABLE', 'voice: ' + (err.message || err)));
    }
  }

  function stopVoice() {
    if (state.voice) state.voice.close();
    state.voice = null;
    state.partial = null;
    state.live = null;
  }

  async function loadBots() {
    const resp = await api('GET', '/v1/bots');
    state.bots = resp.bots || [];
    clearChildren(els.botSelect);
    for (const b of state.bots) {
      const o = document.createElement('option');
      o.value = b.id;
      o.textContent = (b.name || b.id) + (b.nluTrained === false ? ' (training…)' : '');
      els.botSelect.appendChild(o);
    }
    if (!state.bots.length) showError(new ApiError(0, 'NOT_FOUND', 'the orchestrator has no bots loaded'));
    showBotDescription();
  }

  function showBotDescription() {
    const b = state.bots.find((x) => x.id === els.botSelect.value);
    let text = b ? (b.description || '') : '';
    if (b && b.syncError) text += (text ? ' — ' : '') + 'not ready: ' + b.syncError;
    els.description.textContent = text;
  }

  function setSession(session) {
    state.session = session;
    els.sessionInfo.textContent = session ? 'session ' + session.id : 'no session';
    if (session) history.replaceState(null, '', '#session=' + encodeURIComponent(session.id));
    else history.replaceState(null, '', location.pathname + location.search);
    setBusy(false);
  }

  async function newSession() {
    clearError();
    const botId = els.botSelect.value;
    if (!botId) return;
    setBusy(true);
    try {
      stopVoice();
      const s = await api('POST', '/v1/bots/' + encodeURIComponent(botId) + '/sessions',
                          { botId, metadata: { client: 'web' } });
      clearChildren(els.messages);
      renderPanel({});
      setSession({ id: s.id, botId: s.botId || botId });
      addNote('New conversation with ' + botId + '.');
      els.input.focus();
    } catch (e) {
      showError(e);
      setBusy(false);
    }
  }

  async function endSession() {
    if (!state.session) return;
    clearError();
    stopVoice();
    try {
      await api('DELETE', '/v1/sessions/' + encodeURIComponent(state.session.id));
      addNote('Session ended.');
    } catch (e) {
      if (e.status !== 404) showError(e);
    }
    setSession(null);
  }

  async function sendTurn(text) {
    clearError();
    addBubble('user', text);
    setBusy(true);
    const id = state.session.id;
    try {
      let turn = null;
      if (els.streamToggle.checked && state.streamSupported) {
        turn = await streamTurn(id, text);
        if (turn === null) state.streamSupported = false;
      }
      if (turn === null) {
        turn = await api('POST', '/v1/sessions/' + encodeURIComponent(id) + '/turns', { sessionId: id, text });
      }
      addBotMessages(turn.messages);
      for (const e of turn.errors || []) addNote((e.code || 'ERROR') + ': ' + (e.message || ''), 'warn');
      renderPanel(turn);
    } catch (e) {
      showError(e);
      addNote('The message was not answered: ' + (e.message || e), 'error');
      if (e.status === 404) setSession(null);  // the session expired or was deleted
    } finally {
      setBusy(false);
      if (state.session) els.input.focus();
    }
  }

  // Continues a session named in the URL (#session=ID): history, slots, form.
  async function resumeFromUrl() {
    const m = /session=([^&]+)/.exec(location.hash);
    if (!m) return false;
    const id = decodeURIComponent(m[1]);
    try {
      const s = await api('GET', '/v1/sessions/' + encodeURIComponent(id));
      if (s.botId) els.botSelect.value = s.botId;
      showBotDescription();
      for (const t of s.history || []) {
        if (t.userText) addBubble('user', t.userText);
        addBotMessages(t.messages);
      }
      renderPanel({ sessionSlots: s.slots, activeForm: s.activeForm, requestedSlot: s.requestedSlot,
                    turn: s.turns });
      setSession({ id: s.id || id, botId: s.botId });
      addNote('Resumed session ' + (s.id || id) + '.');
      return true;
    } catch (e) {
      if (e.status === 404) addNote('Session ' + id + ' has expired; start a new one.');
      else showError(e);
      setSession(null);
      return false;
    }
  }

  // ---- wiring -------------------------------------------------------------------------------

  els.composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = els.input.value.trim();
    if (!text || !state.session || state.busy) return;
    els.input.value = '';
    // While talking, typed lines go on the voice session (the reply is spoken too).
    if (voiceOn() && state.voice.sendText(text)) {
      addBubble('user', text);
      return;
    }
    sendTurn(text);
  });
  els.voice.addEventListener('click', toggleVoice);
  els.newSession.addEventListener('click', newSession);
  els.endSession.addEventListener('click', endSession);
  els.errorClose.addEventListener('click', clearError);
  els.botSelect.addEventListener('change', showBotDescription);
  try {
    els.apiKey.value = localStorage.getItem('parley.apiKey') || '';
    els.apiKey.addEventListener('change', () => localStorage.setItem('parley.apiKey', els.apiKey.value));
  } catch (_) { /* storage disabled: keep the key for this page only */ }

  (async function init() {
    try {
      await loadBots();
      await resumeFromUrl();
    } catch (e) {
      showError(e);
    }
    setBusy(false);
  })();

  // For tests and the console: read-only view of the page state.
  window.parleyChat = { state, sendTurn: (t) => sendTurn(t), newSession, toggleVoice };
})();
