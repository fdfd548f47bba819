"""Reads and validates tools/models/manifest.yaml (format: README.md beside this file).

Why a module of its own: the fetch script and the tests share one definition of a valid entry,
and every error names the manifest file and line. Depends on miniyaml.py (beside it).
"""

import re
import urllib.parse
from pathlib import Path

import miniyaml

__all__ = ["ManifestError", "PURPOSES", "load_manifest"]

SHA256 = re.compile(r"^[0-9a-f]{64}$")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
PURPOSES = ("run", "tests")
SOURCE_FIELDS = {
    "pypi": ({"package", "version", "filename", "sha256", "member"}, set()),
    "deb": ({"package", "version", "sha256", "member"}, {"filename"}),
    "url": ({"url"}, {"sha256", "member", "archive", "filename"}),
}
ENTRY_FIELDS = ({"name", "purpose", "for", "file", "sha256", "size", "licence"},
                {"source", "sources", "parts", "joined_member", "notes", "homepage"})


class ManifestError(Exception):
    """The manifest is malformed; the message names the file and line."""


def safe_relative(path_text):
    """True for a relative path that stays inside its directory."""
    p = Path(path_text)
    return bool(path_text) and not p.is_absolute() and ".." not in p.parts and "\\" not in path_text


def check_fields(where, mapping, required, optional, what):
    hint = " (the manifest spells it 'licence')" if "license" in mapping else ""
    missing = sorted(required - set(mapping))
    if missing:
        raise ManifestError(f"{where}: {what} lacks {', '.join(missing)}{hint}")
    unknown = sorted(set(mapping) - required - optional)
    if unknown:
        raise ManifestError(f"{where}: {what} has unknown field(s) {', '.join(unknown)}{hint}")


def parse_source(path, entry_name, src, line):
    where = f"{path}:{line}"
    if not isinstance(src, dict) or len(src) != 1 or next(iter(src)) not in SOURCE_FIELDS:
        raise ManifestError(f"{where}: model '{entry_name}': a source is one of 'pypi:', 'deb:' or 'url:' with its fields")
    kind, fields = next(iter(src.items()))
    if isinstance(src, miniyaml.Map):
        where = f"{path}:{src.line_of(kind)}"
    if not isinstance(fields, dict):
        raise ManifestError(f"{where}: model '{entry_name}': '{kind}' needs a map of fields")
    required, optional = SOURCE_FIELDS[kind]
    check_fields(where, fields, required, optional, f"model '{entry_name}' source '{kind}'")
    out = {k: str(v) for k, v in fields.items() if v is not None}
    out["kind"] = kind
    out["where"] = where
    if "sha256" in out and not SHA256.match(out["sha256"]):
        raise ManifestError(f"{where}: model '{entry_name}' source '{kind}': sha256 must be 64 lower-case hex digits")
    if kind == "url":
        scheme = urllib.parse.urlparse(out["url"]).scheme
        if scheme not in ("http", "https", "file"):
            raise ManifestError(f"{where}: model '{entry_name}': url must be http://, https:// or file://")
        if "member" in out and "sha256" not in out:
            raise ManifestError(f"{where}: model '{entry_name}': a url with a member needs the archive's sha256")
        if out.get("archive", "zip") not in ("zip", "tar", "deb", "none"):
            raise ManifestError(f"{where}: model '{entry_name}': archive must be zip, tar, deb or none")
    if kind == "pypi" and not out["filename"].endswith((".whl", ".tar.gz", ".zip")):
        raise ManifestError(f"{where}: model '{entry_name}': a PyPI filename ends in .whl, .tar.gz or .zip")
    if "filename" in out and not safe_relative(out["filename"]) or "/" in out.get("filename", ""):
        raise ManifestError(f"{where}: model '{entry_name}': filename must be a plain file name")
    return out


def load_manifest(path):
    """Returns the list of entries (dicts) of the manifest at `path`; raises ManifestError."""
    try:
        doc = miniyaml.load(path)
    except OSError as e:
        raise ManifestError(f"cannot read manifest {path}: {e.strerror}") from e
    except miniyaml.YamlError as e:
        raise ManifestError(str(e)) from e
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise ManifestError(f"{path}:1: the manifest is a map with a 'models:' list")
    unknown = set(doc) - {"version", "models"}
    if unknown:
        raise ManifestError(f"{path}:{doc.line_of(sorted(unknown)[0])}: unknown top-level key(s): {', '.join(sorted(unknown))}")
    if doc.get("version", 1) != 1:
        raise ManifestError(f"{path}:{doc.line_of('version')}: unsupported manifest version {doc.get('version')!r} (this script reads 1)")
    models = doc.get("models") or []
    if not isinstance(models, list):
        raise ManifestError(f"{path}:{doc.line_of('models')}: 'models' must be a list")
    entries, seen = [], {}
    for raw in models:
        line = raw.line if isinstance(raw, miniyaml.Map) else doc.line_of("models")
        where = f"{path}:{line}"
        if not isinstance(raw, dict):
            raise ManifestError(f"{where}: each model is a map of fields")
        name = str(raw.get("name", ""))
        required, optional = ENTRY_FIELDS
        check_fields(where, raw, required, optional, f"model '{name or '?'}'")
        if not NAME.match(name):
            raise ManifestError(f"{where}: model name '{name}' must be lower-case letters, digits, '.', '_' or '-'")
        file = str(raw["file"])
        if not safe_relative(file):
            raise ManifestError(f"{where}: model '{name}': file must be a relative path inside the model's folder")
        if (name, file) in seen:
            raise ManifestError(f"{where}: model '{name}' file '{file}' is listed twice (first at line {seen[(name, file)]})")
        seen[(name, file)] = line
        sha = str(raw["sha256"])
        if not SHA256.match(sha):
            raise ManifestError(f"{where}: model '{name}': sha256 must be 64 lower-case hex digits")
        size = raw["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise ManifestError(f"{where}: model '{name}': size must be a positive number of bytes")
        purposes = raw["for"]
        if not isinstance(purposes, list) or any(p not in PURPOSES for p in purposes):
            raise ManifestError(f"{where}: model '{name}': 'for' must be a list of run and/or tests")
        given = [k for k in ("source", "sources", "parts") if k in raw]
        if len(given) != 1:
            raise ManifestError(f"{where}: model '{name}': give exactly one of 'source' (a map), 'sources' (a list, "
                                f"tried in order) or 'parts' (a list, concatenated in order)")
        key = given[0]
        src_list = [raw["source"]] if key == "source" else raw[key]
        if not isinstance(src_list, list) or not src_list:
            raise ManifestError(f"{where}: model '{name}': '{key}' must be a non-empty list")
        src_line = raw.line_of(key)
        sources = [parse_source(path, name, s, src_line) for s in src_list]
        joined_member = raw.get("joined_member")
        if joined_member is not None:
            # The parts joined in order are a zip archive; the model file is this member of it.
            if key != "parts":
                raise ManifestError(f"{where}: model '{name}': 'joined_member' needs 'parts' (the parts join into a zip)")
            if not safe_relative(str(joined_member)):
                raise ManifestError(f"{where}: model '{name}': joined_member must be a relative path inside the archive")
        entries.append({
            "name": name, "file": file, "sha256": sha, "size": size, "for": purposes,
            "joined_member": None if joined_member is None else str(joined_member),
            "purpose": str(raw["purpose"]), "licence": str(raw["licence"]),
            # parts: one source per part, their files joined in order make the model file
            "sources": [] if key == "parts" else sources, "parts": sources if key == "parts" else [],
            "where": where,
        })
    return entries
