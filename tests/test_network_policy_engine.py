"""The NetworkPolicy engine's dataplane on this kernel: the patched kube-network-policies
(k8s/policy/) with real packets between network namespaces, against a fake Kubernetes API.

A "node" namespace holds a bridge (the host provider's layout) with three "pods" on it: a server
(labels app=mongo) listening on 27017 and 8265, an allowed client (ray101/client=true), an
unlabelled one, and a fourth pod routed over its own veth (kind's ptp layout). One NetworkPolicy
selects the server and admits only the labelled client, only on 27017. The engine runs inside the
node namespace with --kubeconfig pointing at tests/fake_policy_api.py (pods, namespaces and the
policy from a JSON file; nothing else is faked: the nftables table, the queue and the verdicts
are the kernel's and the engine's).

Checks: before the engine, everyone connects (so a denial below is the engine's doing); with it,
the labelled client reaches 27017, the unlabelled and the routed pods do not, nobody reaches
8265 from a pod, a root process on the node (as the kubelet's probes) still does; the queue goes
through the xtables NFQUEUE target exactly where the kernel has no nftables `queue`; after
SIGTERM the engine removes its table and traffic flows again. The real-cluster proof is
tests/k8s/test_network_policy.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import needs_netns

REPO = Path(__file__).resolve().parents[1]
TAG = f"knp{os.getpid() % 100000}"
NODE, SRV, OK, BAD, ROUTED = (f"{TAG}{n}" for n in ("node", "srv", "ok", "bad", "rt"))
SUBNET = "10.231.7"
IPS = {SRV: f"{SUBNET}.10", OK: f"{SUBNET}.11", BAD: f"{SUBNET}.12"}
ROUTED_IP, ROUTED_GW = "10.231.8.2", "10.231.8.1"
API_PORT = 16443
TABLE = "kube-network-policies"

pytestmark = needs_netns

SERVER = """
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64)
    while True:
        c, _ = s.accept(); c.sendall(b"hello\\n"); c.close()
for p in sys.argv[1:]:
    threading.Thread(target=serve, args=(int(p),), daemon=True).start()
threading.Event().wait()
"""
CLIENT = """
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    print("ok" if c.recv(16) == b"hello\\n" else "bad answer")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(type(e).__name__)
"""


def sh(*cmd: str, check: bool = True, ns: str | None = None) -> subprocess.CompletedProcess:
    if ns:
        cmd = ("ip", "netns", "exec", ns, *cmd)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"{' '.join(cmd)}: {proc.stderr.strip()}"
    return proc


def connect(ns: str, ip: str, port: int) -> str:
    return sh(sys.executable, "-c", CLIENT, ip, str(port), ns=ns).stdout.strip()


def pod(name: str, ip: str, labels: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "ray101", "uid": name, "labels": labels},
            "spec": {"nodeName": "node1", "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}}


WORLD = {
    "namespaces": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": "ray101", "uid": "ns", "labels": {"kubernetes.io/metadata.name": "ray101"}}}],
    "pods": [pod("mongodb-0", IPS[SRV], {"app": "mongo"}),
             pod("client", IPS[OK], {"ray101/client": "true"}),
             pod("stranger", IPS[BAD], {}),
             pod("routed-stranger", ROUTED_IP, {})],
    "networkpolicies": [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {
        "name": "mongodb", "namespace": "ray101", "uid": "np"}, "spec": {
        "podSelector": {"matchLabels": {"app": "mongo"}}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"ray101/client": "true"}}}],
                     "ports": [{"protocol": "TCP", "port": 27017}]}]}}],
}


def kernel_has_nft_queue() -> bool:
    """What the engine's auto mode must find: does `nft ... queue` work (in a scratch netns)?"""
    probe = f"{TAG}probe"
    sh("ip", "netns", "add", probe)
    try:
        rule = "add table inet p; add chain inet p c; add rule inet p c queue num 1 bypass"
        return sh("nft", rule, ns=probe, check=False).returncode == 0
    finally:
        sh("ip", "netns", "del", probe, check=False)


@pytest.fixture(scope="module", autouse=True)
def host_packages():
    """nft (and the build's umoci) are the host provider's Debian packages: installed when missing."""
    subprocess.run([str(REPO / "k8s" / "host" / "packages.sh")], check=True, timeout=900)


@pytest.fixture(scope="module")
def engine_bin() -> str:
    """The patched build (k8s/policy/build.sh: once, then cached; runs upstream's tests first)."""
    proc = subprocess.run([str(REPO / "k8s" / "policy" / "build.sh")], capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """The namespaces, the bridge, the routed veth, the server and the fake API."""
    tmp = tmp_path_factory.mktemp("knp")
    procs: list[subprocess.Popen] = []
    try:
        for ns in (NODE, SRV, OK, BAD, ROUTED):
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("ip", "link", "add", "br0", "type", "bridge", ns=NODE)
        sh("ip", "addr", "add", f"{SUBNET}.1/24", "dev", "br0", ns=NODE)
        sh("ip", "link", "set", "br0", "up", ns=NODE)
        for ns, ip in IPS.items():
            sh("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", f"v{ns[-3:]}",
               "netns", NODE)
            sh("ip", "link", "set", f"v{ns[-3:]}", "master", "br0", "up", ns=NODE)
            sh("ip", "addr", "add", f"{ip}/24", "dev", "eth0", ns=ns)
            sh("ip", "link", "set", "eth0", "up", ns=ns)
            sh("ip", "route", "add", "default", "via", f"{SUBNET}.1", ns=ns)
        # routed pod: a veth of its own and a /32 route on the node, as kind's ptp CNI
        sh("ip", "link", "add", "eth0", "netns", ROUTED, "type", "veth", "peer", "name", "vrt", "netns", NODE)
        sh("ip", "addr", "add", f"{ROUTED_GW}/32", "dev", "vrt", ns=NODE)
        sh("ip", "link", "set", "vrt", "up", ns=NODE)
        sh("ip", "route", "add", f"{ROUTED_IP}/32", "dev", "vrt", ns=NODE)
        sh("ip", "addr", "add", f"{ROUTED_IP}/32", "dev", "eth0", ns=ROUTED)
        sh("ip", "link", "set", "eth0", "up", ns=ROUTED)
        sh("ip", "route", "add", f"{ROUTED_GW}/32", "dev", "eth0", ns=ROUTED)
        sh("ip", "route", "add", "default", "via", ROUTED_GW, ns=ROUTED)
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=NODE)
        # bridged pod-to-pod traffic through the IP hooks, as on a Kubernetes node
        sh("sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1", ns=NODE)

        procs.append(subprocess.Popen(["ip", "netns", "exec", SRV, sys.executable, "-c", SERVER,
                                       "27017", "8265"]))
        world = tmp / "world.json"
        world.write_text(json.dumps(WORLD))
        procs.append(subprocess.Popen(["ip", "netns", "exec", NODE, sys.executable,
                                       str(REPO / "tests" / "fake_policy_api.py"), str(API_PORT), str(world)]))
        kubeconfig = tmp / "kubeconfig"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{API_PORT}"}}],
            "users": [{"name": "fake", "user": {}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}]}))
        deadline = time.monotonic() + 20
        while connect(OK, IPS[SRV], 27017) != "ok" or sh(
                "python3", "-c", f"import urllib.request; urllib.request.urlopen("
                f"'http://127.0.0.1:{API_PORT}/api/v1/pods')", ns=NODE, check=False).returncode:
            assert time.monotonic() < deadline, "server or fake API did not come up"
            time.sleep(0.2)
        yield {"kubeconfig": kubeconfig, "log": tmp / "engine.log"}
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for ns in (NODE, SRV, OK, BAD, ROUTED):
            sh("ip", "netns", "del", ns, check=False)


def table(ns: str = NODE) -> str:
    return sh("nft", "list", "table", "inet", TABLE, ns=ns, check=False).stdout


def test_policy_enforced_by_the_patched_engine(engine_bin, node):
    # without the engine every pod gets in: what follows is the engine's doing
    for ns in (OK, BAD):
        assert connect(ns, IPS[SRV], 27017) == "ok", ns
        assert connect(ns, IPS[SRV], 8265) == "ok", ns
    assert connect(ROUTED, IPS[SRV], 27017) == "ok"

    log = open(node["log"], "w")
    engine = subprocess.Popen(
        ["ip", "netns", "exec", NODE, engine_bin, f"--kubeconfig={node['kubeconfig']}",
         "--hostname-override=node1", "--nfqueue-id=98", "--metrics-bind-address=127.0.0.1:19080", "--v=2"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while IPS[SRV] not in table():
            assert engine.poll() is None, node["log"].read_text()[-3000:]
            assert time.monotonic() < deadline, "no table with the server's IP:\n" + node["log"].read_text()[-3000:]
            time.sleep(0.2)
        text = node["log"].read_text()
        via = "nft" if kernel_has_nft_queue() else "xt"
        assert f'"Packets reach the nfqueue" via="{via}"' in text, text[-3000:]
        # nft prints the xtables target as "queue num 98", its own expression as "queue to 98"
        assert ("queue num 98" if via == "xt" else "queue to 98") in table(), table()

        assert connect(OK, IPS[SRV], 27017) == "ok"            # admitted by the policy
        assert connect(BAD, IPS[SRV], 27017) == "timeout"      # no label: dropped
        assert connect(ROUTED, IPS[SRV], 27017) == "timeout"   # no label, routed path: dropped
        assert connect(OK, IPS[SRV], 8265) == "timeout"        # a port the policy does not open
        assert connect(NODE, IPS[SRV], 8265) == "ok"           # root on the node (kubelet probes)
        text = node["log"].read_text()
        assert 'verdict="drop"' in text and 'verdict="accept"' in text, text[-3000:]
    finally:
        engine.send_signal(signal.SIGTERM)  # as the kubelet stops the pod
        try:
            engine.wait(timeout=20)
        except subprocess.TimeoutExpired:
            engine.kill()
            engine.wait()
        log.close()
    assert engine.returncode == 0, node["log"].read_text()[-3000:]
    assert table() == "", "the engine left its table behind after SIGTERM"
    assert connect(BAD, IPS[SRV], 27017) == "ok"  # nothing left that drops
