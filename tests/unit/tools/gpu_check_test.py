#!/usr/bin/env python3
"""Tests of tools/gpu-check (the remote half's orchestration, with fake binaries) and of
tools/lib/safetensors_to_bf16.py. The bundle half needs nvcc and a CUDA build: it is exercised by
running it, not here.

Remote: a fake bundle whose test binaries are shell scripts (one passes, one fails, one hangs)
and a fake compute-sanitizer: the summary must list each step's verdict, a hang must become a
timeout failure, and the exit status must be non-zero exactly when a step failed.
"""
import json
import os
import struct
import subprocess
import tarfile
import tempfile
import unittest
from pathlib import Path

ROOT = Path(os.environ.get("PARLEY_SOURCE_DIR", Path(__file__).resolve().parents[3]))
SCRIPT = ROOT / "tools" / "gpu-check"
TO_BF16 = ROOT / "tools" / "lib" / "safetensors_to_bf16.py"

BINARIES = [
    "tests/unit/kernels/cuda/kernels_cuda_test",
    "tests/unit/kernels/cuda/engine_cuda_test",
    "tests/unit/kernels/kernels_consistency_test",
    "tests/unit/shared/models/llama/llama_gpu_test",
    "tests/unit/shared/models/encoder/encoder_gpu_test",
    "tests/unit/shared/models/whisper/whisper_test",
    "tests/unit/shared/models/encoder/train/encoder_train_gpu_test",
    "tests/integration/gpu/gpu_services_test",
    "tests/bench/kernels/cuda/kernels_cuda_bench",
    "services/nlu/eval/parley-nlu-eval",
]


def make_bundle(tmp, behaviour):
    """behaviour: binary path -> shell body. Returns the bundle directory."""
    stage = Path(tmp) / "stage"
    for b in BINARIES:
        p = stage / "build" / b
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("#!/bin/sh\n" + behaviour.get(b, 'echo "ok $0"; exit 0') + "\n")
        p.chmod(0o755)
    (stage / "lib").mkdir()
    (stage / "data").mkdir()
    out = Path(tmp) / "bundle"
    out.mkdir()
    with tarfile.open(out / "bundle.tar.xz", "w:xz") as t:
        t.add(stage, arcname=".")
    return out


def fake_cuda(tmp, sanitizer_rc=0):
    cuda = Path(tmp) / "cuda"
    (cuda / "bin").mkdir(parents=True)
    (cuda / "lib64").mkdir()
    s = cuda / "bin" / "compute-sanitizer"
    # Drops its own options, runs the program, then answers as memcheck would.
    s.write_text(
        "#!/bin/sh\nwhile [ \"${1#-}\" != \"$1\" ]; do case \"$1\" in --tool|--error-exitcode|--leak-check) shift 2;; *) shift;; esac; done\n"
        "\"$@\" >/dev/null\necho '========= ERROR SUMMARY: 0 errors'\nexit %d\n" % sanitizer_rc)
    s.chmod(0o755)
    return cuda


class RemoteTest(unittest.TestCase):
    def run_remote(self, bundle, cuda, extra_env=None):
        env = dict(os.environ)
        env["CUDA_HOME"] = str(cuda)
        env["PATH"] = "/usr/bin:/bin"
        env.update(extra_env or {})
        return subprocess.run([str(SCRIPT), "remote", str(bundle)], env=env, capture_output=True, text=True, timeout=120)

    def test_all_pass(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = self.run_remote(make_bundle(tmp, {}), fake_cuda(tmp))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("gpu-check: OK", r.stdout)
            for step in ["kernels_cuda_test", "consistency", "llama_gpu_test", "encoder_gpu_test", "whisper_gpu_test",
                         "encoder_train_gpu_test", "services_on_cuda", "kernels_cuda_bench", "nlu_finetune_cuda",
                         "memcheck_kernels", "memcheck_llama"]:
                self.assertRegex(r.stdout, r"PASS +%s " % step)

    def test_a_failure_and_a_hang_fail_the_check(self):
        with tempfile.TemporaryDirectory() as tmp:
            bundle = make_bundle(tmp, {
                "tests/unit/shared/models/llama/llama_gpu_test": 'echo "greedy mismatch"; exit 1',
                "tests/bench/kernels/cuda/kernels_cuda_bench": "exec sleep 600",
            })
            # Shrink the bench's limit through the skip list? No: a real hang, cut by `timeout`.
            env = {"PARLEY_GPU_CHECK_TEST_LIMIT": "2"}
            r = self.run_remote(bundle, fake_cuda(tmp), env)
            self.assertNotEqual(r.returncode, 0)
            self.assertRegex(r.stdout, r"FAIL +llama_gpu_test \(exit 1")
            self.assertRegex(r.stdout, r"FAIL +kernels_cuda_bench \(timed out")
            self.assertRegex(r.stdout, r"PASS +kernels_cuda_test ")
            self.assertIn("greedy mismatch", r.stdout)

    def test_a_skip_for_want_of_a_device_fails(self):
        with tempfile.TemporaryDirectory() as tmp:
            bundle = make_bundle(tmp, {
                "tests/unit/kernels/cuda/kernels_cuda_test": 'echo "[  SKIPPED ] CudaBackend.GemmF32MatchesCpu: no CUDA device"; exit 0',
                "tests/bench/kernels/cuda/kernels_cuda_bench": 'echo "no driver; skipping CUDA kernel benchmarks"; exit 0',
            })
            r = self.run_remote(bundle, fake_cuda(tmp))
            self.assertNotEqual(r.returncode, 0)
            self.assertRegex(r.stdout, r"FAIL +kernels_cuda_test ")
            self.assertRegex(r.stdout, r"FAIL +kernels_cuda_bench ")
            self.assertRegex(r.stdout, r"PASS +consistency ")

    def test_sanitizer_errors_fail(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = self.run_remote(make_bundle(tmp, {}), fake_cuda(tmp, sanitizer_rc=1))
            self.assertNotEqual(r.returncode, 0)
            self.assertRegex(r.stdout, r"FAIL +memcheck_kernels")

    def test_missing_bundle_says_what_to_do(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run([str(SCRIPT), "remote", tmp], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("tools/gpu-check bundle", r.stderr)

    def test_usage(self):
        r = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0)
        self.assertIn("tools/gpu-check bundle", r.stdout)
        self.assertIn("tools/gpu-check remote", r.stdout)
        r = subprocess.run([str(SCRIPT), "nonsense"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("unknown mode", r.stderr)


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    return header, raw[8 + n:]


class ToBf16Test(unittest.TestCase):
    def test_f32_becomes_bf16_others_kept(self):
        vals = [1.0, -2.5, 3.14159, 1e-3, 65504.0, -0.0]
        f32 = struct.pack("<%df" % len(vals), *vals)
        i64 = struct.pack("<3q", 7, -8, 9)
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "a.safetensors", Path(tmp) / "b.safetensors"
            write_safetensors(src, {"w": ("F32", [2, 3], f32), "ids": ("I64", [3], i64)})
            subprocess.run(["python3", str(TO_BF16), str(src), str(dst)], check=True, timeout=60)
            header, data = read_safetensors(dst)
            self.assertEqual(header["w"]["dtype"], "BF16")
            self.assertEqual(header["w"]["shape"], [2, 3])
            self.assertEqual(header["ids"]["dtype"], "I64")
            b, e = header["w"]["data_offsets"]
            got = struct.unpack("<%dH" % len(vals), data[b:e])
            for v, h in zip(vals, got):
                (bits,) = struct.unpack("<I", struct.pack("<f", v))
                self.assertEqual(h, bits >> 16)  # the top 16 bits: bf16 rounded toward zero
            b, e = header["ids"]["data_offsets"]
            self.assertEqual(data[b:e], i64)


if __name__ == "__main__":
    unittest.main()
