"""helm_chart_test: lint deploy/helm/parley with the real Helm library (helm-sdkpy bundles it).

Why: a chart that does not render fails only at deploy time, on someone's cluster. `helm lint`
renders every template with the values and validates them against values.schema.json; we run it
on the defaults, on each values-*.yaml profile merged over them, and on broken copies that must
fail (so the test can fail). Depends on the refenv-helm venv (tools/reference/setup helm).
"""
import asyncio
import copy
import os
from pathlib import Path
import sys
import shutil
import tempfile
import unittest

import yaml
from helm_sdkpy.actions import Configuration
from helm_sdkpy.chart import Lint

CHART = os.path.join(os.environ.get("PARLEY_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "..")),
                     "deploy", "helm", "parley")
ERROR = 3  # helm's support.ErrorSev


def deep_merge(base, over):
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


class HelmChartTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.config = Configuration(kubeconfig=None)
        with open(os.path.join(CHART, "values.yaml")) as f:
            cls.defaults = yaml.safe_load(f)

    def lint_with(self, values=None, mutate=None):
        """Lints a temp copy of the chart, its values.yaml replaced by `values`; returns error paths."""
        with tempfile.TemporaryDirectory(prefix="parley-helm-") as tmp:
            chart = os.path.join(tmp, "parley")
            shutil.copytree(CHART, chart)
            if values is not None:
                with open(os.path.join(chart, "values.yaml"), "w") as f:
                    yaml.safe_dump(values, f)
            if mutate:
                mutate(chart)
            result = asyncio.run(Lint(self.config).run(chart))
        msgs = result.get("Messages") or []
        return [m["Path"] for m in msgs if m.get("Severity", 0) >= ERROR]

    def test_default_values_lint_clean(self):
        self.assertEqual(self.lint_with(), [])

    def test_every_profile_lints_clean(self):
        profiles = sorted(p for p in os.listdir(CHART) if p.startswith("values-") and p.endswith(".yaml"))
        self.assertIn("values-gpu.yaml", profiles)
        for p in profiles:
            with open(os.path.join(CHART, p)) as f:
                merged = deep_merge(self.defaults, yaml.safe_load(f))
            with self.subTest(profile=p):
                self.assertEqual(self.lint_with(merged), [])

    def test_everything_switched_on_lints_clean(self):
        v = deep_merge(self.defaults, {
            "monitoring": {"serviceMonitor": {"enabled": True}},
            "services": {"echo": {"enabled": True}, "lm": {"gpu": 2}},
            "dialog": {"ingress": {"enabled": True, "className": "nginx"},
                       "bots": {"demo.yaml": "name: demo\n"}, "apiKeysSecret": "parley-keys",
                       "sessionStore": {"redisUrl": "redis://redis.example:6379"}},
        })
        self.assertEqual(self.lint_with(v), [])

    def test_unknown_value_key_is_rejected_by_the_schema(self):
        v = deep_merge(self.defaults, {"services": {"lm": {"replicaz": 3}}})
        self.assertNotEqual(self.lint_with(v), [])

    def test_bad_session_store_type_is_rejected(self):
        v = deep_merge(self.defaults, {"dialog": {"sessionStore": {"type": "postgres"}}})
        self.assertNotEqual(self.lint_with(v), [])

    def test_a_broken_template_fails(self):
        def break_template(chart):
            with open(os.path.join(chart, "templates", "service.yaml"), "a") as f:
                f.write("\n{{ .Values.nope.missing }}\n")
        self.assertNotEqual(self.lint_with(mutate=break_template), [])


if __name__ == "__main__":
    # Skips exit 77 and are logged for tools/test (tests/support/parley_unittest.py).
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
    import parley_unittest  # noqa: E402

    parley_unittest.main()
