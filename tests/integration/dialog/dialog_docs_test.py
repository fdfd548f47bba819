"""The API's own reference on the real parley-dialog: /v1/openapi.yaml is the repo's
services/dialog/openapi.yaml byte for byte, /v1/openapi.json is the same document, /docs is a page
with no external asset whose script renders it, and the chat page links to it. Public (no key)
even when keys are configured. Standard library only (the YAML is compared as bytes and JSON).
"""

import html
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "support"))
import parley_processes as pp  # noqa: E402
import parley_unittest  # noqa: E402


class DocsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.platform = pp.Platform().__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.platform.__exit__(None, None, None)

    def get(self, path, key=None):
        return pp.http("GET", self.platform.url + path, key=key)

    def test_yaml_is_the_repo_document(self):
        status, headers, body = self.get("/v1/openapi.yaml")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("application/yaml"), headers["Content-Type"])
        with open(os.path.join(pp.SOURCE_DIR, "services/dialog/openapi.yaml"), "rb") as f:
            self.assertEqual(body, f.read())

    def test_json_is_the_same_document(self):
        status, headers, body = self.get("/v1/openapi.json")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("application/json"))
        doc = json.loads(body)
        self.assertEqual(doc["openapi"], "3.1.0")
        # Every path and method of the YAML is there (read off the YAML's own lines: no parser).
        with open(os.path.join(pp.SOURCE_DIR, "services/dialog/openapi.yaml"), encoding="utf-8") as f:
            paths = re.findall(r"^  (/\S*):$", f.read(), re.M)
        self.assertGreater(len(paths), 8)
        self.assertEqual(sorted(doc["paths"]), sorted(paths))
        turns = doc["paths"]["/v1/sessions/{id}/turns"]["post"]
        self.assertEqual(turns["x-scope"], "client")
        # Quoted scalars stay strings, plain numbers become numbers, booleans booleans.
        self.assertIn("200", turns["responses"])
        text = doc["components"]["schemas"]["TurnRequest"]["properties"]["text"]
        self.assertEqual(text["maxLength"], 4096)
        self.assertEqual(text["pattern"], "[^ \\t\\r\\n]")
        self.assertIs(doc["paths"]["/v1/bots/{bot}"]["put"]["requestBody"]["required"], True)

    def test_docs_page_is_self_contained(self):
        status, headers, body = self.get("/docs")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        page = body.decode()
        self.assertIn('src="/static/docs.js"', page)
        # No asset from outside the server: every src/href is a local path or an anchor.
        for url in re.findall(r'(?:src|href)="([^"]*)"', page):
            self.assertTrue(url.startswith("/") and not url.startswith("//") or url.startswith("#"), url)
        status, _, script = self.get("/static/docs.js")
        self.assertEqual(status, 200)
        self.assertIn("/v1/openapi.json", script.decode())
        self.assertNotRegex(script.decode(), r"https?://")
        self.assertNotIn("innerHTML", script.decode())  # the document's text goes in as text

    def test_docs_page_renders_in_a_browser(self):
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            self.skipTest("no chromium on PATH (the page's rendering is checked in a real browser)")
        dom = subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                              f"--user-data-dir={self.platform.dir}/chromium", "--dump-dom", self.platform.url + "/docs"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60).stdout.decode()
        self.assertIn('data-state="ready"', dom, dom[-2000:])
        doc = json.loads(self.get("/v1/openapi.json")[2])
        rendered = [html.unescape(p) for p in re.findall(r'class="path">([^<]*)<', dom)]
        for path, item in doc["paths"].items():
            methods = [m for m in ("get", "put", "post", "delete") if m in item]
            self.assertEqual(rendered.count(path), len(methods), path)
        for name in doc["components"]["schemas"]:
            self.assertIn(f'id="schema-{name}"', dom)
        self.assertIn("maxLength 4096", dom)  # constraints are shown
        self.assertRegex(dom, r"event <code>token</code>: <a href=\"#schema-TokenEvent\">")  # SSE events per type
        self.assertIn("UNAUTHENTICATED: no", dom)  # errors per status

    def test_chat_page_links_to_docs(self):
        status, _, body = self.get("/")
        self.assertEqual(status, 200)
        self.assertRegex(body.decode(), r'<a [^>]*href="/docs"')

    def test_api_still_needs_a_key(self):
        status, _, _ = self.get("/v1/bots")
        self.assertEqual(status, 401)
        status, _, _ = self.get("/v1/bots", key=pp.CLIENT_KEY)
        self.assertEqual(status, 200)


if __name__ == "__main__":
    parley_unittest.main()
