"""`parley bot validate`, `parley bot test` and `parley bot status` (services/dialog/cli/bot_command.h)
on the real parley-dialog (model-free engines, or the real parley-nlu): the demo bot's
conversation tests pass; a deliberately broken expectation fails with a diff naming the file, line
and what differs; a bot with errors and a test file with errors are reported as file:line:col; a
bot's NLU fine-tuning job is shown and waited for (the real NLU fine-tunes it, the stand-in says
it does not); exit codes 0/1/2. Standard library only.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "support"))
import parley_processes as pp  # noqa: E402
import parley_unittest  # noqa: E402

DEMO = os.path.join(pp.SOURCE_DIR, "services/dialog/bots/demo")
# PARLEY_BOT_TEST_NLU=real: the NLU is parley-nlu with its encoder (ctest bot_command_real_nlu_test,
# label model): the demo bot's tests must hold on the real model too, not only on the keyword stand-in.
REAL_NLU = os.environ.get("PARLEY_BOT_TEST_NLU") == "real"


def parley(*args, env=None):
    p = subprocess.run([pp.binary("parley"), "bot", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120, env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class BotCommandTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if REAL_NLU:
            model_dir = os.path.join(os.environ.get("PARLEY_MODEL_DIR") or os.path.expanduser("~/.cache/parley/models"),
                                     "encoder-minilm")
            if not os.path.isdir(model_dir):
                raise unittest.SkipTest(f"no encoder model at {model_dir} (tools/models/fetch)")
        cls.platform = pp.Platform(real_nlu=REAL_NLU).__enter__()
        cls.tmp = tempfile.mkdtemp(prefix="parley-bot-test-")

    @classmethod
    def tearDownClass(cls):
        cls.platform.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def copy_demo(self, name):
        dst = os.path.join(self.tmp, name)
        shutil.copytree(DEMO, dst)
        return dst

    def run_tests(self, bot_dir, *extra):
        return parley("test", bot_dir, "--url", self.platform.url, *extra, env={"PARLEY_API_KEY": pp.BOTH_KEY})

    def test_validate_demo(self):
        rc, out, err = parley("validate", DEMO)
        self.assertEqual(rc, 0, err)
        self.assertIn("bot 'demo'", out)
        self.assertRegex(out, r"\d+ conversation tests")

    def test_validate_reports_bot_errors_with_locations(self):
        d = self.copy_demo("bad-bot")
        path = os.path.join(d, "bot.yaml")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace("  greet:\n    - hello", "  greet:\n    exampels: [hello]\n    - hello", 1)
                    .replace("rules:\n", "rules:\n  - {intent: nosuch, actions: [greet]}\n", 1))
        rc, out, err = parley("validate", d)
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(err, r"bot\.yaml:\d+:\d+: ")
        self.assertRegex(err, r"\d+ errors?")

    def test_validate_reports_test_file_errors(self):
        d = self.copy_demo("bad-tests")
        with open(os.path.join(d, "tests", "broken.yml"), "w", encoding="utf-8") as f:
            f.write("tests:\n  - name: x\n    steps:\n      - user: hi\n        intnet: greet\n"
                    "      - user: hello\n        response: {text: \"(unclosed\"}\n")
        rc, out, err = parley("validate", d)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("broken.yml:5:9: unknown key 'intnet' in a step", err)
        self.assertRegex(err, r"broken\.yml:7:\d+: '\(unclosed' is not a valid regular expression")

    def test_demo_conversation_tests_pass(self):
        rc, out, err = self.run_tests(DEMO)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("FAIL", out)
        self.assertRegex(out, r"(\d+) tests, \d+ turns: \1 passed, 0 failed")

    def test_a_broken_expectation_fails_with_a_diff(self):
        d = self.copy_demo("broken-expectation")
        path = os.path.join(d, "tests", "conversations.yml")
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        # The greeting test's step expects intent greet: make it goodbye, and a slot value wrong.
        i = next(n for n, l in enumerate(lines) if l.strip() == "intent: greet")
        lines[i] = lines[i].replace("greet", "goodbye")
        j = next(n for n, l in enumerate(lines) if 'slots: {party_size: "4"}' in l)
        lines[j] = lines[j].replace('"4"', '"5"')
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        rc, out, err = self.run_tests(d)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("FAIL greeting", out)
        self.assertIn(f"conversations.yml:{i}:9) user: \"hello\"", out)  # the step's line (1-based: i is the line above intent)
        self.assertRegex(out, r"intent: expected goodbye, got greet \(confidence [0-9.]+\)")
        self.assertIn('slots.party_size: expected "5", got "4"', out)
        self.assertRegex(out, r"\d+ tests, \d+ turns: \d+ passed, 2 failed")
        # Only the named test runs with --filter, and it still fails.
        rc, out, _ = self.run_tests(d, "--filter", "greeting")
        self.assertEqual(rc, 1)
        self.assertIn("1 tests, 1 turns: 0 passed, 1 failed", out)

    def test_unreachable_server_is_exit_2(self):
        rc, out, err = parley("test", DEMO, "--url", f"http://127.0.0.1:{pp.free_port()}")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("cannot reach", err)

    def status(self, *args):
        return parley("status", *args, "--url", self.platform.url, env={"PARLEY_API_KEY": pp.BOTH_KEY})

    def test_status_of_the_demo_bot(self):
        rc, out, err = self.status("demo")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("bot 'demo' (Parley Hotel concierge):", out)
        self.assertIn("NLU trained, knowledge base ingested", out)
        self.assertIn("NLU fine-tuning: none; serving the frozen model", out)
        # The NLU's note on the demo's slot no example annotates (the real NLU says how it is filled).
        self.assertIn("NLU note: slot 'guest_name' has no annotated examples", out)

    def test_status_waits_for_the_fine_tuning_job_a_bot_asked_for(self):
        # The demo bot's NLU part under another id, asking for LoRA fine-tuning.
        with open(os.path.join(DEMO, "bot.yaml"), encoding="utf-8") as f:
            text = f.read()
        text = text[:text.index("\nresponses:")].replace("id: demo", "id: demo-tuned", 1) + "\nnlu:\n  fine_tune: lora\n"
        status, _, body = pp.http("PUT", self.platform.url + "/v1/bots/demo-tuned", text.encode(), key=pp.ADMIN_KEY,
                                  headers={"Content-Type": "application/yaml"}, timeout=120)
        self.assertIn(status, (200, 201), body)
        try:
            rc, out, err = self.status("demo-tuned", "--wait", "--timeout", "110")
            self.assertEqual(rc, 0, out + err)
            self.assertIn("NLU fine-tuning (asked: lora):", out)
            if REAL_NLU:  # the real NLU fine-tunes it; the keyword stand-in says it does not
                self.assertRegex(out, r"READY after [0-9.]+ s \(\d+ steps, loss [0-9.]+\), mode lora; "
                                      r"serving the fine-tuned model")
            else:
                self.assertIn("none: the keyword stand-in does not fine-tune (asked: lora); serving the frozen model", out)
        finally:
            pp.http("DELETE", self.platform.url + "/v1/bots/demo-tuned", key=pp.ADMIN_KEY)

    def test_status_prints_the_knowledge_base_notes(self):
        text = ("bot: {id: outlined}\nintents: {a: [hello there], b: [bye now]}\n"
                "responses: {hi: Hi}\nrules: [{intent: a, actions: [hi]}]\n"
                "knowledge_base:\n  documents:\n    - {id: outline, text: \"# Hours\\n## Weekdays\\n\"}\n"
                "    - {id: zoo, text: \"The zoo has three elephants. The penguins are fed at noon.\"}\n")
        status, _, body = pp.http("PUT", self.platform.url + "/v1/bots/outlined", text.encode(), key=pp.ADMIN_KEY,
                                  headers={"Content-Type": "application/yaml"}, timeout=60)
        self.assertIn(status, (200, 201), body)
        try:
            rc, out, err = self.status("outlined")
            self.assertEqual(rc, 0, out + err)
            self.assertIn("knowledge base note: document 'outline' has no text outside its headings: "
                          "nothing in it can be answered", out)
        finally:
            pp.http("DELETE", self.platform.url + "/v1/bots/outlined", key=pp.ADMIN_KEY)

    def test_status_arguments_and_unknown_bots(self):
        rc, out, err = parley("status")
        self.assertEqual(rc, 2, out + err)
        rc, out, err = self.status("../v1/sessions")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("is not a bot id", err)
        rc, out, err = self.status("demo", "--timeout", "ten")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("--timeout takes whole seconds", err)
        rc, out, err = self.status("nosuch")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("bot 'nosuch': HTTP 404", err)

    def test_bad_key_is_reported(self):
        rc, out, err = parley("test", DEMO, "--url", self.platform.url, "--key", "wrong")
        self.assertEqual(rc, 2, out + err)
        self.assertIn("HTTP 401", err)


if __name__ == "__main__":
    parley_unittest.main()
