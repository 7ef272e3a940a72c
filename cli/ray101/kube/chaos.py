"""The Kubernetes side of ``ray101 chaos``: delete one worker pod; KubeRay starts a replacement."""

from __future__ import annotations

import random

from ray101.errors import Ray101Error
from ray101.kube.client import API_TIMEOUT, client
from ray101.kube.discovery import node_type, raycluster_name
from ray101.models import K8S, Target


def kill_worker(target: Target, pod: str | None = None) -> str:
    """Delete one worker pod of ``target``'s RayCluster (``pod``, else a random one); never the
    head. Returns the deleted pod's name; KubeRay starts a replacement."""
    if target.kind != K8S:
        raise Ray101Error(f"killing a worker pod needs a KubeRay cluster (k8s-*), not {target.name}")
    kube = client()
    name = raycluster_name(target)
    where = f"RayCluster {kube.namespace}/{name} in context {kube.context}"
    pods = kube.list_pods(name)
    by_name = {p["metadata"]["name"]: p for p in pods}
    if pod is not None:
        chosen = by_name.get(pod)
        if chosen is None:
            names = ", ".join(sorted(by_name)) or "none"
            raise Ray101Error(f"pod {pod} is not part of {where} (its pods: {names})")
        if node_type(chosen) == "head":
            raise Ray101Error(f"pod {pod} is the head of {where}: only worker pods can be killed")
    else:
        workers = [p for p in pods if node_type(p) == "worker"
                   and not p["metadata"].get("deletionTimestamp")]
        if not workers:
            raise Ray101Error(f"{where} has no worker pod to kill ({target.name} has "
                              f"{len(pods)} pod(s), none a live worker)")
        chosen = random.choice(workers)
        pod = chosen["metadata"]["name"]
    kube.call(lambda: kube.core.delete_namespaced_pod(pod, kube.namespace,
                                                      _request_timeout=API_TIMEOUT),
              f"delete pod {kube.namespace}/{pod}",
              missing=f"pod {kube.namespace}/{pod} (context {kube.context}) is already gone")
    return pod
