"""A small YAML subset reader for tools/models/manifest.yaml (standard library only).

Why: the fetch script must run on a fresh Debian 12 with nothing but python3, and PyYAML is not
part of the standard library. Depends on nothing.

Supported: block mappings and sequences (indented with spaces), `- key: value` items, flow lists
`[a, b]` and flow maps `{k: v}` on one line, plain/'single'/"double" quoted scalars, `#` comments,
a leading `---`. Plain scalars become int (decimal digits), bool (true/false), None (empty, ~,
null) or str; digits with a leading zero stay str; nothing else is converted (so `version: 1.10` stays the string "1.10").
Not supported (a clear error): block scalars (| >), anchors/aliases (& *), tags (!), multi-line
flow collections, tabs for indentation. Every error names the line.
"""

import re

__all__ = ["YamlError", "Map", "loads", "load"]


class YamlError(ValueError):
    """A syntax error, with the file name and line in its message."""


class Map(dict):
    """A mapping that remembers the line of each key (for error messages): `m.line_of(key)`."""

    def __init__(self):
        super().__init__()
        self.lines = {}
        self.line = 0

    def line_of(self, key):
        return self.lines.get(key, self.line)


_INT = re.compile(r"^[-+]?[0-9]+$")


def _strip_comment(text):
    """Removes a `#` comment that is outside quotes and at the start or after a blank."""
    quote = None
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i]
    return text


class _Parser:
    def __init__(self, text, name):
        self.name = name
        self.lines = []  # [indent, content, lineno]
        for lineno, raw in enumerate(text.splitlines(), start=1):
            body = _strip_comment(raw).rstrip()
            if not body.strip():
                continue
            stripped = body.lstrip(" ")
            if stripped.startswith("\t"):
                raise self.error(lineno, "tabs are not allowed for indentation; use spaces")
            if stripped in ("---", "...") and len(stripped) == len(body):
                continue
            self.lines.append([len(body) - len(stripped), stripped, lineno])

    def error(self, lineno, message):
        return YamlError(f"{self.name}:{lineno}: {message}")

    # --- blocks ---------------------------------------------------------------------------------
    def parse(self):
        if not self.lines:
            return None
        value, i = self.block(0, self.lines[0][0])
        if i < len(self.lines):
            raise self.error(self.lines[i][2], "unexpected text after the document (check indentation)")
        return value

    def block(self, i, indent):
        content = self.lines[i][1]
        if content == "-" or content.startswith("- "):
            return self.sequence(i, indent)
        if self.split_key(content, self.lines[i][2]) is not None:
            return self.mapping(i, indent)
        if i + 1 < len(self.lines) and self.lines[i + 1][0] >= indent:
            raise self.error(self.lines[i][2], "expected 'key: value' or '- item'")
        return self.inline(content, self.lines[i][2]), i + 1

    def sequence(self, i, indent):
        items = []
        while i < len(self.lines) and self.lines[i][0] == indent:
            ind, content, lineno = self.lines[i]
            if not (content == "-" or content.startswith("- ")):
                break
            rest = content[1:].lstrip(" ")
            if not rest:
                if i + 1 < len(self.lines) and self.lines[i + 1][0] > indent:
                    value, i = self.block(i + 1, self.lines[i + 1][0])
                else:
                    value, i = None, i + 1
            elif self.split_key(rest, lineno) is not None or rest.startswith("- "):
                # "- key: value": the item is a block starting at the column of "key".
                self.lines[i] = [ind + len(content) - len(rest), rest, lineno]
                value, i = self.block(i, self.lines[i][0])
            else:
                value, i = self.inline(rest, lineno), i + 1
            items.append(value)
        if i < len(self.lines) and self.lines[i][0] > indent:
            raise self.error(self.lines[i][2], "unexpected indentation")
        return items, i

    def mapping(self, i, indent):
        result = Map()
        result.line = self.lines[i][2]
        while i < len(self.lines) and self.lines[i][0] == indent:
            _, content, lineno = self.lines[i]
            if content == "-" or content.startswith("- "):
                break
            kv = self.split_key(content, lineno)
            if kv is None:
                raise self.error(lineno, f"expected 'key: value', got '{content}'")
            key, rest = kv
            if key in result:
                raise self.error(lineno, f"key '{key}' is set twice (first on line {result.lines[key]})")
            i += 1
            if rest:
                value = self.inline(rest, lineno)
            elif i < len(self.lines) and self.lines[i][0] > indent:
                value, i = self.block(i, self.lines[i][0])
            elif i < len(self.lines) and self.lines[i][0] == indent and (
                self.lines[i][1] == "-" or self.lines[i][1].startswith("- ")
            ):
                value, i = self.sequence(i, indent)  # "key:\n- a" (a list at the key's indent)
            else:
                value = None
            result[key] = value
            result.lines[key] = lineno
        if i < len(self.lines) and self.lines[i][0] > indent:
            raise self.error(self.lines[i][2], "unexpected indentation")
        return result, i

    def split_key(self, content, lineno):
        """("key", "rest") when content is "key: rest" / "key:", else None."""
        if content[0] in "[{":
            return None
        if content[0] in "'\"":
            end = self.quoted_end(content, 0, lineno)
            key, after = self.unquote(content[: end + 1], lineno), content[end + 1 :]
            if after == ":" or after.startswith(": "):
                return key, after[1:].strip()
            return None
        m = re.search(r":( |$)", content)
        if not m:
            return None
        key = content[: m.start()].strip()
        if not key or key.startswith("- "):
            return None
        return key, content[m.end() :].strip()

    # --- inline values --------------------------------------------------------------------------
    def inline(self, text, lineno):
        text = text.strip()
        if text and text[0] in "[{":
            value, pos = self.flow(text, 0, lineno)
            if text[pos:].strip():
                raise self.error(lineno, f"unexpected text after the flow collection: '{text[pos:].strip()}'")
            return value
        if text and text[0] in "'\"":
            end = self.quoted_end(text, 0, lineno)
            if text[end + 1 :].strip():
                raise self.error(lineno, f"unexpected text after the quoted string: '{text[end + 1:].strip()}'")
            return self.unquote(text, lineno)
        return self.plain(text, lineno)

    def plain(self, text, lineno):
        if text[:1] in ("|", ">"):
            raise self.error(lineno, "block scalars (| and >) are not supported; use a quoted string")
        if text[:1] in ("&", "*", "!", "%", "@", "`"):
            raise self.error(lineno, f"'{text[0]}' (anchors, aliases, tags) is not supported; quote the value")
        if text in ("", "~", "null", "Null", "NULL"):
            return None
        if text in ("true", "True", "TRUE"):
            return True
        if text in ("false", "False", "FALSE"):
            return False
        if _INT.match(text) and str(int(text)) == text.lstrip("+"):
            return int(text)  # "007" or a hash of digits stays text: leading zeros matter
        return text

    def quoted_end(self, text, start, lineno):
        quote = text[start]
        i = start + 1
        while i < len(text):
            c = text[i]
            if quote == '"' and c == "\\":
                i += 2
                continue
            if c == quote:
                if quote == "'" and i + 1 < len(text) and text[i + 1] == "'":
                    i += 2
                    continue
                return i
            i += 1
        raise self.error(lineno, "unterminated quoted string")

    def unquote(self, token, lineno):
        body = token[1:-1]
        if token[0] == "'":
            return body.replace("''", "'")
        escapes = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "/": "/", "0": "\0", "r": "\r"}
        out, i = [], 0
        while i < len(body):
            c = body[i]
            if c == "\\":
                if i + 1 >= len(body) or body[i + 1] not in escapes:
                    raise self.error(lineno, f"unsupported escape in '{token}'")
                out.append(escapes[body[i + 1]])
                i += 2
            else:
                out.append(c)
                i += 1
        return "".join(out)

    def flow(self, text, pos, lineno):
        """Parses [..] or {..} starting at text[pos]; returns (value, position after it)."""
        closing = "]" if text[pos] == "[" else "}"
        is_map = closing == "}"
        result = Map() if is_map else []
        if is_map:
            result.line = lineno
        pos += 1
        while True:
            while pos < len(text) and text[pos] == " ":
                pos += 1
            if pos >= len(text):
                raise self.error(lineno, f"missing '{closing}' (flow collections must end on their line)")
            if text[pos] == closing:
                return result, pos + 1
            if is_map:
                key, pos = self.flow_scalar(text, pos, lineno, ",}", key=True)
                if pos >= len(text) or text[pos] != ":":
                    raise self.error(lineno, f"expected ':' after '{key}' in a flow map")
                pos += 1
                while pos < len(text) and text[pos] == " ":
                    pos += 1
                if pos < len(text) and text[pos] in "[{":
                    value, pos = self.flow(text, pos, lineno)
                else:
                    value, pos = self.flow_scalar(text, pos, lineno, ",}")
                if key in result:
                    raise self.error(lineno, f"key '{key}' is set twice")
                result[key] = value
                result.lines[key] = lineno
            else:
                if text[pos] in "[{":
                    value, pos = self.flow(text, pos, lineno)
                else:
                    value, pos = self.flow_scalar(text, pos, lineno, ",]")
                result.append(value)
            while pos < len(text) and text[pos] == " ":
                pos += 1
            if pos >= len(text):
                raise self.error(lineno, f"missing '{closing}' (flow collections must end on their line)")
            if text[pos] == ",":
                pos += 1
            elif text[pos] == closing:
                continue
            else:
                raise self.error(lineno, f"expected ',' or '{closing}' in a flow collection")

    def flow_scalar(self, text, pos, lineno, stops, key=False):
        """A scalar inside a flow collection, ending before a char of `stops` (or ': ' for a key)."""
        if text[pos] in "'\"":
            end = self.quoted_end(text, pos, lineno)
            return self.unquote(text[pos : end + 1], lineno), end + 1
        end = pos
        while end < len(text) and text[end] not in stops:
            if key and text[end] == ":" and (end + 1 == len(text) or text[end + 1] in " ,}"):
                break
            end += 1
        return self.plain(text[pos:end].strip(), lineno), end


def loads(text, name="<string>"):
    """Parses YAML text (the subset above); raises YamlError naming `name` and the line."""
    return _Parser(text, name).parse()


def load(path):
    """Parses the file at `path`."""
    with open(path, encoding="utf-8") as f:
        return loads(f.read(), str(path))
