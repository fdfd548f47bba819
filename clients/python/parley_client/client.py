"""The Parley dialog API over HTTP (services/dialog/openapi.yaml): bots, sessions, turns, turns
streamed as Server-Sent Events (an iterator), conversation checks. Standard library only
(http.client); the voice WebSocket is in voice.py (needs `websockets`).

    from parley_client import Client
    client = Client("http://127.0.0.1:8080", key="...")
    session = client.create_session("demo")
    print(session.turn("book a table for 4 at 7pm")["messages"][0]["text"])
    for event in session.stream("tell me a joke"): print(event)

Threading: a Client may be shared by threads (each call opens its own connection).
"""

import http.client
import json
import re
import time
import urllib.parse

from .errors import ParleyError, TurnFailed, Unavailable, error_from

__all__ = ["Client", "Session", "Token", "check_turn"]


class Token:
    """One `token` event of a streamed turn: a piece of the LM's reply."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return f"Token({self.text!r})"


class Client:
    def __init__(self, url="http://127.0.0.1:8080", key=None, timeout=60.0):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https"):
            raise ValueError(f"url must be http:// or https://, got {url!r}")
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self._scheme = parsed.scheme
        self._host = parsed.hostname
        self._port = parsed.port or (443 if parsed.scheme == "https" else 80)

    # --- plumbing ---
    def _connection(self):
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=self.timeout)

    def _headers(self, content_type="application/json"):
        h = {"Content-Type": content_type, "Accept": "application/json"}
        if self.key:
            h["Authorization"] = "Bearer " + self.key
        return h

    def _open(self, method, path, body=None, content_type="application/json"):
        """The response object (the caller reads it); typed errors for error statuses."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        conn = self._connection()
        try:
            conn.request(method, path, body=body, headers=self._headers(content_type))
            resp = conn.getresponse()
        except OSError as e:
            conn.close()
            raise Unavailable(0, "UNAVAILABLE", f"cannot reach {self.url}: {e}") from e
        if resp.status >= 400:
            raw = resp.read()
            conn.close()
            code, message = None, raw.decode("utf-8", "replace")
            try:
                err = json.loads(raw)["error"]
                code, message = err.get("code"), err.get("message", message)
            except (ValueError, KeyError, TypeError):
                pass
            retry = resp.getheader("Retry-After")
            raise error_from(resp.status, code, message, float(retry) if retry and retry.isdigit() else None)
        resp._parley_conn = conn  # closed with the response
        return resp

    def _call(self, method, path, body=None, content_type="application/json"):
        resp = self._open(method, path, body, content_type)
        try:
            raw = resp.read()
        finally:
            resp._parley_conn.close()
        return json.loads(raw) if raw else None

    # --- bots ---
    def list_bots(self):
        return self._call("GET", "/v1/bots").get("bots", [])

    def get_bot(self, bot_id):
        """The Bot, with its NLU fine-tuning job as the NLU reports it (`nluFineTune`: state,
        progress, serving; or `nluFineTuneError` saying why it could not be asked)."""
        return self._call("GET", f"/v1/bots/{_id(bot_id)}")

    def wait_for_fine_tune(self, bot_id, timeout=900.0, poll=0.5):
        """Polls get_bot until the NLU has the bot and its fine-tuning job has ended (state
        READY, FAILED, CANCELLED, or NONE when it has none); returns that Bot (check
        bot["nluFineTune"]["state"] and ["serving"]). TimeoutError past `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            bot = self.get_bot(bot_id)
            job = bot.get("nluFineTune")
            if bot.get("nluTrained") and job and job.get("state", "NONE") not in ("QUEUED", "RUNNING"):
                return bot
            if time.monotonic() >= deadline:
                raise TimeoutError(f"bot {bot_id!r}: the fine-tuning job did not end within {timeout} s "
                                   f"(last: {job or bot.get('nluFineTuneError') or bot.get('syncError')})")
            time.sleep(poll)

    def put_bot(self, bot_id, definition_yaml):
        """Loads or replaces a bot from its YAML text (admin scope); the Bot. InvalidArgument
        lists each error of the definition as file:line:col."""
        return self._call("PUT", f"/v1/bots/{_id(bot_id)}", definition_yaml, content_type="application/yaml")

    def delete_bot(self, bot_id):
        self._call("DELETE", f"/v1/bots/{_id(bot_id)}")

    def reload_bot(self, bot_id):
        return self._call("POST", f"/v1/bots/{_id(bot_id)}:reload")

    # --- sessions ---
    def create_session(self, bot_id, metadata=None):
        body = {"metadata": dict(metadata)} if metadata else {}
        data = self._call("POST", f"/v1/bots/{_id(bot_id)}/sessions", body)
        return Session(self, data)

    def session(self, session_id):
        """A handle on an existing session (no request)."""
        return Session(self, {"id": session_id})

    def run_conversation_tests(self, bot_id, tests):
        """Runs conversation tests (dicts shaped like BOT_DIR/tests/*.yml: [{name, steps: [{user,
        intent, slots, response, form, source, outcome}]}], e.g. from yaml.safe_load(...)["tests"])
        against this server: each in a fresh session, stopping at its first failed step.
        Returns [(name, diff lines)]: an empty diff is a pass."""
        results = []
        for test in tests:
            session = self.create_session(bot_id)
            diff = []
            try:
                for n, step in enumerate(test["steps"], 1):
                    problems = check_turn(step, session.turn(step["user"]))
                    if problems:
                        diff = [f"step {n} user: {step['user']!r}"] + ["  " + p for p in problems]
                        break
            finally:
                session.delete()
            results.append((test["name"], diff))
        return results

    def openapi(self):
        """The server's API document (/v1/openapi.json)."""
        return self._call("GET", "/v1/openapi.json")


class Session:
    """One conversation. `data` is the last Session JSON the server sent (or just its id)."""

    def __init__(self, client, data):
        self.client = client
        self.data = data
        self.id = data["id"]

    def __repr__(self):
        return f"Session({self.id!r})"

    def get(self):
        self.data = self.client._call("GET", f"/v1/sessions/{_id(self.id)}")
        return self.data

    def delete(self):
        self.client._call("DELETE", f"/v1/sessions/{_id(self.id)}")

    def turn(self, text):
        """One user utterance; the TurnResponse (messages, intent, slots, sessionSlots, sources,
        activeForm, requestedSlot, outcome, timings, errors, events)."""
        return self.client._call("POST", f"/v1/sessions/{_id(self.id)}/turns", {"text": text})

    def stream(self, text):
        """The turn as it happens: yields Token for each piece of an LM reply, then the
        TurnResponse (a dict) last. A turn that fails after the stream started raises TurnFailed."""
        resp = self.client._open("POST", f"/v1/sessions/{_id(self.id)}/turns:stream", {"text": text})
        try:
            for event, data in _sse_events(resp):
                if event == "token":
                    yield Token(json.loads(data)["text"])
                elif event == "turn":
                    yield json.loads(data)
                    return
                elif event == "error":
                    err = json.loads(data).get("error", {})
                    raise TurnFailed(200, err.get("code", "UNKNOWN"), err.get("message", data))
            raise ParleyError(200, "INCOMPLETE_STREAM", "the stream ended before its turn event")
        finally:
            resp.close()
            resp._parley_conn.close()

    def voice(self, **options):
        """A live voice session on this conversation (voice.py; needs `websockets`)."""
        from .voice import VoiceSession

        return VoiceSession(self.client, self.id, **options)


def _sse_events(resp):
    """(event, data) pairs of a text/event-stream response, read as they arrive."""
    event, data = "message", []
    while True:
        line = resp.readline()
        if not line:
            return
        line = line.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


def _id(value):
    return urllib.parse.quote(str(value), safe="")


def check_turn(expected, turn):
    """What in `turn` (a TurnResponse dict) differs from `expected`, one line each, empty when
    it holds. `expected` uses the keys of a conversation test step (services/dialog/cli/bot_tests.h):
    intent, slots ({name: value or None}), response ({kind, text regex} or a list), form
    ({active, requested_slot} or None), source, outcome."""
    diff = []
    got_intent = (turn.get("intent") or {}).get("name", "")
    if "intent" in expected and got_intent != expected["intent"]:
        diff.append(f"intent: expected {expected['intent']}, got {got_intent or '(none)'}")
    slots = turn.get("sessionSlots") or {}
    for name, want in (expected.get("slots") or {}).items():
        got = slots.get(name) or None
        if (str(want) if want is not None else None) != got:
            diff.append(f"slots.{name}: expected {'unset' if want is None else repr(str(want))}, got "
                        f"{'unset' if got is None else repr(got)}")
    responses = expected.get("response", expected.get("responses"))
    if responses is not None:
        for r in responses if isinstance(responses, list) else [responses]:
            r = {"text": r} if isinstance(r, str) else r
            pattern = r.get("text")
            flags = 0
            if pattern and pattern.startswith("(?i)"):
                pattern, flags = pattern[4:], re.I
            if not any((not r.get("kind") or m.get("kind") == r["kind"]) and
                       (pattern is None or re.search(pattern, m.get("text", ""), flags))
                       for m in turn.get("messages", [])):
                got = "; ".join(f"[{m.get('kind')}] {m.get('text')!r}" for m in turn.get("messages", []))
                diff.append(f"expected a response {r}, got {got or 'no message'}")
    if "form" in expected:
        form = expected["form"] or {"active": ""}
        if "active" in form and (turn.get("activeForm") or "") != (form["active"] or ""):
            diff.append(f"form.active: expected {form['active'] or 'none'}, got {turn.get('activeForm') or 'none'}")
        if "requested_slot" in form and (turn.get("requestedSlot") or "") != (form["requested_slot"] or ""):
            diff.append(f"form.requested_slot: expected {form['requested_slot'] or 'none'}, got "
                        f"{turn.get('requestedSlot') or 'none'}")
    if "source" in expected:
        ids = [p.get("documentId", "") for p in turn.get("sources", [])]
        titles = [p.get("title", "") for p in turn.get("sources", [])]
        if not any(expected["source"] in s for s in ids + titles):
            diff.append(f"source: expected {expected['source']}, got {', '.join(ids) or 'no source'}")
    if "outcome" in expected and turn.get("outcome") != expected["outcome"]:
        diff.append(f"outcome: expected {expected['outcome']}, got {turn.get('outcome')}")
    return diff
