#!/usr/bin/env python3
"""Tests of tools/setup's package step and option checks (the build itself is exercised by CI).

Why: on a fresh machine the first thing a user sees is this step; as a normal user it must print
the exact install line and stop, never half-build. Standard library only; the non-root case runs
the script as `nobody` through setpriv when the test runs as root.
"""

import os
import sys
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

ROOT = Path(os.environ.get("PARLEY_SOURCE_DIR") or Path(__file__).resolve().parents[3])
SETUP = ROOT / "tools" / "setup"
MISSING = "parley-no-such-package-for-tests"


class SetupTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="parley-setup-test-"))
        self.tmp.chmod(0o755)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def packages(self, *names):
        path = self.tmp / "packages.txt"
        path.write_text("# test list\n" + "\n".join(f"{n}   # why" for n in names) + "\n\n")
        path.chmod(0o644)
        return path

    def run_setup(self, *args, as_user=False, **env):
        cmd = ["bash", str(SETUP), *args]
        if as_user and os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                self.skipTest("running as root without setpriv: cannot test the non-root path")
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        full_env = dict(os.environ, HOME=str(self.tmp), **env)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=60)
        return proc.returncode, proc.stdout + proc.stderr

    def require_dpkg(self):
        if shutil.which("dpkg-query") is None:
            self.skipTest("not a Debian system")

    def test_present_packages_pass(self):
        self.require_dpkg()
        rc, out = self.run_setup("--packages", PARLEY_PACKAGES_FILE=str(self.packages("bash", "coreutils")))
        self.assertEqual(rc, 0, out)
        self.assertIn("packages: all 2 present", out)

    def test_non_root_prints_the_exact_install_line_and_stops(self):
        self.require_dpkg()
        listing = self.packages("bash", MISSING)
        rc, out = self.run_setup(as_user=True, PARLEY_PACKAGES_FILE=str(listing),
                                 PARLEY_BUILD_DIR=str(self.tmp / "never-built"))
        self.assertEqual(rc, 1, out)
        self.assertIn(f"missing Debian packages: {MISSING}", out)
        self.assertIn("sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y "
                      f"--no-install-recommends {MISSING}\n", out)
        self.assertNotIn("bash ", out.split("install -y")[1], "only the missing package is listed")
        self.assertFalse((self.tmp / "never-built").exists(), "nothing is configured after a failed check")

    def test_the_repository_list_is_well_formed(self):
        names = [line.split("#")[0].strip() for line in (ROOT / "tools/lib/packages.txt").read_text().splitlines()]
        names = [n for n in names if n]
        for required in ("build-essential", "cmake", "ninja-build", "ccache", "libzmq3-dev", "cppzmq-dev",
                         "protobuf-compiler", "libprotobuf-dev", "libyaml-cpp-dev", "libgtest-dev",
                         "libgmock-dev", "prometheus", "redis-server", "python3", "python3-pip",
                         "libboost1.74-dev", "pkg-config"):
            self.assertIn(required, names)
        self.assertEqual(len(names), len(set(names)), "a package is listed twice")
        for n in names:
            self.assertRegex(n, r"^[a-z0-9][a-z0-9.+-]+$", "one package name per line")

    def test_bad_cuda_option_is_rejected_before_cmake(self):
        rc, out = self.run_setup(PARLEY_SKIP_PACKAGES="1", PARLEY_CUDA="MAYBE",
                                 PARLEY_BUILD_DIR=str(self.tmp / "b"))
        self.assertEqual(rc, 1, out)
        self.assertIn("PARLEY_CUDA must be AUTO, ON or OFF, got 'MAYBE'", out)

    def test_scripts_pass_shellcheck(self):
        if shutil.which("shellcheck") is None:
            self.skipTest("shellcheck not installed (apt-get install shellcheck)")
        scripts = ["tools/setup", "tools/test", "tools/run", "tools/lib/services.sh", "tools/lib/common.sh", ".ci/run"]
        proc = subprocess.run(["shellcheck", "-x", *scripts], cwd=ROOT, capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_scripts_are_executable(self):
        for script in ("tools/setup", "tools/test", "tools/run", "tools/lib/services.sh", ".ci/run",
                       "tools/models/fetch"):
            self.assertTrue(os.access(ROOT / script, os.X_OK), f"{script} is not executable (chmod +x)")

    def test_unknown_argument(self):
        rc, out = self.run_setup("--bogus")
        self.assertEqual(rc, 1, out)
        self.assertIn("unexpected argument '--bogus'", out)


if __name__ == "__main__":
    # Skips exit 77 and are logged for tools/test (tests/support/parley_unittest.py).
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
    import parley_unittest  # noqa: E402

    parley_unittest.main()
