"""Render helm/ray101 with the real helm and check the objects, offline.

Renders use a fixed release name and namespace and are cached per (values file, --set args).
Built-in kinds are validated with kubernetes-validate (strict) and RayClusters against the
KubeRay CRD schema (pinned operator version, from the Go module proxy) made strict the way
`kubectl apply --validate=strict` is: a field the schema does not declare is an error.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "helm" / "ray101"
VALUES_DIR = Path(__file__).resolve().parent / "chart-values"
RELEASE = "ray101"
NAMESPACE = "ray101"
# The Kubernetes version the objects must be valid for (kind's node image in k8s/kind-config.yaml).
K8S_VERSION = "1.35.0"
KUBERAY_VERSION = "1.6.0"
FETCH_KUBERAY = REPO / "scripts" / "fetch-kuberay.sh"

VALUES_FILES = sorted(p.name for p in VALUES_DIR.glob("*.yaml"))


def helm_binary() -> str:
    """helm from RAY101_HELM, else the pinned one in .tools/bin (`make tools`)."""
    path = os.environ.get("RAY101_HELM") or str(REPO / ".tools" / "bin" / "helm")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(
            f"helm not found at {path}: run `make tools` (installs helm v4 into .tools/bin) "
            "or point RAY101_HELM at a helm binary",
            pytrace=False,
        )
    return path


@functools.cache
def crds_dir() -> Path:
    """Folder holding the KubeRay CRDs (ray.io_rayclusters.yaml) at the pinned operator version:
    RAY101_KUBERAY_CRDS, else config/crd/bases/ of the operator's Go module, which
    scripts/fetch-kuberay.sh downloads from the Go module proxy (cached) and verifies."""
    env = os.environ.get("RAY101_KUBERAY_CRDS")
    if env:
        path = Path(env)
    else:
        fetch = subprocess.run(
            [str(FETCH_KUBERAY)], capture_output=True, text=True, timeout=600
        )
        if fetch.returncode != 0:
            pytest.fail(
                f"{FETCH_KUBERAY.name} failed: {fetch.stderr.strip().splitlines()[-1:]}; "
                "set RAY101_KUBERAY_CRDS to a folder holding ray.io_rayclusters.yaml",
                pytrace=False,
            )
        path = Path(fetch.stdout.strip()) / "config" / "crd" / "bases"
    if not (path / "ray.io_rayclusters.yaml").is_file():
        pytest.fail(
            f"KubeRay {KUBERAY_VERSION} CRDs not found in {path}: run scripts/fetch-kuberay.sh "
            "(or `make kuberay-crds`) or set RAY101_KUBERAY_CRDS to a folder holding "
            "ray.io_rayclusters.yaml",
            pytrace=False,
        )
    return path


def run_helm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [helm_binary(), *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def template_args(values: str | None = None, sets: tuple[str, ...] = ()) -> list[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", K8S_VERSION]
    if values:
        args += ["-f", str(VALUES_DIR / values)]
    for item in sets:
        args += ["--set", item]
    return args


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load keeps the last of two equal keys in a mapping without a word; the API
    server's strict field validation rejects the object. Renders are parsed with this loader."""


def _unique_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


@functools.cache
def _render_cached(values: str | None, sets: tuple[str, ...]) -> tuple[dict, ...]:
    proc = run_helm(*template_args(values, sets))
    if proc.returncode != 0:
        raise AssertionError(f"helm template failed (values={values}, set={sets}):\n{proc.stderr}")
    return tuple(doc for doc in yaml.load_all(proc.stdout, Loader=UniqueKeyLoader) if doc)


def render(values: str | None = None, *sets: str) -> Manifests:
    """Rendered objects (deep copies, so tests may modify them)."""
    return Manifests(copy.deepcopy(list(_render_cached(values, tuple(sets)))))


def render_fails(values: str | None = None, *sets: str) -> str:
    """Render that must fail: returns helm's error text."""
    proc = run_helm(*template_args(values, tuple(sets)))
    assert proc.returncode != 0, f"helm accepted values={values} set={sets}"
    return proc.stderr


class Manifests(list):
    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self if o["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict:
        found = [o for o in self.of_kind(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def rayclusters(self) -> dict[str, dict]:
        """RayClusters keyed by their ray101.io/cluster label."""
        return {o["metadata"]["labels"]["ray101.io/cluster"]: o for o in self.of_kind("RayCluster")}


# --- pod specs --------------------------------------------------------------------------------


def pod_templates(obj: dict) -> Iterator[tuple[str, dict]]:
    """(where, pod template) for every pod template in a workload or RayCluster."""
    kind = obj["kind"]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        yield f"{kind}/{obj['metadata']['name']}", obj["spec"]["template"]
    elif kind == "RayCluster":
        name = obj["metadata"]["name"]
        yield f"RayCluster/{name}/head", obj["spec"]["headGroupSpec"]["template"]
        for group in obj["spec"].get("workerGroupSpecs", []):
            yield f"RayCluster/{name}/{group['groupName']}", group["template"]


def containers(pod_spec: dict) -> list[dict]:
    return list(pod_spec.get("initContainers", [])) + list(pod_spec.get("containers", []))


ALLOWED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}


def restricted_violations(pod_spec: dict, *, container_only: bool = False) -> list[str]:
    """Pod Security Standards "restricted" (v1.35) checks, plus our rule: CPU and memory limits.

    With container_only the pod-level securityContext is ignored (KubeRay copies only the Ray
    container's securityContext into the init container it injects).
    """
    problems = []
    pod_sc = {} if container_only else pod_spec.get("securityContext", {}) or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(flag):
            problems.append(f"{flag} is set")
    for vol in pod_spec.get("volumes", []):
        types = set(vol) - {"name"}
        if not types <= ALLOWED_VOLUME_TYPES:
            problems.append(f"volume {vol['name']} uses {types - ALLOWED_VOLUME_TYPES}")
    if pod_sc.get("runAsUser") == 0:
        problems.append("pod runs as uid 0")
    for c in containers(pod_spec):
        sc = c.get("securityContext") or {}
        name = c["name"]
        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {caps['add']}")
        if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            problems.append(f"{name}: runs as uid 0")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is {seccomp}")
        for port in c.get("ports", []):
            if port.get("hostPort"):
                problems.append(f"{name}: hostPort {port['hostPort']}")
        limits = (c.get("resources") or {}).get("limits") or {}
        for res in ("cpu", "memory"):
            if res not in limits:
                problems.append(f"{name}: no {res} limit")
    return problems


# --- quantities -------------------------------------------------------------------------------

_SUFFIX = {
    "": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}


def quantity(value: Any) -> float:
    """A Kubernetes quantity ("500m", "1Gi", 2) as a float (cores or bytes)."""
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(value))
    assert match and match.group(2) in _SUFFIX, f"not a quantity: {value!r}"
    return float(match.group(1)) * _SUFFIX[match.group(2)]


# --- schema validation ------------------------------------------------------------------------


def validate_builtin(obj: dict) -> None:
    """Strict validation of a built-in kind against the Kubernetes OpenAPI schemas."""
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def strict_schema(schema: Any) -> Any:
    """Copy of an openAPIV3Schema where every object with `properties` rejects other fields,
    unless it says x-kubernetes-preserve-unknown-fields (what the API server's strict field
    validation does)."""
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict_schema(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def crd_validator(kind: str, version: str = "v1") -> jsonschema.protocols.Validator:
    plural = {"RayCluster": "rayclusters", "RayJob": "rayjobs", "RayService": "rayservices"}[kind]
    crd = yaml.safe_load((crds_dir() / f"ray.io_{plural}.yaml").read_text())
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            schema = strict_schema(v["schema"]["openAPIV3Schema"])
            # metadata is ObjectMeta, validated by the API server itself, not by the CRD schema.
            return jsonschema.Draft7Validator(schema)
    raise AssertionError(f"{kind} CRD has no version {version}")


def crd_errors(obj: dict) -> list[str]:
    group_version = obj["apiVersion"].split("/")
    validator = crd_validator(obj["kind"], group_version[-1])
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path)))
    ]


def selector_matches(selector: dict, labels: dict) -> bool:
    """Does a LabelSelector (matchLabels/matchExpressions) select these labels?"""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
    return True


def ray_version() -> str:
    """cli/ray101/__init__.py RAY_VERSION, read as text (no import of the CLI package needed)."""
    text = (REPO / "cli" / "ray101" / "__init__.py").read_text()
    match = re.search(r'^RAY_VERSION\s*=\s*"([^"]+)"', text, re.M)
    assert match, "RAY_VERSION not found in cli/ray101/__init__.py"
    return match.group(1)


def chart_values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())
