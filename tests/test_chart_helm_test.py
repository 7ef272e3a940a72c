"""helm/ray101 templates/tests/jobs-api.yaml: the pods `helm test <release>` runs, one per
RayCluster, each sending one small job through the cluster's Jobs API with the release's token
(files/helm-test.py). Rendered and checked offline; the script itself runs here against the real
local-multi head of the test lab, and on a real cluster in tests/k8s/test_real_cluster.py."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest
import yaml

from chartlib import (
    CHART,
    NAMESPACE,
    RELEASE,
    VALUES_FILES,
    render,
    restricted_violations,
    selector_matches,
    validate_builtin,
)

SCRIPT = CHART / "files" / "helm-test.py"


def hook_pods(m) -> dict[str, dict]:
    """The helm test pods, keyed by the RayCluster they test."""
    pods = [o for o in m.of_kind("Pod") if o["metadata"]["annotations"].get("helm.sh/hook") == "test"]
    return {p["metadata"]["name"].removesuffix("-helm-test"): p for p in pods}




def env_of(pod: dict) -> dict[str, dict]:
    [container] = pod["spec"]["containers"]
    return {e["name"]: e for e in container["env"]}


def nodes(rc: dict) -> int:
    return 1 + sum(g["replicas"] for g in rc["spec"].get("workerGroupSpecs", []))


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_render_one_test_hook_per_raycluster_when_values_file_is_used(values):
    m = render(values)
    pods = hook_pods(m)
    clusters = {rc["metadata"]["name"]: rc for rc in m.of_kind("RayCluster")}
    assert pods and set(pods) == set(clusters)
    for name, pod in pods.items():
        rc = clusters[name]
        [head] = rc["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
        dashboard = {p["name"]: p["containerPort"] for p in head["ports"]}["dashboard"]
        env = env_of(pod)
        # KubeRay names the head Service <raycluster>-head-svc and gives it the head's ports.
        assert env["RAY101_HEAD_URL"]["value"] == f"http://{name}-head-svc.{NAMESPACE}.svc:{dashboard}"
        assert env["RAY101_EXPECT_NODES"]["value"] == str(nodes(rc))
        assert pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == \
            "before-hook-creation,hook-succeeded"
        assert pod["spec"]["restartPolicy"] == "Never"
        validate_builtin(pod)


def test_should_run_the_charts_script_verbatim_when_defaults():
    for pod in hook_pods(render()).values():
        [container] = pod["spec"]["containers"]
        assert container["command"] == ["python", "-c", SCRIPT.read_text()]
        assert container["image"] == "rayproject/ray:2.60.0-py311"


@pytest.mark.parametrize("values, secret", [(None, f"{RELEASE}-ray-auth"),
                                            ("existing-secrets.yaml", "lab-ray-token")])
def test_should_take_the_token_from_the_secret_kuberay_reads_when_auth_is(values, secret):
    m = render(values)
    clusters = {rc["metadata"]["name"]: rc for rc in m.of_kind("RayCluster")}
    for name, pod in hook_pods(m).items():
        token = env_of(pod)["RAY_AUTH_TOKEN"]
        assert set(token) == {"name", "valueFrom"}, token  # no literal value
        assert token["valueFrom"] == {"secretKeyRef": {"name": secret, "key": "auth_token"}}
        assert clusters[name]["spec"]["authOptions"]["secretName"] == secret


def test_should_keep_the_token_out_of_the_pod_spec_when_defaults():
    m = render()
    token = base64.b64decode(m.one("Secret", f"{RELEASE}-ray-auth")["data"]["auth_token"]).decode()
    for pod in hook_pods(m).values():
        text = yaml.safe_dump(pod)
        assert token not in text
        [container] = pod["spec"]["containers"]
        assert "RAY_AUTH_TOKEN" not in " ".join(container["command"][:2])


def test_should_send_no_token_when_auth_is_disabled():
    for pod in hook_pods(render(None, "auth.enabled=false")).values():
        assert "RAY_AUTH_TOKEN" not in env_of(pod)


@pytest.mark.parametrize("values", VALUES_FILES)
def test_should_meet_restricted_pod_security_when_values_file_is_used(values):
    for name, pod in hook_pods(render(values)).items():
        spec = pod["spec"]
        assert restricted_violations(spec) == [], name
        assert restricted_violations(spec, container_only=True) == [], name
        assert spec["automountServiceAccountToken"] is False
        [container] = spec["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        r = container["resources"]
        assert r["requests"] == r["limits"]


def test_should_be_let_in_by_the_ray_networkpolicy_when_defaults():
    """The Ray pods' NetworkPolicy admits Jobs API clients of the release by their
    ray101.io/jobs-client label (same namespace): the test pod's labels must match one of its
    `from` peers, or the request to the head would hang."""
    m = render()
    policy = m.one("NetworkPolicy", f"{RELEASE}-ray")
    peers = [p["podSelector"] for rule in policy["spec"]["ingress"] for p in rule["from"]
             if set(p) == {"podSelector"}]
    for name, pod in hook_pods(m).items():
        labels = pod["metadata"]["labels"]
        assert any(selector_matches(peer, labels) for peer in peers), name
        assert labels["ray101.io/jobs-client"] == "true"
        assert pod["metadata"]["namespace"] == policy["metadata"]["namespace"]
        # not mistaken for a Ray pod by the CLI (it finds those by ray101.io/cluster)
        assert "ray101.io/cluster" not in labels


def test_should_render_no_test_pods_when_helmTest_is_disabled():
    assert hook_pods(render(None, "helmTest.enabled=false")) == {}


def test_should_follow_the_dashboard_port_when_headPorts_dashboard_is_set():
    for pod in hook_pods(render(None, "clusterDefaults.headPorts.dashboard=18265")).values():
        assert env_of(pod)["RAY101_HEAD_URL"]["value"].endswith(":18265")


# --- files/helm-test.py itself ----------------------------------------------------------------


def run_script(env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ["PATH"], **env}
    return subprocess.run([sys.executable, "-c", SCRIPT.read_text()], env=clean,
                          capture_output=True, text=True, timeout=timeout)


def test_should_exit_2_in_one_line_when_the_environment_is_incomplete():
    proc = run_script({"RAY101_HEAD_URL": "http://127.0.0.1:9"})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["helm test: bad environment: 'RAY101_EXPECT_NODES'"]


def test_should_fail_in_one_line_when_the_head_never_answers():
    proc = run_script({"RAY101_HEAD_URL": "http://127.0.0.1:9", "RAY101_EXPECT_NODES": "1",
                       "RAY101_TIMEOUT_S": "0"})
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("helm test FAILED: http://127.0.0.1:9 did not answer")


def local_multi(lab) -> dict:
    rows = json.loads(lab.cli("clusters", "--json", "--no-k8s", check=True).stdout)
    return next(r for r in rows if r["name"] == "local-multi")


def test_should_pass_against_a_real_head_with_its_token(lab):
    row = local_multi(lab)
    proc = run_script({"RAY101_HEAD_URL": row["jobs_url"], "RAY101_EXPECT_NODES": str(row["nodes"]),
                       "RAY_AUTH_TOKEN": lab.token(), "RAY101_TIMEOUT_S": "240"})
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr
    assert f"ray101-helm-test nodes={row['nodes']} answer=42" in proc.stdout
    assert "without the token: HTTP 401" in proc.stdout or "without the token: HTTP 403" in proc.stdout
    assert proc.stdout.rstrip().endswith("helm test passed")
    assert lab.token() not in proc.stdout + proc.stderr


def test_should_fail_in_one_line_without_echoing_a_wrong_token(lab):
    wrong = "x" * 48
    row = local_multi(lab)
    proc = run_script({"RAY101_HEAD_URL": row["jobs_url"], "RAY101_EXPECT_NODES": str(row["nodes"]),
                       "RAY_AUTH_TOKEN": wrong, "RAY101_TIMEOUT_S": "30"})
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert "refused the token" in line, line
    assert wrong not in proc.stdout + proc.stderr
