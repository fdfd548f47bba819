#!/usr/bin/env python3
"""Tests of tools/lib/services.sh (the start/ready/stop logic behind tools/run) with fake services.

Why: `tools/run` must start whatever is built, skip what is not, notice a service that dies or
never gets ready, and stop everything on Ctrl-C — SIGKILL included for one that ignores SIGTERM.
The fakes (fake_service.py) stand in for real binaries so this runs before any service exists.
Standard library only; every port is picked free by the kernel.
"""

import os
import sys
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

ROOT = Path(os.environ.get("PARLEY_SOURCE_DIR") or Path(__file__).resolve().parents[3])
SERVICES_SH = ROOT / "tools" / "lib" / "services.sh"
FAKE = Path(__file__).resolve().parent / "fake_service.py"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


class ServicesShTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="parley-services-test-"))
        self.build = self.tmp / "build"
        (self.build / "svc").mkdir(parents=True)
        fake = self.build / "svc" / "fake"
        shutil.copy(FAKE, fake)
        fake.chmod(0o755)
        self.record = self.tmp / "record.txt"
        self.pids = []

    def tearDown(self):
        for pid in self.started_pids():  # never leave a fake behind, whatever failed
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    out_text = ""  # output of the last services.sh run

    def started_pids(self):
        """The pids services.sh reported ("started a (pid 123): ...")."""
        return [int(line.split("(pid ")[1].split(")")[0])
                for line in self.out_text.splitlines() if line.startswith("==> started ")]

    def services_file(self, *lines):
        path = self.tmp / "services.txt"
        path.write_text("# test list\n" + "\n".join(lines) + "\n")
        return path

    def env(self, services, **extra):
        env = dict(os.environ, PARLEY_BUILD_DIR=str(self.build), PARLEY_SERVICES_FILE=str(services),
                   PARLEY_PORT_OFFSET="0", PARLEY_READY_TIMEOUT="20", PARLEY_STOP_GRACE="5")
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def run_sh(self, services, *args, **extra):
        proc = subprocess.run(["bash", str(SERVICES_SH), *args], capture_output=True, text=True,
                              env=self.env(services, **extra), timeout=60)
        self.out_text = proc.stdout + proc.stderr
        return proc.returncode, self.out_text

    def assert_all_stopped(self):
        pids = self.started_pids()
        self.assertTrue(pids, "no service was started")
        for pid in pids:
            self.assertFalse(pid_alive(pid), f"pid {pid} still runs:\n{self.out_text}")

    def test_check_starts_waits_probes_and_stops(self):
        a, b = free_port(), free_port()
        services = self.services_file(
            f"service a svc/fake {a} --http.port={{http_port}} --record={self.record}",
            f"service b svc/fake {b} --http.port={{http_port}} --ready-after=0.5 --zmq={{port:7000}}",
        )
        rc, out = self.run_sh(services, "check")
        self.assertEqual(rc, 0, out)
        self.assertIn(f"a ready: http://127.0.0.1:{a}/readyz", out)
        self.assertIn(f"b ready: http://127.0.0.1:{b}/readyz", out)
        self.assertIn("stopped a (exit 0)", out)
        self.assertIn("OK: a b started, ready", out)
        self.assertIn("--zmq=7000", out)  # {port:N} expanded
        self.assertEqual(self.record.read_text().splitlines()[-1], "term", "a got SIGTERM")
        self.assert_all_stopped()

    def test_lm_model_placeholder_comes_from_tools_run(self):
        # tools/run --lm qwen sets PARLEY_RUN_LM_MODEL; the list passes it as {lm_model}, empty
        # (the LM's default model) when unset.
        a = free_port()
        services = self.services_file(f"service a svc/fake {a} --http.port={{http_port}} --lm.model={{lm_model}}")
        rc, out = self.run_sh(services, "check", PARLEY_RUN_LM_MODEL="/models/q.gguf")
        self.assertEqual(rc, 0, out)
        self.assertIn("--lm.model=/models/q.gguf", out)
        self.assert_all_stopped()
        env = self.env(services)
        env.pop("PARLEY_RUN_LM_MODEL", None)
        proc = subprocess.run(["bash", str(SERVICES_SH), "check"], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertNotIn("{lm_model}", proc.stdout + proc.stderr)

    def test_asr_model_placeholder_comes_from_tools_run(self):
        # tools/run --asr base sets PARLEY_RUN_ASR_MODEL; the list passes it as {asr_model}, empty
        # (the ASR's default, whisper-tiny-en) when unset.
        a = free_port()
        services = self.services_file(f"service a svc/fake {a} --http.port={{http_port}} --asr.model_dir={{asr_model}}")
        rc, out = self.run_sh(services, "check", PARLEY_RUN_ASR_MODEL="/models/whisper-base")
        self.assertEqual(rc, 0, out)
        self.assertIn("--asr.model_dir=/models/whisper-base", out)
        self.assert_all_stopped()
        env = self.env(services)
        env.pop("PARLEY_RUN_ASR_MODEL", None)
        proc = subprocess.run(["bash", str(SERVICES_SH), "check"], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertNotIn("{asr_model}", proc.stdout + proc.stderr)

    def test_nlu_encoder_placeholder_comes_from_tools_run(self):
        # tools/run --nlu-encoder mpnet sets PARLEY_RUN_NLU_ENCODER; {nlu_encoder} is empty (the
        # NLU's default, all-MiniLM-L6-v2) when unset.
        a = free_port()
        services = self.services_file(f"service a svc/fake {a} --http.port={{http_port}} --nlu.encoder_dir={{nlu_encoder}}")
        rc, out = self.run_sh(services, "check", PARLEY_RUN_NLU_ENCODER="/models/encoder-mpnet")
        self.assertEqual(rc, 0, out)
        self.assertIn("--nlu.encoder_dir=/models/encoder-mpnet", out)
        self.assert_all_stopped()
        env = self.env(services)
        env.pop("PARLEY_RUN_NLU_ENCODER", None)
        proc = subprocess.run(["bash", str(SERVICES_SH), "check"], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertNotIn("{nlu_encoder}", proc.stdout + proc.stderr)

    def test_port_offset_shifts_every_port(self):
        target = free_port()  # the list names target-1000; the offset must land on target
        if target < 2000:
            self.skipTest("kernel gave a low port")
        services = self.services_file(f"service a svc/fake {target - 1000} --http.port={{http_port}} --z={{port:100}}")
        rc, out = self.run_sh(services, "check", PARLEY_PORT_OFFSET=1000)
        self.assertEqual(rc, 0, out)
        self.assertIn(f"--http.port={target}", out)
        self.assertIn("--z=1100", out)

    def test_missing_binary_is_skipped_with_a_note(self):
        a = free_port()
        services = self.services_file(
            "service ghost svc/not-built 1 --http.port={http_port}",
            f"service a svc/fake {a} --http.port={{http_port}}",
        )
        rc, out = self.run_sh(services, "check")
        self.assertEqual(rc, 0, out)
        self.assertIn(f"skip ghost: {self.build}/svc/not-built is not built", out)
        self.assertIn("OK: a started", out)

    def test_nothing_built(self):
        services = self.services_file("service ghost svc/not-built 1")
        rc, out = self.run_sh(services, "check", "--skip-if-none")
        self.assertEqual(rc, 77, out)
        self.assertIn("SKIP: no service", out)
        rc, out = self.run_sh(services, "check")
        self.assertEqual(rc, 1, out)
        self.assertIn("no service in", out)

    def test_service_that_dies_fails_the_check_and_others_are_stopped(self):
        a, b = free_port(), free_port()
        services = self.services_file(
            f"service a svc/fake {a} --http.port={{http_port}} --ready-after=30",
            f"service b svc/fake {b} --http.port={{http_port}} --exit-now=3",
        )
        rc, out = self.run_sh(services, "check")
        self.assertEqual(rc, 1, out)
        self.assertIn("b exited (code 3) before it was ready", out)
        self.assertIn("fake service failing on purpose", out)  # its log is shown
        self.assert_all_stopped()

    def test_never_ready_times_out(self):
        a = free_port()
        services = self.services_file(f"service a svc/fake {a} --http.port={{http_port}} --not-ready")
        # 5 s, not 1: the fake must have started answering 503 by then even on a loaded machine.
        rc, out = self.run_sh(services, "check", PARLEY_READY_TIMEOUT=5)
        self.assertEqual(rc, 1, out)
        self.assertIn("a not ready after 5s (last /readyz: 503", out)
        self.assert_all_stopped()

    def test_ignoring_sigterm_gets_sigkill_and_fails_the_check(self):
        a = free_port()
        services = self.services_file(f"service a svc/fake {a} --http.port={{http_port}} --ignore-term")
        rc, out = self.run_sh(services, "check", PARLEY_STOP_GRACE=1)
        self.assertEqual(rc, 1, out)
        self.assertIn("a did not stop within 1s of SIGTERM; sending SIGKILL", out)
        self.assert_all_stopped()

    def test_unclean_exit_code_fails_the_check(self):
        a = free_port()
        services = self.services_file(f"service a svc/fake {a} --http.port={{http_port}} --term-code=4")
        rc, out = self.run_sh(services, "check")
        self.assertEqual(rc, 1, out)
        self.assertIn("a exited with code 4 after SIGTERM (expected 0)", out)

    def test_port_in_use_is_reported(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            services = self.services_file(f"service a svc/fake {port} --http.port={{http_port}}")
            rc, out = self.run_sh(services, "check")
        self.assertEqual(rc, 1, out)
        self.assertIn(f"port {port} for a is already in use", out)

    def test_bad_list_lines_name_the_line(self):
        rc, out = self.run_sh(self.services_file("service a svc/fake notaport"), "check")
        self.assertEqual(rc, 1, out)
        self.assertIn("services.txt:2: expected 'service NAME BINARY HTTP_PORT ARGS...'", out)
        rc, out = self.run_sh(self.services_file("serve a b 1"), "list")
        self.assertEqual(rc, 1, out)
        self.assertIn("services.txt:2: unknown record 'serve'", out)

    def test_list(self):
        services = self.services_file("service a svc/fake 9999", "service ghost svc/nope 9998")
        rc, out = self.run_sh(services, "list")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"a\s+built\s+http 9999")
        self.assertRegex(out, r"ghost\s+missing")

    def test_run_prints_urls_and_stops_everything_on_sigint(self):
        a = free_port()
        services = self.services_file(
            f"service a svc/fake {a} --http.port={{http_port}} --record={self.record}",
            "url a web page http://127.0.0.1:{http_port}/",
            'try a {build}/tools/parley/parley echo --target tcp://127.0.0.1:{port:7101} "hello"',
        )
        proc = subprocess.Popen(["bash", str(SERVICES_SH), "run"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=self.env(services))
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        proc.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the script
        rest, _ = proc.communicate(timeout=30)
        self.out_text = "".join(lines) + rest
        self.assertEqual(proc.returncode, 0, self.out_text)
        self.assertIn(f"metrics  http://127.0.0.1:{a}/metrics", self.out_text)
        self.assertIn(f"web page http://127.0.0.1:{a}/", self.out_text)
        self.assertIn(f'{self.build}/tools/parley/parley echo --target tcp://127.0.0.1:7101 "hello"', self.out_text)
        self.assertIn("stopped a (exit 0)", self.out_text)
        self.assertEqual(self.record.read_text().splitlines()[-1], "term")
        self.assert_all_stopped()

    def test_run_stops_everything_when_a_service_dies(self):
        a, b = free_port(), free_port()
        services = self.services_file(
            f"service a svc/fake {a} --http.port={{http_port}}",
            f"service b svc/fake {b} --http.port={{http_port}}",
        )
        proc = subprocess.Popen(["bash", str(SERVICES_SH), "run"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=self.env(services))
        lines = []
        while True:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        self.out_text = "".join(lines)
        b_pid = self.started_pids()[1]
        os.kill(b_pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        self.out_text += rest
        self.assertEqual(proc.returncode, 1, self.out_text)
        self.assertIn("b exited unexpectedly (code 137); stopping everything", self.out_text)
        self.assertIn("stopped a (exit 0)", self.out_text)
        self.assert_all_stopped()


if __name__ == "__main__":
    # Skips exit 77 and are logged for tools/test (tests/support/parley_unittest.py).
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
    import parley_unittest  # noqa: E402

    parley_unittest.main()
