"""The Python client (clients/python) against the real parley-dialog (model-free engines, the
fake speech process for voice), imported from the wheel tools/build-python-client builds:
sessions, turns, the SSE iterator, bots (upload with errors, replace, delete), conversation
checks, typed errors per status, and a voice session (typed turn, audio in, events and bot audio
out). The voice cases need `websockets` (tools/reference/setup client) and skip without it.
"""

import importlib
import io
import math
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "support"))
import parley_processes as pp  # noqa: E402
import parley_unittest  # noqa: E402

MINI = """bot: {id: mini, name: Mini}
intents:
  hello: [hello, hi there]
  bye: [bye, goodbye]
responses:
  hi: ["Hi from mini!"]
rules:
  - {intent: hello, actions: [hi]}
"""


def build_wheel():
    out = tempfile.mkdtemp(prefix="parley-wheel-")
    path = subprocess.run([sys.executable, os.path.join(pp.SOURCE_DIR, "tools", "build-python-client"), out],
                          check=True, stdout=subprocess.PIPE).stdout.decode().strip()
    sys.path.insert(0, path)  # a pure-Python wheel imports straight from the zip
    return path


WHEEL = build_wheel()
pc = importlib.import_module("parley_client")
try:
    import websockets  # noqa: F401
    HAVE_WEBSOCKETS = True
except ImportError:
    HAVE_WEBSOCKETS = False


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.platform = pp.Platform(speech=True).__enter__()
        cls.client = pc.Client(cls.platform.url, key=pp.BOTH_KEY)

    @classmethod
    def tearDownClass(cls):
        cls.platform.__exit__(None, None, None)

    def test_imported_from_the_wheel(self):
        self.assertTrue(pc.__file__.startswith(WHEEL), pc.__file__)

    def test_the_wheel_installs_with_pip(self):
        try:
            import pip  # noqa: F401
        except ImportError:
            self.skipTest("no pip in this interpreter")
        target = tempfile.mkdtemp(prefix="parley-wheel-install-")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target", target, WHEEL],
                       check=True)
        out = subprocess.run([sys.executable, "-c", "import parley_client as p; print(p.__version__, p.__file__)"],
                             check=True, stdout=subprocess.PIPE, cwd=target, env=dict(os.environ, PYTHONPATH=target))
        version, path = out.stdout.decode().split()
        self.assertEqual(version, pc.__version__)
        self.assertTrue(path.startswith(target), path)

    def test_readme_quick_start_runs(self):
        import contextlib
        import re
        for readme in ("clients/python/README.md", "README.md"):
            with open(os.path.join(pp.SOURCE_DIR, readme), encoding="utf-8") as f:
                code = re.search(r"```python\n(.*?)```", f.read(), re.S).group(1)
            self.assertLessEqual(len(code.strip().splitlines()), 5, readme)
            code = code.replace('"http://127.0.0.1:8080"', repr(self.platform.url)).replace("key=None", f"key={pp.BOTH_KEY!r}")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(code, readme, "exec"), {})
            self.assertEqual(out.getvalue().splitlines(),
                             ["A table for 4 at 7pm — shall I book it?", "Done! Your table for 4 at 7pm is booked."], readme)

    def test_session_and_turns(self):
        s = self.client.create_session("demo", metadata={"channel": "test"})
        turn = s.turn("I'd like to book a table for 4 at 7pm")
        self.assertEqual(turn["intent"]["name"], "book_table")
        self.assertEqual(turn["sessionSlots"]["party_size"], "4")
        self.assertEqual(turn["messages"][0]["kind"], "confirmation")
        state = s.get()
        self.assertEqual(state["turns"], 1)
        self.assertEqual(state["activeForm"], "table_booking")
        self.assertEqual(pc.check_turn({"intent": "book_table", "form": {"active": "table_booking"}}, turn), [])
        self.assertEqual(pc.check_turn({"intent": "greet", "slots": {"party_size": "5"}}, turn),
                         ["intent: expected greet, got book_table", "slots.party_size: expected '5', got '4'"])
        s.delete()
        with self.assertRaises(pc.NotFound):
            s.get()

    def test_stream_yields_tokens_then_the_turn(self):
        s = self.client.create_session("demo")
        items = list(s.stream("tell me a joke"))
        tokens = [i for i in items if isinstance(i, pc.Token)]
        self.assertGreater(len(tokens), 2)
        self.assertIsInstance(items[-1], dict)
        self.assertEqual("".join(t.text for t in tokens), items[-1]["messages"][0]["text"])
        self.assertTrue(all(isinstance(i, pc.Token) for i in items[:-1]))

    def test_typed_errors(self):
        with self.assertRaises(pc.Unauthenticated) as e:
            pc.Client(self.platform.url).list_bots()
        self.assertEqual((e.exception.status, e.exception.code), (401, "UNAUTHENTICATED"))
        with self.assertRaises(pc.PermissionDenied):
            pc.Client(self.platform.url, key=pp.CLIENT_KEY).put_bot("mini", MINI)
        with self.assertRaises(pc.NotFound):
            self.client.create_session("nosuchbot")
        s = self.client.create_session("demo")
        with self.assertRaises(pc.InvalidArgument) as e:
            s.turn("   ")
        self.assertIn("blank", e.exception.message)
        with self.assertRaises(pc.Unavailable):
            pc.Client(f"http://127.0.0.1:{pp.free_port()}", key="x").list_bots()

    def test_bot_upload_tests_and_delete(self):
        with self.assertRaises(pc.InvalidArgument) as e:
            self.client.put_bot("mini", MINI.replace("actions: [hi]", "actions: [nope]"))
        self.assertRegex(e.exception.message, r"mini\.yaml:\d+:\d+")
        bot = self.client.put_bot("mini", MINI)
        self.assertEqual(bot["id"], "mini")
        self.assertIn("mini", [b["id"] for b in self.client.list_bots()])
        results = self.client.run_conversation_tests("mini", [
            {"name": "hello", "steps": [{"user": "hello", "intent": "hello", "response": {"text": "^Hi from mini!$"}}]},
            {"name": "broken", "steps": [{"user": "hello", "intent": "bye"}]},
        ])
        self.assertEqual(results[0], ("hello", []))
        self.assertEqual(results[1][0], "broken")
        self.assertIn("intent: expected bye, got hello", "\n".join(results[1][1]))
        self.client.delete_bot("mini")
        with self.assertRaises(pc.NotFound):
            self.client.get_bot("mini")

    def test_a_bot_asking_for_fine_tuning(self):
        bot = self.client.put_bot("tuned", MINI.replace("id: mini", "id: tuned") + "nlu: {fine_tune: lora}\n")
        self.assertEqual(bot["nluFineTuneRequested"], "lora")
        try:
            bot = self.client.wait_for_fine_tune("tuned", timeout=30)
            # The model-free NLU has no fine-tuning: it says so, and its model keeps serving.
            self.assertEqual(bot["nluFineTune"]["state"], "NONE")
            self.assertEqual(bot["nluFineTune"]["serving"], "frozen")
            self.assertIn("does not fine-tune (asked: lora)", bot["nluFineTune"]["message"])
            self.assertEqual(self.client.create_session("tuned").turn("hello")["nluModel"], "keyword")
        finally:
            self.client.delete_bot("tuned")

    @unittest.skipUnless(HAVE_WEBSOCKETS, "no websockets package (tools/reference/setup client)")
    def test_voice_typed_turn_with_text_only(self):
        s = self.client.create_session("demo")
        with s.voice(text_only=True) as call:
            ready = call.next_event("ready")
            self.assertEqual(ready["sessionId"], s.id)
            call.say("what time is breakfast")
            turn = call.next_event("turn")
            self.assertEqual(turn["turn"]["intent"]["name"], "ask_hotel")
            call.end()
            rest = list(call.events(timeout=20))
            self.assertFalse(any(isinstance(i, bytes) for i in rest))
        self.assertEqual(call.close_code, 1000)

    @unittest.skipUnless(HAVE_WEBSOCKETS, "no websockets package (tools/reference/setup client)")
    def test_voice_audio_in_events_and_audio_out(self):
        s = self.client.create_session("demo")
        # A second of tone then quiet: the fake recognizer hears any speech as "what time is breakfast".
        rate = 16000
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            tone = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(rate))
            w.writeframes(tone + b"\0\0" * rate)
        path = os.path.join(self.platform.dir, "question.wav")
        with open(path, "wb") as f:
            f.write(buf.getvalue())
        with s.voice(sample_rate=rate) as call:
            self.assertTrue(call.next_event("ready")["asr"])
            call.send_wav(path, realtime=False)
            final = call.next_event("final", timeout=20)
            self.assertEqual(final["text"], "what time is breakfast")
            audio = 0
            for item in call.events(timeout=20):
                if isinstance(item, bytes):
                    audio += len(item)
                elif item["type"] == "bot_speech_ended":
                    break
            self.assertGreater(audio, 0)
            call.end()
        with self.assertRaises(pc.NotFound):
            self.client.session("nosuchsession").voice()


if __name__ == "__main__":
    parley_unittest.main()
