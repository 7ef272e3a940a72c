"""NetworkPolicies enforced on a real cluster, with real connections (issues 17 item 4, 18 item 2).

Given a running cluster with the chart deployed (`make deploy`), this deploys the policy engine
(k8s/policy/: the patched kube-network-policies DaemonSet), starts client pods and connects from
them to MongoDB's port and the Ray head's GCS (6379), dashboard (8265) and client (10001) ports:

- a pod with the chart's labels (what the chart's policies admit, read from them on the cluster:
  a Ray pod of this release) reaches all of them;
- an unlabelled pod in the release's namespace reaches neither MongoDB nor the Ray head;
- an unlabelled pod in another namespace reaches none of them;
- the unlabelled pods still reach CoreDNS (no policy there): a refusal above is the policy's, not
  a broken client;
- the engine's log shows the drops; MongoDB's and the Ray head's kubelet probes keep passing
  (pods Ready, no restarts) while the policies are enforced.

Callable from both providers' e2e: run with RAY101_TEST_K8S=1 after the provider has loaded the
engine's image (`k8s/policy/build.sh --image` prints the tarball: `ctr images import` on the host
provider, `kind load image-archive` on kind). Environment: KUBECONFIG and RAY101_KUBE_CONTEXT (the
cluster; default the current context), RAY101_NAMESPACE and RAY101_RELEASE (default ray101),
RAY101_KUBECTL (default kubectl on PATH). The engine stays deployed afterwards (the providers'
teardown removes the cluster); RAY101_POLICY_UNDEPLOY=1 deletes it at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from k8s_common import NAMESPACE, RELEASE, REPO, kubectl_cmd

if os.environ.get("RAY101_TEST_K8S") != "1":
    pytest.skip("a real cluster: RAY101_TEST_K8S=1 (the providers' e2e tiers)", allow_module_level=True)

OUTSIDE = f"{NAMESPACE}-np-outsider"
RAY_PORTS = {"gcs": 6379, "dashboard": 8265, "client": 10001}
CLIENT = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close(); print('open')\n"
    "except socket.timeout:\n"
    "    print('timeout')\n"
    "except OSError as e:\n"
    "    print(type(e).__name__)\n"
)


def kubectl(*args: str, check: bool = True, timeout: float = 120, stdin: str | None = None) -> str:
    proc = subprocess.run([*kubectl_cmd(), *args], capture_output=True, text=True, timeout=timeout, input=stdin)
    if check:
        assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr.strip()[-800:]}"
    return proc.stdout


def get(*args: str) -> dict:
    return json.loads(kubectl("get", "-o", "json", *args))


def pod_with(label_selector: str) -> dict:
    items = get("pods", "-n", NAMESPACE, "-l", label_selector)["items"]
    assert items, f"no pod with {label_selector} in namespace {NAMESPACE}: is the chart deployed?"
    return items[0]


def client_pod(name: str, namespace: str, labels: dict, image: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                     "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                                         "seccompProfile": {"type": "RuntimeDefault"}},
                     "containers": [{"name": "client", "image": image, "imagePullPolicy": "IfNotPresent",
                                     "command": ["sleep", "3600"],
                                     "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                                                   "limits": {"memory": "128Mi"}},
                                     "securityContext": {"allowPrivilegeEscalation": False,
                                                         "capabilities": {"drop": ["ALL"]}}}]}}


def connect(pod: str, namespace: str, ip: str, port: int) -> str:
    return kubectl("exec", "-n", namespace, pod, "--", "python3", "-c", CLIENT, ip, str(port), timeout=60).strip()


def admitted_labels(policies: list[dict]) -> dict:
    """The labels a client needs to be admitted by every one of the release's policies: of each
    policy's first `from` peer (the Ray pods), the pod selector's matchLabels and a value for each
    label it requires to exist."""
    labels: dict[str, str] = {}
    for policy in policies:
        peers = [peer for rule in policy["spec"].get("ingress", []) for peer in rule.get("from", [])]
        selector = (peers[0].get("podSelector") or {}) if peers else {}
        labels.update(selector.get("matchLabels") or {})
        for expr in selector.get("matchExpressions") or []:
            assert expr["operator"] in ("Exists", "In"), expr
            labels[expr["key"]] = (expr.get("values") or ["np-test"])[0]
    assert labels, f"the release's policies admit no labelled pod: {policies}"
    return labels


def tcp_port(pod: dict) -> int:
    """The pod's first TCP container port (CoreDNS: 53 on kind, 1053 on the host provider)."""
    return next(p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])
                if p.get("protocol", "TCP") == "TCP")


def restarts(pod: dict) -> int:
    return sum(c.get("restartCount", 0) for c in pod["status"].get("containerStatuses", []))


@pytest.fixture(scope="module")
def world():
    """The engine deployed, the targets found, three client pods running; the clients removed after."""
    manifest = subprocess.run([str(REPO / "k8s" / "policy" / "build.sh"), "--manifest"], capture_output=True,
                              text=True, check=True).stdout
    kubectl("apply", "-f", "-", stdin=manifest)
    status = subprocess.run([*kubectl_cmd(), "rollout", "status", "-n", "kube-system",
                             "daemonset/kube-network-policies", "--timeout=180s"],
                            capture_output=True, text=True, timeout=200)
    if status.returncode != 0:
        events = kubectl("get", "events", "-n", "kube-system", "--field-selector",
                         "involvedObject.kind=Pod", check=False)[-1500:]
        pytest.fail(f"the engine did not roll out (is its image loaded? k8s/policy/build.sh --image): "
                    f"{status.stderr.strip()}\n{events}", pytrace=False)

    mongo = pod_with("app.kubernetes.io/component=mongodb")
    head = pod_with("ray.io/node-type=head")
    image = head["spec"]["containers"][0]["image"]
    mongo_port = mongo["spec"]["containers"][0]["ports"][0]["containerPort"]
    before = {p["metadata"]["name"]: restarts(p) for p in (mongo, head)}

    kubectl("create", "namespace", OUTSIDE, check=False)
    chart_labels = admitted_labels(get("networkpolicy", "-n", NAMESPACE, "-l",
                                       f"app.kubernetes.io/instance={RELEASE}")["items"])
    dns = get("pods", "-n", "kube-system", "-l", "k8s-app=kube-dns")["items"]
    clients = [("np-labelled", NAMESPACE, chart_labels), ("np-stranger", NAMESPACE, {}), ("np-outsider", OUTSIDE, {})]
    docs = "\n---\n".join(json.dumps(client_pod(n, ns, labels, image)) for n, ns, labels in clients)
    try:
        kubectl("apply", "-f", "-", stdin=docs)
        for name, ns, _ in clients:
            kubectl("wait", "-n", ns, "--for=condition=Ready", f"pod/{name}", "--timeout=180s", timeout=200)
        yield {"mongo": mongo, "head": head, "mongo_port": mongo_port, "before": before,
               "mongo_ip": mongo["status"]["podIP"], "head_ip": head["status"]["podIP"],
               "dns": (dns[0]["status"]["podIP"], tcp_port(dns[0])) if dns else None}
    finally:
        for name, ns, _ in clients:
            kubectl("delete", "pod", "-n", ns, name, "--wait=false", check=False)
        kubectl("delete", "namespace", OUTSIDE, "--wait=false", check=False)
        if os.environ.get("RAY101_POLICY_UNDEPLOY") == "1":
            kubectl("delete", "-f", "-", "--wait=true", stdin=manifest, check=False)


def test_a_pod_with_the_charts_labels_reaches_mongodb_and_the_ray_head(world):
    assert connect("np-labelled", NAMESPACE, world["mongo_ip"], world["mongo_port"]) == "open"
    for name, port in RAY_PORTS.items():
        assert connect("np-labelled", NAMESPACE, world["head_ip"], port) == "open", name


def test_an_unlabelled_pod_cannot_reach_mongodb(world):
    assert connect("np-stranger", NAMESPACE, world["mongo_ip"], world["mongo_port"]) == "timeout"
    assert connect("np-outsider", OUTSIDE, world["mongo_ip"], world["mongo_port"]) == "timeout"


def test_a_pod_of_another_namespace_cannot_reach_the_ray_head(world):
    for name, port in RAY_PORTS.items():
        assert connect("np-outsider", OUTSIDE, world["head_ip"], port) == "timeout", name


def test_an_unlabelled_pod_of_the_namespace_cannot_reach_the_ray_head(world):
    """The chart's Ray policy admits this release's Ray pods (and its labelled helm test pod), not
    every pod of the namespace: a pod without those labels gets no connection to the head."""
    for name, port in RAY_PORTS.items():
        assert connect("np-stranger", NAMESPACE, world["head_ip"], port) == "timeout", name


def test_the_unlabelled_pods_reach_what_no_policy_guards(world):
    """CoreDNS has no policy: the unlabelled clients connect to it, so their timeouts above are
    the policies' doing and not a client that cannot connect anywhere."""
    if not world["dns"]:
        pytest.skip("no CoreDNS pod (k8s-app=kube-dns) in kube-system")
    assert connect("np-stranger", NAMESPACE, *world["dns"]) == "open"
    assert connect("np-outsider", OUTSIDE, *world["dns"]) == "open"


def test_the_engine_logged_the_drops(world):
    logs = kubectl("logs", "-n", "kube-system", "-l", "app.kubernetes.io/name=kube-network-policies",
                   "--tail=-1", "--prefix")
    assert 'verdict="drop"' in logs and 'verdict="accept"' in logs, logs[-2000:]
    assert '"Packets reach the nfqueue"' in logs, logs[-2000:]


def test_kubelet_probes_keep_passing_under_the_policies(world):
    time.sleep(20)  # a few probe periods with the policies enforced
    for pod in (world["mongo"], world["head"]):
        now = get("pod", "-n", NAMESPACE, pod["metadata"]["name"])
        ready = {c["type"]: c["status"] for c in now["status"]["conditions"]}["Ready"]
        assert ready == "True", now["metadata"]["name"]
        assert restarts(now) == world["before"][pod["metadata"]["name"]], now["metadata"]["name"]
