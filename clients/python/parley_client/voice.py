"""A live voice session over the WebSocket /v1/sessions/{id}/voice (services/dialog/README.md,
"Voice sessions"): send PCM16 audio (or a WAV file) and typed turns, receive events (dicts, the
VoiceEvent JSON) and the bot's audio (bytes). Needs the `websockets` package (sync client).

    with session.voice(sample_rate=16000) as call:
        call.send_wav("question.wav")
        call.end()
        for item in call.events():
            if isinstance(item, bytes): speaker.write(item)
            elif item["type"] == "turn": print(item["turn"]["messages"])
"""

import json
import time
import urllib.parse
import wave

from .errors import ParleyError, error_from

FRAME_MS = 20


class VoiceSession:
    def __init__(self, client, session_id, sample_rate=16000, output_sample_rate=0, language=None, voice=None,
                 text_only=False, open_timeout=10.0):
        try:
            from websockets.sync.client import connect
            from websockets.exceptions import InvalidStatus
        except ImportError as e:
            raise ImportError("voice sessions need the 'websockets' package (pip install websockets)") from e
        query = {"sample_rate": sample_rate, "output_sample_rate": output_sample_rate,
                 "text_only": "true" if text_only else "false"}
        if language:
            query["language"] = language
        if voice:
            query["voice"] = voice
        scheme = "wss" if client.url.startswith("https") else "ws"
        url = f"{scheme}://{client._host}:{client._port}/v1/sessions/{urllib.parse.quote(session_id, safe='')}/voice?" + \
            urllib.parse.urlencode(query)
        headers = {"Authorization": "Bearer " + client.key} if client.key else None
        self.sample_rate = sample_rate
        try:
            # websockets 17 wants its connection entered as a context manager; this object is one.
            self._cm = connect(url, additional_headers=headers, subprotocols=["parley.voice.v1"],
                               open_timeout=open_timeout, max_size=None)
            self._ws = self._cm.__enter__()
        except InvalidStatus as e:  # refused before the upgrade: a plain HTTP error
            body = e.response.body or b""
            code, message = None, body.decode("utf-8", "replace")
            try:
                err = json.loads(body)["error"]
                code, message = err.get("code"), err.get("message")
            except (ValueError, KeyError, TypeError):
                pass
            raise error_from(e.response.status_code, code, message) from e
        except OSError as e:
            raise error_from(0, "UNAVAILABLE", f"cannot reach {url}: {e}") from e
        self.close_code = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # --- client -> server ---
    def send_audio(self, pcm16):
        """PCM16 little-endian mono at sample_rate (whole samples)."""
        if len(pcm16) % 2:
            raise ValueError("PCM16 audio must have an even number of bytes")
        self._ws.send(bytes(pcm16))

    def send_wav(self, path, realtime=True):
        """Streams a mono 16-bit WAV at its own rate (which must be this session's sample_rate)
        in 20 ms frames, paced in real time unless realtime=False."""
        with wave.open(str(path), "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise ValueError(f"{path}: need mono 16-bit PCM, got {w.getnchannels()} channels of {8 * w.getsampwidth()} bits")
            if w.getframerate() != self.sample_rate:
                raise ValueError(f"{path} is {w.getframerate()} Hz; open the voice session with sample_rate={w.getframerate()}")
            frame = w.getframerate() * FRAME_MS // 1000
            start = time.monotonic()
            sent = 0
            while True:
                chunk = w.readframes(frame)
                if not chunk:
                    break
                self.send_audio(chunk)
                sent += len(chunk) // 2
                if realtime:
                    ahead = sent / self.sample_rate - (time.monotonic() - start)
                    if ahead > 0:
                        time.sleep(ahead)

    def say(self, text):
        """A typed turn (interrupts the bot if it is speaking)."""
        self._ws.send(json.dumps({"type": "text", "text": text}))

    def interrupt(self):
        self._ws.send(json.dumps({"type": "interrupt"}))

    def end(self):
        """No more input: the last reply is spoken, then the server closes (1000)."""
        self._ws.send(json.dumps({"type": "end"}))

    # --- server -> client ---
    def events(self, timeout=None):
        """Yields each event (a dict: type, text, turn, ...) and each chunk of bot audio (bytes)
        until the server closes; a `timeout` (s) without a message raises TimeoutError."""
        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                msg = self._ws.recv(timeout=timeout)
            except ConnectionClosed as e:
                self.close_code = e.rcvd.code if e.rcvd else None
                if self.close_code not in (None, 1000, 1001):
                    raise ParleyError(0, f"CLOSED_{self.close_code}", e.rcvd.reason if e.rcvd else "closed") from e
                return
            yield msg if isinstance(msg, bytes) else json.loads(msg)

    def next_event(self, type_, timeout=30.0):
        """The next event of this type (other events and audio are skipped)."""
        for item in self.events(timeout=timeout):
            if isinstance(item, dict) and item.get("type") == type_:
                return item
        raise ParleyError(0, "CLOSED", f"the voice session closed before a {type_!r} event")

    def close(self):
        self._cm.__exit__(None, None, None)
