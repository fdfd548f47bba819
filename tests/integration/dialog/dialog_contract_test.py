"""The OpenAPI contract (services/dialog/openapi.yaml) against the real parley-dialog, by
schemathesis (tools/reference/requirements-contract.txt): every check, the examples, coverage,
fuzzing and stateful phases, a fixed seed and 100 examples per operation (~1700 cases, 15-25 s
on 2 busy cores; the test fails past two minutes). Any finding fails the test and its report is
printed. Keys are configured: 401 before anything else is checked by schemathesis's ignored_auth
and by test_1_auth_is_checked_before_the_request. The engines are the model-free fakes: what a
turn says is not what this test checks, its shape is.

Also checks what schemathesis cannot: the SSE events of turns:stream against the schemas the
spec names for them (x-sse-events), with jsonschema_rs (a schemathesis dependency), and that a
stream is tokens then exactly one turn.

Also: openapi-spec-validator accepts the document.

Runs with the contract venv (tools/reference/setup contract); skips with a message without it.
"""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "support"))
import parley_processes as pp  # noqa: E402
import parley_unittest  # noqa: E402

VENV = os.path.join(os.environ.get("PARLEY_REFENV_DIR") or os.path.expanduser("~/.cache/parley"), "refenv-contract")
SCHEMATHESIS = os.path.join(VENV, "bin", "schemathesis")
SPEC = os.path.join(pp.SOURCE_DIR, "services/dialog/openapi.yaml")
HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20261204
MAX_EXAMPLES = int(os.environ.get("PARLEY_CONTRACT_MAX_EXAMPLES", "100"))


class ContractTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(SCHEMATHESIS):
            raise unittest.SkipTest(f"no contract venv at {VENV} (run tools/reference/setup contract)")
        # Rate limits off and a generous bot quota: the test is about shapes, not limits; the
        # failed-key lockout stays (ignored_auth sends unknown keys, a few per operation).
        cls.platform = pp.Platform(extra_flags=["--api.max_failed_auth=100000", "--api.max_bots_per_key=1000",
                                                "--api.max_pending_bot_jobs=64"]).__enter__()

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "platform"):
            cls.platform.__exit__(None, None, None)

    def test_1_auth_is_checked_before_the_request(self):
        """401 (no key, or an unknown one) comes before every other answer: a bad body (400), a
        bad path (404), a plain GET of the WebSocket (426), a too-long text, another tenant."""
        url = self.platform.url
        cases = [("POST", "/v1/sessions/nosuch/turns", b'{"text": ""}'),
                 ("POST", "/v1/sessions/nosuch/turns:stream", b"not json"),
                 ("POST", "/v1/bots/demo/sessions", b'{"metadata": {"k": null}}'),
                 ("PUT", "/v1/bots/x", b"- just a list"),
                 ("PUT", "/v1/bots/bad%20id", b""),
                 ("GET", "/v1/sessions/nosuch/voice?sample_rate=1", None),
                 ("POST", "/v1/bots/demo:reload", None),
                 ("DELETE", "/v1/bots/nosuch", None)]
        for method, path, body in cases:
            for key in (None, "not-a-key"):
                status, headers, answer = pp.http(method, url + path, body=body, key=key)
                self.assertEqual(status, 401, f"{method} {path} key={key}: {status} {answer[:200]}")
                self.assertTrue(headers.get("WWW-Authenticate", "").startswith("Bearer"), headers)

    def test_2_schemathesis_finds_nothing(self):
        report = os.path.join(self.platform.dir, "schemathesis.junit.xml")
        argv = [SCHEMATHESIS, "--config-file", os.path.join(HERE, "schemathesis.toml"), "run", SPEC,
                "--url", self.platform.url,
                "-H", "Authorization: Bearer " + pp.BOTH_KEY,
                "--checks", "all",
                "--phases", "examples,coverage,fuzzing,stateful",
                "--max-examples", str(MAX_EXAMPLES),
                "--seed", str(SEED),
                "--generation-database", "none",
                "--workers", "1",
                "--request-timeout", "10",
                "--no-color",
                "--report", "junit", "--report-junit-path", report]
        start = time.time()
        # In the run's own folder: schemathesis and hypothesis keep caches in the working directory.
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300,
                              env=dict(os.environ, SCHEMATHESIS_HOOKS=""), cwd=self.platform.dir)
        out = proc.stdout.decode(errors="replace")
        elapsed = time.time() - start
        print(out[-20000:])
        print(f"schemathesis: {elapsed:.1f} s, exit {proc.returncode}")
        self.assertEqual(proc.returncode, 0, "schemathesis reported findings (above); dialog log:\n" +
                         self.platform.log("dialog")[-3000:])
        self.assertLess(elapsed, 120, "the contract test must stay under two minutes")

    def test_0_the_document_is_valid_openapi(self):
        from openapi_spec_validator import validate
        from openapi_spec_validator.readers import read_from_filename

        spec, _ = read_from_filename(SPEC)
        validate(spec)  # raises with the path of the first problem
        self.assertEqual(spec["openapi"], "3.1.0")  # 3.1: contentSchema describes each SSE event's data

    def test_1_sse_events_match_their_schemas(self):
        import jsonschema_rs  # in the contract venv (a schemathesis dependency)

        with open(SPEC, encoding="utf-8") as f:
            import yaml  # also a schemathesis dependency
            spec = yaml.safe_load(f)
        events = spec["paths"]["/v1/sessions/{id}/turns:stream"]["post"]["responses"]["200"]["content"][
            "text/event-stream"]["x-sse-events"]
        components = {"components": spec["components"]}

        def check(name, data):
            schema = dict(events[name], components=spec["components"])
            jsonschema_rs.validator_for(schema).validate(data)

        status, _, body = pp.http("POST", self.platform.url + "/v1/bots/demo/sessions", body={}, key=pp.CLIENT_KEY)
        self.assertEqual(status, 201, body)
        sid = json.loads(body)["id"]
        seen = {}
        for text in ("tell me a joke", "book a table for 2 at 7pm"):
            status, headers, body = pp.http("POST", f"{self.platform.url}/v1/sessions/{sid}/turns:stream",
                                            body={"text": text}, key=pp.CLIENT_KEY)
            self.assertEqual(status, 200)
            self.assertTrue(headers["Content-Type"].startswith("text/event-stream"))
            names = []
            for block in body.decode().split("\n\n"):
                if not block.strip() or block.startswith(":"):
                    continue
                fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
                self.assertIn(fields.get("event"), events, block)
                check(fields["event"], json.loads(fields["data"]))
                names.append(fields["event"])
                seen[fields["event"]] = seen.get(fields["event"], 0) + 1
            self.assertEqual(names[-1], "turn", names)
            self.assertNotIn("turn", names[:-1])
        self.assertGreater(seen.get("token", 0), 0, "the LM reply streamed no token event")
        del components


if __name__ == "__main__":
    parley_unittest.main()
