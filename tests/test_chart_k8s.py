"""k8s/: the kind config, minikube settings, namespace and KubeRay operator values the Makefile uses
with the chart (checked as files: nothing here starts a cluster)."""

import os
import re
import shutil
import subprocess

import pytest
import yaml

from chartlib import K8S_VERSION, KUBERAY_VERSION, REPO, crds_dir, render, validate_builtin

K8S = REPO / "k8s"


def test_should_define_one_control_plane_and_two_pinned_workers_in_the_kind_config():
    config = yaml.safe_load((K8S / "kind-config.yaml").read_text())
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    roles = [n["role"] for n in config["nodes"]]
    assert roles == ["control-plane", "worker", "worker"]
    for node in config["nodes"]:
        assert re.fullmatch(r"kindest/node:v\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?", node["image"])
        assert node["image"].startswith(f"kindest/node:v{K8S_VERSION}")
    # kindnet (with kube-network-policies) enforces the chart's NetworkPolicies.
    assert not config.get("networking", {}).get("disableDefaultCNI", False)


def test_should_enforce_restricted_pod_security_in_the_namespace():
    namespace = yaml.safe_load((K8S / "namespace.yaml").read_text())
    validate_builtin(namespace)
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    assert namespace["metadata"]["name"] == "ray101"  # the Makefile's sed relies on this line


def test_should_install_the_operator_from_its_module_config_watching_our_namespace():
    overlay = yaml.safe_load((K8S / "kuberay-operator" / "kustomization.yaml").read_text())
    assert overlay["namespace"] == "ray101"  # install.sh's sed relies on this line
    assert overlay["resources"] == [f"ray-operator/config/{d}" for d in ("crd", "rbac", "manager")]
    [image] = overlay["images"]
    assert (image["newName"], image["newTag"]) == ("quay.io/kuberay/operator", f"v{KUBERAY_VERSION}")
    [patch] = overlay["patches"]
    assert "--watch-namespace=ray101" in patch["patch"]


def test_should_pin_the_operator_version_in_the_makefile():
    makefile = (REPO / "Makefile").read_text()
    block = makefile.split("# >>> kubernetes targets", 1)[1].split("# <<< kubernetes targets", 1)[0]
    assert f"KUBERAY_VERSION ?= {KUBERAY_VERSION}" in block
    assert "k8s/kuberay-operator/install.sh $(NAMESPACE) $(OPERATOR_IMAGE)" in block
    for target in ("tools", "kuberay-crds", "cluster", "operator", "deploy", "dashboard",
                   "compare-k8s", "undeploy", "clean-cluster", "image", "test-k8s"):
        assert re.search(rf"^{re.escape(target)}:.*## \S", block, re.M), target
        assert re.search(rf"^\.PHONY:.*\b{re.escape(target)}\b", block.replace("\\\n", " "), re.M), target


def make_dry_run(*args: str) -> str:
    """`make -n` of the Kubernetes targets, with helm and kubectl pointed at files that exist (so
    no rule is needed to install them)."""
    true = shutil.which("true") or "/bin/true"
    out = subprocess.run(["make", "-n", "--no-print-directory", *args, f"HELM={true}", f"KUBECTL={true}",
                          "DOCKER=docker"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return out.replace("\\\n", " ")


@pytest.mark.parametrize("machine, tag", [("x86_64", "2.60.0-py311"), ("aarch64", "2.60.0-py311-aarch64"),
                                          ("arm64", "2.60.0-py311-aarch64")])
def test_should_pick_the_ray_image_tag_for_the_machine_architecture(machine, tag):
    """rayproject/ray's unsuffixed tags are amd64-only: an arm64 machine's kind nodes need -aarch64."""
    out = make_dry_run("deploy", "image", f"MACHINE={machine}", "PROVIDER=kind")
    helm = next(line for line in out.splitlines() if "upgrade --install ray101" in line)
    if machine == "x86_64":
        assert "image.tag" not in helm  # the chart's default tag
    else:
        assert f"--set image.tag={tag}" in helm
    assert f"rayproject/ray:{tag} " in out  # the base of `make image`


def test_should_make_the_venv_before_the_targets_that_run_ray101():
    """A fresh checkout's `make deploy` used to fail at the seeding step, after the whole cluster
    setup, because .venv/bin/ray101 did not exist yet."""
    makefile = (REPO / "Makefile").read_text()
    for target in ("deploy", "dashboard", "compare-k8s", "test-k8s"):
        assert re.search(rf"^{re.escape(target)}: venv\b", makefile, re.M), target


def test_should_use_a_networkpolicy_cni_for_minikube():
    settings = (K8S / "minikube.mk").read_text()
    assert re.search(r"^MINIKUBE_CNI \?= calico$", settings, re.M)
    assert re.search(r"^MINIKUBE_NODES \?= 3$", settings, re.M)


def test_should_ask_for_the_kind_release_whose_node_image_is_pinned():
    """The node image in k8s/kind-config.yaml is one kind release's; the docs must ask for it."""
    config = (K8S / "kind-config.yaml").read_text()
    [release] = set(re.findall(r"the kind (v\d+\.\d+\.\d+) build of", config))
    for doc in (REPO / "README.md", REPO / "docs" / "kubernetes.md"):
        assert f"**kind {release}**" in doc.read_text(), doc
    assert re.search(rf"`make cluster` using kind {re.escape(release)}", config)


def test_should_keep_mongodb_on_minikubes_primary_node_when_provider_is_minikube():
    """minikube's hostPath provisioner makes volumes on the primary node only (minikube#12165):
    MongoDB elsewhere on a multi-node cluster crash-loops. make deploy PROVIDER=minikube adds the
    values that pin it there; the Ray pods still spread over every node."""
    helm = next(line for line in make_dry_run("deploy", "PROVIDER=minikube").splitlines()
                if "upgrade --install" in line)
    assert "-f k8s/minikube-values.yaml" in helm
    m = render(str(K8S / "minikube-values.yaml"))
    [mongo] = m.of_kind("StatefulSet")
    assert mongo["spec"]["template"]["spec"]["nodeSelector"] == {"minikube.k8s.io/primary": "true"}
    validate_builtin(mongo)
    for rc in m.of_kind("RayCluster"):
        assert "nodeSelector" not in rc["spec"]["headGroupSpec"]["template"]["spec"]
    for provider in ("kind", "host"):
        helm = next(line for line in make_dry_run("deploy", f"PROVIDER={provider}").splitlines()
                    if "upgrade --install" in line)
        assert "minikube-values" not in helm, provider


def test_should_hand_kuberay_version_to_the_operator_install():
    """KUBERAY_VERSION= used to change only the image tag: install.sh applied the pinned module's
    manifests whatever the version. It is passed on now, and refused unless pinned."""
    out = make_dry_run("operator", "PROVIDER=kind", "KUBERAY_VERSION=1.5.1")
    line = next(line for line in out.splitlines() if "install.sh" in line)
    assert "KUBERAY_VERSION=1.5.1 " in line and line.endswith("quay.io/kuberay/operator:v1.5.1")
    fetch = subprocess.run([str(REPO / "scripts" / "fetch-kuberay.sh")], capture_output=True, text=True,
                           env={**os.environ, "KUBERAY_VERSION": "1.5.1", "GOPROXY": "off"})
    assert fetch.returncode == 2 and fetch.stdout == ""
    [message] = fetch.stderr.splitlines()
    assert "KUBERAY_VERSION=1.5.1 is not pinned" in message


def test_should_describe_what_the_code_does_in_the_kubernetes_docs():
    """The contradictions issue 17 found between docs/kubernetes.md and the code, kept out."""
    docs = (REPO / "docs" / "kubernetes.md").read_text()
    flat = " ".join(docs.split())
    # The operator's memory is what its module's manifests ask for (512Mi), not 256 MiB.
    manager = yaml.safe_load((crds_dir().parents[1] / "manager" / "manager.yaml").read_text())
    [container] = manager["spec"]["template"]["spec"]["containers"]
    limit = container["resources"]["limits"]["memory"]
    [row] = [line for line in docs.splitlines() if line.startswith("| KubeRay operator")]
    assert f"| {limit.removesuffix('Mi')} MiB |" in row and "256" not in row, row
    # make operator makes no Helm release to uninstall.
    assert "uninstall kuberay-operator" not in flat
    assert "helm uninstall" not in (REPO / "README.md").read_text().replace("helm uninstall ray101", "")
    # pymongo goes with the jobs as uploaded modules: no pip runtime_env, no PyPI from the pods.
    connection = (REPO / "cli" / "ray101" / "kube" / "connection.py").read_text()
    assert '"py_modules"' in connection and '"pip"' not in connection
    assert "pip: [pymongo" not in flat and "`pymongo`, `bson`, `gridfs`" in flat
    # A NodePort alone meets the chart's own NetworkPolicy: the docs say so with the advice.
    nodeport = flat.index("serviceType=NodePort")
    assert "networkPolicy.enabled=false" in flat[nodeport - 600:nodeport + 600]
    # One Ray image pull per node: about 4 GB, not 2.
    assert "about 2 GB" not in flat and "about 4 GB of images" in flat
    # After `make image` on arm64 the tag carries -aarch64.
    baked = flat.index("--set image.jobsBaked=true")
    assert "2.60.0-py311-aarch64" in flat[baked:baked + 400]
