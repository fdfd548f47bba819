"""helm_render_test: render deploy/helm/parley like `helm template` and check what an operator needs.

Why: a chart can lint clean and still deploy a platform that does not work (the API on loopback,
a bot path that is not in the image, flags the binaries reject, PDBs that block node drains, pods
that fail Pod Security "restricted"). We render the defaults and each values-*.yaml profile with
Helm's own engine (helm-python-sdk), validate every object against the Kubernetes 1.30 schemas
(kubernetes-validate, strict: unknown fields fail), and assert on the rendered objects. The env
names and flags the chart gives each binary are checked against that binary's --help (the real
config schema), so a renamed key fails here, not in a crash-looping pod.
Depends on the refenv-helm venv (tools/reference/setup helm) and the built service binaries.
"""
import copy
import os
import re
import subprocess
import sys
from pathlib import Path
import unittest

import kubernetes_validate
import yaml
from helm_python.chart import Chart

ROOT = Path(os.environ.get("PARLEY_SOURCE_DIR", Path(__file__).resolve().parents[3]))
BUILD = Path(os.environ.get("PARLEY_BINARY_DIR", ROOT / "build"))
CHART = ROOT / "deploy" / "helm" / "parley"
K8S = "1.30.0"
RELEASE, NAMESPACE = "demo", "chat"
# Variables the binaries read outside their config schema (shared/config/config.cc tool_variables).
TOOL_VARIABLES = {"PARLEY_MODEL_DIR", "PARLEY_NUM_THREADS"}


def deep_merge(base, over):
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def profiles():
    return sorted(p.name for p in CHART.glob("values-*.yaml"))


class Rendered:
    """The objects of one render, by kind and name."""

    def __init__(self, manifests):
        self.docs = []
        for path, text in manifests.items():
            if path.endswith("NOTES.txt"):
                self.notes = text
                continue
            self.docs.extend(d for d in yaml.safe_load_all(text) if d)

    def of(self, kind):
        return {d["metadata"]["name"]: d for d in self.docs if d["kind"] == kind}

    def deployment(self, component):
        return self.of("Deployment")[f"{RELEASE}-parley-{component}"]


def container(dep):
    return dep["spec"]["template"]["spec"]["containers"][0]


def env_of(dep):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(dep).get("env", [])}


class HelmRenderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.chart = Chart.load(str(CHART))
        with open(CHART / "values.yaml") as f:
            cls.defaults = yaml.safe_load(f)
        cls.help = {}

    def render(self, values=None):
        return Rendered(self.chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True))

    def validate(self, r):
        self.assertGreater(len(r.docs), 0)
        for d in r.docs:
            if d["apiVersion"].startswith(("keda.sh/", "monitoring.coreos.com/")):
                continue  # CRDs: not in the Kubernetes schemas
            with self.subTest(kind=d["kind"], name=d["metadata"]["name"]):
                kubernetes_validate.validate(d, K8S, strict=True)

    def binary_keys(self, binary):
        """(flag keys, env names) from the built binary's --help."""
        if binary not in self.help:
            path = BUILD / "services" / binary.removeprefix("parley-") / binary
            self.assertTrue(path.is_file(), f"{path} is not built")
            out = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=60, env={})
            self.assertEqual(out.returncode, 0, out.stderr)
            keys = set(re.findall(r"^  --([a-z0-9_.]+)=", out.stdout, re.M))
            envs = set(re.findall(r", env (PARLEY_[A-Z0-9_]+)$", out.stdout, re.M))
            self.assertIn("transport.bind", keys)
            self.help[binary] = (keys, envs)
        return self.help[binary]

    # --- every profile -------------------------------------------------------------------------

    def each_profile(self):
        yield "values.yaml", {}
        for p in profiles():
            with open(CHART / p) as f:
                yield p, yaml.safe_load(f)

    def test_default_and_profiles_render_and_validate(self):
        self.assertIn("values-gpu.yaml", profiles())
        for name, over in self.each_profile():
            with self.subTest(profile=name):
                r = self.render(over)
                self.validate(r)
                self.check_platform(r, deep_merge(self.defaults, over))

    def check_platform(self, r, values):
        deps = r.of("Deployment")
        dialog = r.deployment("dialog")
        env = env_of(dialog)
        # The public API: every address, with keys mounted from a Secret, behind the api Service.
        self.assertEqual(env["PARLEY_API_ADDRESS"], "0.0.0.0")
        self.assertEqual(env["PARLEY_API_KEYS_FILE"], "/etc/parley/api-keys")
        secret = next(v for v in dialog["spec"]["template"]["spec"]["volumes"] if v["name"] == "api-keys")
        self.assertIn(secret["secret"]["secretName"], r.of("Secret"))
        key = r.of("Secret")[secret["secret"]["secretName"]]["stringData"]["admin"]
        self.assertRegex(key, r"^admin\+client:default:[A-Za-z0-9]{40}$")
        api = r.of("Service")[f"{RELEASE}-parley-api"]
        self.assertEqual(api["spec"]["ports"][0]["targetPort"], "api")
        self.assertIn({"name": "api", "containerPort": int(env["PARLEY_API_PORT"])}, container(dialog)["ports"])
        # The bots: the demo bot baked into the image (deploy/Dockerfile copies services/dialog/bots).
        self.assertEqual(env["PARLEY_DIALOG_BOTS_DIR"], "/opt/parley/bots")
        self.assertTrue((ROOT / "services/dialog/bots/demo/bot.yaml").is_file())
        self.assertIn("cp -r services/dialog/bots /opt/parley/bots", (ROOT / "deploy/Dockerfile").read_text())
        # Every dependency target names a headless Service of the release, on its ZeroMQ port.
        for dep in ("nlu", "qa", "lm"):
            target = env[f"PARLEY_DIALOG_{dep.upper()}_TARGETS"]
            m = re.fullmatch(rf"dns://({RELEASE}-parley-{dep}-zmq)\.{NAMESPACE}\.svc\.cluster\.local:(\d+)", target)
            self.assertIsNotNone(m, target)
            svc = r.of("Service")[m.group(1)]
            self.assertEqual(svc["spec"]["clusterIP"], "None")
            self.assertEqual(svc["spec"]["ports"][0]["port"], int(m.group(2)))
        self.assertTrue(env_of(r.deployment("qa"))["PARLEY_QA_LM_TARGET"].startswith(f"dns://{RELEASE}-parley-lm-zmq."))
        # Sessions and uploaded bots in the bundled Redis, with its password.
        self.assertRegex(env["PARLEY_STORE_REDIS_URL"], r"^redis://:\$\(REDIS_PASSWORD\)@")
        for name, d in deps.items():
            with self.subTest(deployment=name):
                self.check_pod(d, values)

    def check_pod(self, d, values):
        spec = d["spec"]["template"]["spec"]
        # Pod Security "restricted".
        self.assertEqual(spec["securityContext"]["seccompProfile"]["type"], "RuntimeDefault")
        self.assertTrue(spec["securityContext"]["runAsNonRoot"])
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
            self.assertFalse(sc["allowPrivilegeEscalation"])
            self.assertTrue(sc["readOnlyRootFilesystem"])
            self.assertNotRegex(c["image"], r":latest$|^[^:@]+$")
        component = d["metadata"]["labels"]["app.kubernetes.io/component"]
        if component == "redis":
            return
        c = container(d)
        self.assertEqual(c["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "http"})
        self.assertEqual(c["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "http"})
        self.assertEqual(c["startupProbe"]["httpGet"], {"path": "/healthz", "port": "http"})
        # Drain: preStop, then service.drain_grace inside the termination grace period.
        grace = int(next(a for a in c["args"] if a.startswith("--service.drain_grace=")).split("=")[1].rstrip("s"))
        pre = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
        self.assertGreater(pre, 5, "preStop must outlast the clients' 5 s DNS re-resolve")
        self.assertGreaterEqual(spec["terminationGracePeriodSeconds"], pre + grace)
        if component in ("lm", "dialog"):
            self.assertGreater(grace, 30, "in-flight LM calls (dialog.lm_timeout 30 s) must finish on scale-down")
        # Every flag and PARLEY_* variable is one the binary declares.
        keys, envs = self.binary_keys(Path(c["command"][0]).name)
        for a in c["args"]:
            self.assertIn(a[2:].split("=")[0], keys, f"{component}: flag {a}")
        for e in c.get("env", []):
            if e["name"].startswith("PARLEY_") and e["name"] not in TOOL_VARIABLES:
                self.assertIn(e["name"], envs, f"{component}: env {e['name']}")
        # Threads follow the pod's CPU request.
        threads = next(e for e in c["env"] if e["name"] == "PARLEY_NUM_THREADS")
        self.assertEqual(threads["valueFrom"]["resourceFieldRef"]["resource"], "requests.cpu")

    # --- specific values -----------------------------------------------------------------------

    def test_voice_and_echo_services_render_with_flags_their_binaries_accept(self):
        over = {"services": {"asr": {"enabled": True}, "tts": {"enabled": True}, "echo": {"enabled": True}}}
        r = self.render(over)
        self.validate(r)
        self.check_platform(r, deep_merge(self.defaults, over))
        env = env_of(r.deployment("dialog"))
        for dep in ("asr", "tts"):
            self.assertTrue(env[f"PARLEY_DIALOG_{dep.upper()}_TARGETS"].startswith(f"dns://{RELEASE}-parley-{dep}-zmq."))
        # Off by default: the dialog gets an empty list (text-only voice), not its loopback default.
        self.assertEqual(env_of(self.render().deployment("dialog"))["PARLEY_DIALOG_ASR_TARGETS"], "")

    def test_pdb_only_when_more_than_one_replica(self):
        r = self.render()
        pdbs = r.of("PodDisruptionBudget")
        # dialog autoscales from 2; the engines run 1 replica: a PDB there would block node drains.
        self.assertEqual(sorted(pdbs), [f"{RELEASE}-parley-dialog"])
        self.assertEqual(pdbs[f"{RELEASE}-parley-dialog"]["spec"]["maxUnavailable"], 1)
        r = self.render({"services": {"nlu": {"replicas": 3}, "dialog": {"autoscaling": {"enabled": False}, "replicas": 1}}})
        self.assertEqual(sorted(r.of("PodDisruptionBudget")), [f"{RELEASE}-parley-nlu"])

    def test_bots_with_a_knowledge_base_mount_as_folders(self):
        r = self.render({"dialog": {"bots": {"hotel/bot.yaml": "name: hotel\n", "hotel/kb/faq.md": "# FAQ\n",
                                             "tiny.yaml": "name: tiny\n"}}})
        self.validate(r)
        cm = r.of("ConfigMap")[f"{RELEASE}-parley-bots"]
        self.assertEqual(sorted(cm["data"]), ["hotel__bot.yaml", "hotel__kb__faq.md", "tiny.yaml"])
        dialog = r.deployment("dialog")
        self.assertEqual(env_of(dialog)["PARLEY_DIALOG_BOTS_DIR"], "/etc/parley/bots")
        vol = next(v for v in dialog["spec"]["template"]["spec"]["volumes"] if v["name"] == "bots")
        self.assertIn({"key": "hotel__kb__faq.md", "path": "hotel/kb/faq.md"}, vol["configMap"]["items"])
        self.assertIn("checksum/bots", dialog["spec"]["template"]["metadata"]["annotations"])

    def test_keyless_api_needs_an_explicit_opt_in(self):
        with self.assertRaisesRegex(Exception, "allowUnauthenticatedRemote"):
            self.render({"dialog": {"generateApiKey": False}})
        r = self.render({"dialog": {"generateApiKey": False, "allowUnauthenticatedRemote": True}})
        env = env_of(r.deployment("dialog"))
        self.assertEqual(env["PARLEY_API_ALLOW_UNAUTHENTICATED_REMOTE"], "true")
        self.assertNotIn("PARLEY_API_KEYS_FILE", env)
        r = self.render({"dialog": {"apiKeysSecret": "my-keys"}})
        self.assertNotIn(f"{RELEASE}-parley-api-keys", r.of("Secret"))

    def test_adapter_rules_live_in_the_adapters_namespace_and_feed_the_hpa(self):
        r = self.render()
        self.assertEqual(r.of("ConfigMap").get(f"{RELEASE}-parley-adapter-rules"), None)
        hpa = r.of("HorizontalPodAutoscaler")[f"{RELEASE}-parley-dialog"]
        # Without an adapter a custom metric would keep the HPA from ever scaling down: CPU only.
        self.assertEqual([m["type"] for m in hpa["spec"]["metrics"]], ["Resource"])
        r = self.render({"monitoring": {"prometheusAdapterRules": {"enabled": True, "namespace": "monitoring"}},
                         "services": {"lm": {"autoscaling": {"enabled": True}}}})
        self.validate(r)
        cm = r.of("ConfigMap")[f"{RELEASE}-parley-adapter-rules"]
        self.assertEqual(cm["metadata"]["namespace"], "monitoring")
        rules = yaml.safe_load(cm["data"]["config.yaml"])["rules"]
        served = {rule["name"].get("as") for rule in rules}
        hpa = r.of("HorizontalPodAutoscaler")[f"{RELEASE}-parley-lm"]
        pods = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
        self.assertEqual(pods, ["parley_lm_requests_waiting"])
        # The dialog: turns in flight (its HTTP turns never pass the host's queue) and voice sessions.
        hpa = r.of("HorizontalPodAutoscaler")[f"{RELEASE}-parley-dialog"]
        pods = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
        self.assertEqual(pods, ["parley_dialog_turns_in_flight", "parley_voice_active_sessions"])
        for metric in ["parley_lm_requests_waiting", *pods]:
            self.assertIn(metric, served)

    def test_keda_scaled_object_replaces_the_hpa(self):
        r = self.render({"monitoring": {"keda": {"enabled": True}}, "services": {"lm": {"autoscaling": {"enabled": True}}}})
        self.validate(r)
        self.assertEqual(r.of("HorizontalPodAutoscaler"), {})
        so = r.of("ScaledObject")[f"{RELEASE}-parley-lm"]
        query = so["spec"]["triggers"][0]["metadata"]["query"]
        self.assertEqual(query, f'sum(parley_lm_requests_waiting{{namespace="{NAMESPACE}",pod=~"{RELEASE}-parley-lm-.*"}})')

    def test_redis_is_hardened(self):
        r = self.render()
        redis = r.deployment("redis")
        c = container(redis)
        self.assertRegex(c["image"], r"^redis:\d+\.\d+\.\d+")
        self.assertIn("--requirepass", c["args"])
        vol = next(v for v in redis["spec"]["template"]["spec"]["volumes"] if v["name"] == "data")
        self.assertEqual(vol["persistentVolumeClaim"]["claimName"], f"{RELEASE}-parley-redis")
        np = r.of("NetworkPolicy")[f"{RELEASE}-parley-redis"]
        peers = np["spec"]["ingress"][0]["from"]
        self.assertEqual(peers[0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"], "dialog")

    def test_engines_take_transport_calls_only_from_their_callers(self):
        r = self.render()
        for engine, callers in (("nlu", ["dialog"]), ("qa", ["dialog"]), ("lm", ["dialog", "qa"])):
            np = r.of("NetworkPolicy")[f"{RELEASE}-parley-{engine}"]
            zmq = next(rule for rule in np["spec"]["ingress"] if rule["ports"] == [{"port": "zmq"}])
            got = [p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in zmq["from"]]
            self.assertEqual(got, callers, engine)

    def test_curve_secret_is_mounted_and_named_in_env(self):
        r = self.render({"transport": {"curveSecret": "parley-curve"}})
        self.validate(r)
        for comp in ("dialog", "nlu", "qa", "lm"):
            d = r.deployment(comp)
            env = env_of(d)
            self.assertEqual(env["PARLEY_TRANSPORT_CURVE_KEY_FILE"], "/etc/parley/curve/server.key")
            keys, envs = self.binary_keys(Path(container(d)["command"][0]).name)
            for name in env:
                if name.startswith("PARLEY_") and name not in TOOL_VARIABLES:
                    self.assertIn(name, envs)

    def test_gpu_profiles_use_the_cuda_image_and_the_named_gpu_resource(self):
        with open(CHART / "values-gpu.yaml") as f:
            gpu = yaml.safe_load(f)
        with open(CHART / "values-gpu-shared.yaml") as f:
            shared = yaml.safe_load(f)
        for over, resource in ((gpu, "nvidia.com/gpu"), (deep_merge(gpu, shared), "nvidia.com/mig-2g.35gb")):
            r = self.render(over)
            self.validate(r)
            lm = r.deployment("lm")
            spec = lm["spec"]["template"]["spec"]
            self.assertEqual(spec["runtimeClassName"], "nvidia")
            self.assertEqual(container(lm)["image"], "parley:0.2.0-cuda")
            self.assertEqual(container(lm)["resources"]["limits"][resource], 1)
            self.assertEqual([k for k in container(lm)["resources"]["limits"] if k.startswith("nvidia.com/")], [resource])
            # The dialog stays on the CPU image and nodes.
            dialog = r.deployment("dialog")
            self.assertEqual(container(dialog)["image"], "parley:0.2.0")
            self.assertNotIn("runtimeClassName", dialog["spec"]["template"]["spec"])

    def test_models_volume_and_init_container(self):
        r = self.render({"models": {"volume": {"persistentVolumeClaim": {"claimName": "parley-models"}},
                                    "init": {"enabled": True, "command": ["sh", "-c", "cp -rn /src/. /opt/parley/models/"]}}})
        self.validate(r)
        spec = r.deployment("nlu")["spec"]["template"]["spec"]
        self.assertEqual(spec["initContainers"][0]["volumeMounts"][0], {"name": "models", "mountPath": "/opt/parley/models"})
        self.assertIn({"name": "models", "mountPath": "/opt/parley/models", "readOnly": True}, spec["containers"][0]["volumeMounts"])
        with self.assertRaisesRegex(Exception, "models.init.enabled needs models.volume"):
            self.render({"models": {"init": {"enabled": True, "command": ["true"]}}})

    def test_nlu_finetune_cache_volume(self):
        r = self.render({"nluFinetuneCache": {"volume": {"persistentVolumeClaim": {"claimName": "parley-nlu-finetune"}},
                                              "maxBytes": 2147483648}})
        self.validate(r)
        nlu = r.deployment("nlu")
        env = env_of(nlu)
        self.assertEqual(env["PARLEY_NLU_FINETUNE_CACHE_DIR"], "/var/cache/parley/nlu-finetune")
        self.assertEqual(env["PARLEY_NLU_FINETUNE_CACHE_MAX_BYTES"], "2147483648")
        # The names are the binary's own (its --help), and the directory is writable under a
        # read-only root: the volume is mounted there, read-write.
        self.assertLessEqual({"PARLEY_NLU_FINETUNE_CACHE_DIR", "PARLEY_NLU_FINETUNE_CACHE_MAX_BYTES"},
                             self.binary_keys("parley-nlu")[1])
        self.assertIn({"name": "nlu-finetune-cache", "mountPath": "/var/cache/parley/nlu-finetune"},
                      container(nlu)["volumeMounts"])
        vol = next(v for v in nlu["spec"]["template"]["spec"]["volumes"] if v["name"] == "nlu-finetune-cache")
        self.assertEqual(vol["persistentVolumeClaim"], {"claimName": "parley-nlu-finetune"})
        # Only the NLU pods get it; by default nobody does.
        self.assertNotIn("PARLEY_NLU_FINETUNE_CACHE_DIR", env_of(r.deployment("qa")))
        self.assertNotIn("PARLEY_NLU_FINETUNE_CACHE_DIR", env_of(self.render().deployment("nlu")))
        with self.assertRaises(Exception):
            self.render({"nluFinetuneCache": {"maxBytes": -1}})

    def test_unknown_value_is_rejected(self):
        with self.assertRaises(Exception):
            self.render({"services": {"lm": {"replicaz": 3}}})


if __name__ == "__main__":
    # Skips exit 77 and are logged for tools/test (tests/support/parley_unittest.py).
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
    import parley_unittest  # noqa: E402

    parley_unittest.main()
