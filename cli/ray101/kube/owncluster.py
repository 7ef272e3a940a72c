"""``--via rayjob-cluster``: a KubeRay RayJob that brings up a RayCluster of its own
(``spec.rayClusterSpec``: a copy of the named running cluster's spec, so the same image,
resources, security context, authOptions Secret and pod labels the chart's NetworkPolicies
admit), made by KubeRay for the job and deleted after it: time to result includes the cluster's
start. ``shutdownAfterJobFinishes`` with ``ttlSecondsAfterFinished`` keeps the finished
cluster long enough for ray101 to read the log and result from its head (through a port-forward
to the pod of ``status.rayClusterName``); ray101 then deletes the RayJob, and with it the
cluster, and waits until the cluster is gone. ``preRunningDeadlineSeconds`` is a backstop for a
ray101 killed before its job started: KubeRay fails the RayJob then and deletes its cluster.
Autoscaling is not copied (see :func:`own_cluster_spec`).
The submission mode depends on the image: with the jobs baked in, ``HTTPMode`` (the operator
submits, as on the running cluster); with the stock image the jobs' packages must be uploaded to
the NEW head, which only exists once KubeRay has made it, before the job starts, so
``InteractiveMode`` (KubeRay's mode for a client that submits itself, as ``kubectl ray job
submit`` does): KubeRay makes the cluster and waits (``Waiting``); ray101 uploads and submits
through the new head's Jobs API with its own submission id, then sets ``spec.jobId`` and
KubeRay follows the job from there. No secret goes into the RayJob either way.
"""

from __future__ import annotations

import copy
import time

from ray101.head.client import HeadClient
from ray101.head.jobs import TERMINAL, JobsAPI
from ray101.kube.client import Kube
from ray101.kube.portforward import Forwarder, PodStream
from ray101.kube.rayjob import (
    DEPLOYMENT_DONE,
    VIA_RAYJOB_CLUSTER,
    RayJobSubmitter,
    manifest,
    rayjob_name,
)
from ray101.models import Connection

# How long KubeRay keeps a finished RayJob's own cluster: ray101 reads the log and the result
# within it (one poll after KubeRay's, which asks every 3 s), then deletes the RayJob itself.
TTL_AFTER_FINISHED_S = 60
GONE_WAIT_S = 90.0  # how long ray101 waits for a deleted RayJob's own cluster to be gone
CLUSTER_READY = "ready"  # RayCluster status.state once every pod is ready
ORIGIN_LABEL = "ray.io/originated-from-cr-name"  # KubeRay's label on a RayJob's own RayCluster


def own_cluster_spec(raycluster: dict) -> dict:
    """The ``rayClusterSpec`` of a RayJob's own cluster: a copy of the running ``raycluster``'s
    spec (image, resources, security context, ``authOptions`` naming the same Secret, the pod
    templates' labels that the chart's NetworkPolicies select on)."""
    spec = copy.deepcopy(raycluster.get("spec") or {})
    # No autoscaling: a cluster made for one job and deleted after it has nothing to scale, and
    # its autoscaler (a sidecar on the head, with RBAC KubeRay would make for it) would add
    # workers mid-job that the shutdown removes anyway. Each worker group is fixed at its
    # minimum instead (k8s-auto: a head alone; k8s-multi: its 2 workers).
    spec["enableInTreeAutoscaling"] = False
    spec.pop("autoscalerOptions", None)
    spec.pop("suspend", None)  # the running cluster's state and manager, not this one's
    spec.pop("managedBy", None)
    # How `helm upgrade` replaces the chart's pods: KubeRay v1.6.0 refuses a RayJob's cluster
    # that sets it ("upgradeStrategy cannot be set when RayCluster is created by RayJob").
    spec.pop("upgradeStrategy", None)
    for group in spec.get("workerGroupSpecs") or []:
        size = int(group.get("minReplicas", group.get("replicas", 0)) or 0)
        group["replicas"] = group["minReplicas"] = size
        group["maxReplicas"] = max(size, int(group.get("maxReplicas", size) or 0))
        group.pop("scaleStrategy", None)
    return spec


def own_manifest(name: str, namespace: str, key: str, entrypoint: str, job_id: str,
                 metadata: dict, runtime_env_yaml: str | None, cluster_spec: dict,
                 interactive: bool, pre_running_s: int) -> dict:
    """The RayJob of ``--via rayjob-cluster``: its own cluster, shut down after the job; no
    secret in it. ``interactive``: ray101 submits to the new head itself and sets
    ``spec.jobId`` then (InteractiveMode), else the operator submits (HTTPMode)."""
    body = manifest(name, namespace, "", key, entrypoint, job_id, metadata, runtime_env_yaml)
    spec = body["spec"]
    del spec["clusterSelector"]
    spec.update({
        "rayClusterSpec": cluster_spec,
        "shutdownAfterJobFinishes": True,
        "ttlSecondsAfterFinished": TTL_AFTER_FINISHED_S,
        # a ray101 killed before the job started leaves no cluster waiting forever: KubeRay
        # fails the RayJob past this, and the shutdown deletes its cluster
        "preRunningDeadlineSeconds": pre_running_s,
    })
    if interactive:
        spec["submissionMode"] = "InteractiveMode"
        del spec["jobId"]  # set once ray101 has submitted the job: KubeRay follows it from then
    return body


class OwnClusterSubmitter(RayJobSubmitter):
    """``--via rayjob-cluster``: each job's RayJob brings up a RayCluster of its own, shaped like
    the running one (:func:`own_cluster_spec`); its status, log and result are read from that
    cluster's head through a port-forward opened once KubeRay reports it ready, and the RayJob
    (so its cluster) is deleted once they are read, also on Ctrl-C or failure."""

    via = VIA_RAYJOB_CLUSTER

    def __init__(self, conn: Connection, kube: Kube | None = None):
        from ray101.kube.readiness import ready_timeout

        super().__init__(conn, kube)
        self.spec = own_cluster_spec(self.kube.get_raycluster(self.raycluster))
        self.pre_running_s = int(ready_timeout()) + 60
        self.dashboard = conn.target.kube.dashboard_port if conn.target.kube else 8265
        self.starts: dict[str, dict] = {}  # job id -> what its own cluster did, for the record
        self.pending: dict[str, tuple[str, dict, dict]] = {}  # InteractiveMode: what to submit
        self.created: dict[str, float] = {}
        self.forward: Forwarder | None = None
        self.head_for: str | None = None  # the job whose cluster's head self._client reaches
        self.base: HeadClient | None = None  # the running cluster's head client, kept aside

    def submit_entrypoint(self, entrypoint: str, job_id: str, metadata: dict | None = None,
                          runtime_env: dict | None = None) -> str:
        metadata = metadata or {}
        name = rayjob_name(str(metadata.get("workload") or "job"), job_id)
        self.names[job_id] = name
        interactive = bool(runtime_env)  # packages to upload to the new head: ray101 submits
        body = own_manifest(name, self.kube.namespace, self.key, entrypoint, job_id, metadata,
                            None, self.spec, interactive, self.pre_running_s)
        self.starts[job_id] = {"rayjob": name, "raycluster": None,
                               "submission_mode": body["spec"]["submissionMode"],
                               "cluster_ready_s": None, "cluster_ready_kuberay_s": None,
                               "job_running_s": None, "head_pending": None,
                               "cluster_gone_s": None}
        if interactive:
            self.pending[job_id] = (entrypoint, metadata, runtime_env or {})
        self.created[job_id] = time.monotonic()
        return self.create(body, job_id)

    def facts(self, job_id: str) -> dict:
        return {"own_cluster": self.starts.get(job_id)}

    # -- the new cluster, as the RayJob reports it ------------------------------------------------
    def seen(self, job_id: str, rayjob: dict) -> None:
        facts = self.starts[job_id]
        since = round(time.monotonic() - self.created[job_id], 1)
        status = rayjob.get("status") or {}
        deployment = status.get("jobDeploymentStatus") or "New"
        cluster = status.get("rayClusterName") or None
        facts["raycluster"] = cluster or facts["raycluster"]
        cluster_status = status.get("rayClusterStatus") or {}
        # KubeRay submits (HTTPMode) or waits for ray101 (Waiting) only once its cluster is ready
        ready = (cluster_status.get("state") == CLUSTER_READY
                 or deployment in ("Waiting", "Running")
                 or (deployment in DEPLOYMENT_DONE and bool(status.get("jobStatus"))))
        if ready and facts["cluster_ready_s"] is None:
            facts["cluster_ready_s"] = since
        if status.get("jobStatus") in ({"RUNNING"} | TERMINAL) and facts["job_running_s"] is None:
            facts["job_running_s"] = since
        ready_at = (cluster_status.get("stateTransitionTimes") or {}).get(CLUSTER_READY)
        if ready_at and status.get("startTime"):  # KubeRay's own clock: whole seconds
            facts["cluster_ready_kuberay_s"] = _seconds_between(status["startTime"], ready_at)
        if not ready and cluster:
            facts["head_pending"] = self.head_unschedulable(cluster) or facts["head_pending"]
        if ready and cluster and self.head_for != job_id:
            self.reach_head(job_id, cluster)
        if job_id in self.pending and deployment == "Waiting" and self.head_for == job_id:
            self.submit_now(job_id)

    def head_pods(self, cluster: str) -> list[dict]:
        return [p for p in self.kube.list_pods(cluster)
                if (p["metadata"].get("labels") or {}).get("ray.io/node-type") == "head"
                and not p["metadata"].get("deletionTimestamp")]

    def head_unschedulable(self, cluster: str) -> str | None:
        from ray101.kube.readiness import unschedulable

        for pod in self.head_pods(cluster):
            reason = unschedulable(pod)
            if reason:
                return f"head pod {pod['metadata']['name']} Pending: {reason}"
        return None

    def reach_head(self, job_id: str, cluster: str) -> None:
        """Port-forward to the head of ``cluster`` (the job's own) and talk to it from now on."""
        pods = self.head_pods(cluster)
        if not pods:
            return
        pod = pods[0]["metadata"]["name"]
        self.close_forward()
        kube = self.kube
        self.forward = Forwarder(lambda port: PodStream(kube, pod, port), [self.dashboard],
                                 f"port-forward to pod {kube.namespace}/{pod} in context "
                                 f"{kube.context}")
        if self.head_for is None:
            self.base = self._client
        client = HeadClient(f"http://127.0.0.1:{self.forward.local[self.dashboard]}",
                            self.conn.token, cluster=f"{self.conn.target.name} ({cluster})")
        client.on_retry = self.base.on_retry if self.base is not None else None
        self._client, self.head_for = client, job_id

    def submit_now(self, job_id: str) -> None:
        """InteractiveMode: upload the packages to the new head and submit there (as the Jobs
        API path does), then tell KubeRay which job to follow (``spec.jobId``)."""
        from ray101.kube.client import API_TIMEOUT, GROUP, RAYJOBS, VERSION

        entrypoint, metadata, runtime_env = self.pending.pop(job_id)
        JobsAPI.submit_entrypoint(self, entrypoint, job_id, metadata, runtime_env)
        kube, name = self.kube, self.name(job_id)
        kube.call(lambda: kube.custom.patch_namespaced_custom_object(
            GROUP, VERSION, kube.namespace, RAYJOBS, name, {"spec": {"jobId": job_id}},
            _request_timeout=API_TIMEOUT), f"set spec.jobId of RayJob {kube.namespace}/{name}")

    def logs(self, job_id: str) -> str:
        """Empty until the job's own head is reached."""
        return super().logs(job_id) if self.head_for == job_id else ""

    # -- clean up: the RayJob, its cluster, the port-forward ------------------------------------
    def close_forward(self) -> None:
        if self.forward is not None:
            self.forward.close()
            self.forward = None

    def clean_up(self, job_id: str, wait: bool = False) -> bool:
        """Delete the RayJob (its cluster goes with it: KubeRay made it the owner) and, after a
        job that ended, wait until the cluster is gone, so the next job finds the node free."""
        self.pending.pop(job_id, None)
        if self.head_for == job_id:
            self.close_forward()
            self._client, self.head_for = self.base, None
        deleted = super().clean_up(job_id)
        if not (deleted and wait):
            return deleted
        started, end = time.monotonic(), time.monotonic() + GONE_WAIT_S
        while self.own_clusters(job_id):
            if time.monotonic() > end:
                self.on_cleanup_error(
                    f"the RayCluster of {self.where(job_id)} is still there {GONE_WAIT_S:g} s "
                    f"after its RayJob was deleted: `kubectl -n {self.kube.namespace} get "
                    f"rayclusters -l {ORIGIN_LABEL}={self.name(job_id)}`")
                return False
            time.sleep(1.0)
        if job_id in self.starts:
            self.starts[job_id]["cluster_gone_s"] = round(time.monotonic() - started, 1)
        return True

    def own_clusters(self, job_id: str) -> list[str]:
        """The RayClusters KubeRay made for this job's RayJob (by its origin label)."""
        from ray101.kube.client import API_TIMEOUT, GROUP, PLURAL, VERSION

        kube, selector = self.kube, f"{ORIGIN_LABEL}={self.name(job_id)}"
        data = kube.call(lambda: kube.custom.list_namespaced_custom_object(
            GROUP, VERSION, kube.namespace, PLURAL, label_selector=selector,
            _request_timeout=API_TIMEOUT), f"list RayClusters of {self.where(job_id)}")
        return [o["metadata"]["name"] for o in (data or {}).get("items") or []]


def _seconds_between(start: str, end: str) -> float | None:
    from datetime import datetime

    try:
        a, b = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (start, end))
    except ValueError:
        return None
    return round((b - a).total_seconds(), 1)
