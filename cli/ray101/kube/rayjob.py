"""KubeRay RayJobs: the second way to submit a workload to a running KubeRay cluster.

``ray101 run ... --via rayjob`` creates a RayJob (``ray.io/v1``) whose ``clusterSelector`` names
the running RayCluster (KubeRay's label ``ray.io/cluster``), with the entrypoint, metadata and
runtime_env the Jobs API path submits (packages uploaded first, so the RayJob carries only their
``gcs://`` URIs) and ``spec.jobId`` set to ray101's submission id: the Ray job is the one ray101
follows and finds in the dashboard under its name.

``submissionMode: HTTPMode``: the operator submits the job to the head's Jobs API itself, with the
token it reads from the RayCluster's ``authOptions.secretName`` (as it does to query the job), so
no token goes into the RayJob and no submitter pod is made. KubeRay's default, ``K8sJobMode``,
would start a pod running ``ray job submit`` (500m CPU, not Pod Security "restricted" unless
given a template) and, with a ``clusterSelector``, drops the job's metadata, so the dashboard
would show no name.

The wait reads the RayJob's status (``jobDeploymentStatus``, ``jobStatus``) through the
Kubernetes API; the result (the log's ``RAY101_RESULT`` line, the driver's exit code) is read from
the dashboard by ``status.jobId``, as on the Jobs API path. The RayJob is deleted once the job has
ended or been stopped (the Ray job stays in the dashboard, as on the Jobs API path).

``--via rayjob-cluster`` gives the RayJob a RayCluster of its own: ``ray101.kube.owncluster``.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable

from ray101.errors import Ray101Error
from ray101.head.jobs import TERMINAL, JobInfo, JobOutcome, JobsAPI, OnStatus, slug
from ray101.kube.client import Kube, client
from ray101.models import Connection

VIA_JOBS_API = "jobs-api"
VIA_RAYJOB = "rayjob"
VIA_RAYJOB_CLUSTER = "rayjob-cluster"
VIAS = (VIA_JOBS_API, VIA_RAYJOB, VIA_RAYJOB_CLUSTER)
# jobDeploymentStatus values after which KubeRay does nothing more for a RayJob.
DEPLOYMENT_DONE = {"Complete", "Failed", "ValidationFailed"}
MAX_NAME = 47  # KubeRay's longest RayJob name (MaxRayJobNameLength), a DNS-1035 label
JOB_ID_ANNOTATION = "ray101.io/job-id"


def rayjob_name(workload: str, job_id: str) -> str:
    """A RayJob name: ``ray101-<workload>-<10 hex of the job id>`` (unique per job id, at most
    47 characters, starting with a letter)."""
    digest = hashlib.sha256(job_id.encode()).hexdigest()[:10]
    return f"ray101-{slug(workload)[:MAX_NAME - 18].strip('-')}-{digest}"


def manifest(name: str, namespace: str, raycluster: str, key: str, entrypoint: str,
             job_id: str, metadata: dict, runtime_env_yaml: str | None) -> dict:
    """The RayJob ray101 creates: no secret in it (the operator reads the cluster's Secret)."""
    spec: dict = {
        "entrypoint": entrypoint,
        "jobId": job_id,
        "submissionMode": "HTTPMode",
        "clusterSelector": {"ray.io/cluster": raycluster},
        "metadata": {k: str(v) for k, v in metadata.items()},
    }
    if runtime_env_yaml:
        spec["runtimeEnvYAML"] = runtime_env_yaml
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "ray101", "ray101.io/cluster": key},
            "annotations": {JOB_ID_ANNOTATION: job_id},
        },
        "spec": spec,
    }


class RayJobSubmitter(JobsAPI):
    """The Jobs API's follow loop, fed by RayJobs: submitting creates a RayJob, a job's status
    is its RayJob's, its log and result come from the dashboard, and it ends by deleting the
    RayJob. ``conn`` is the cluster's connection (port-forward and token, for uploads and logs)."""

    via = VIA_RAYJOB

    def __init__(self, conn: Connection, kube: Kube | None = None):
        super().__init__(conn)
        info = conn.target.kube
        if info is None:
            raise Ray101Error(f"--via {self.via} needs a KubeRay cluster (k8s-*), not "
                              f"{conn.target.name}")
        self.kube = kube or client()
        self.raycluster, self.key = info.raycluster, info.key
        self.names: dict[str, str] = {}  # job id -> RayJob name
        self.on_cleanup_error: Callable[[str], None] = lambda line: print(
            f"ray101: {line}", file=sys.stderr)

    def name(self, job_id: str) -> str:
        if job_id not in self.names:
            raise Ray101Error(f"job {job_id} was not submitted as a RayJob by this command")
        return self.names[job_id]

    def where(self, job_id: str) -> str:
        return f"RayJob {self.kube.namespace}/{self.name(job_id)}"

    # -- submit --------------------------------------------------------------------------------
    def submit_entrypoint(self, entrypoint: str, job_id: str, metadata: dict | None = None,
                          runtime_env: dict | None = None) -> str:
        import yaml

        metadata = metadata or {}
        name = rayjob_name(str(metadata.get("workload") or "job"), job_id)
        self.names[job_id] = name
        env_yaml = None
        if runtime_env:  # the same packages as the Jobs API path, uploaded through the head
            env_yaml = yaml.safe_dump(self.client.upload(runtime_env), sort_keys=True)
        body = manifest(name, self.kube.namespace, self.raycluster, self.key, entrypoint,
                        job_id, metadata, env_yaml)
        return self.create(body, job_id)

    def create(self, body: dict, job_id: str) -> str:
        """Create the RayJob ``body``; one already there for the same job id counts as created
        (a retry after a lost answer). Interrupted mid-call, it is deleted again."""
        name = body["metadata"]["name"]
        try:
            self.kube.create_rayjob(body)
        except Ray101Error as exc:
            existing = self.kube.get_rayjob(name) if "HTTP 409" in exc.message else None
            annotations = ((existing or {}).get("metadata") or {}).get("annotations") or {}
            if annotations.get(JOB_ID_ANNOTATION) != job_id:
                raise
        except KeyboardInterrupt:
            self.clean_up(job_id)
            raise
        return job_id

    # -- status, through the RayJob ------------------------------------------------------------
    def info(self, job_id: str) -> JobInfo:
        rayjob = self.kube.get_rayjob(self.name(job_id))
        if rayjob is None:  # deleted (stopped by ray101 or by someone): the Ray job's own word
            try:
                return super().info(job_id)
            except Ray101Error:
                return JobInfo(job_id=None, submission_id=job_id, status="STOPPED",
                               message=f"{self.where(job_id)} was deleted before its job started")
        self.seen(job_id, rayjob)
        status = rayjob.get("status") or {}
        deployment = status.get("jobDeploymentStatus") or "New"
        job_status = status.get("jobStatus") or ""
        message = status.get("message") or status.get("reason") or None
        if deployment not in DEPLOYMENT_DONE:
            shown = f"{job_status or 'PENDING'} (RayJob {deployment})"
            return JobInfo(job_id=None, submission_id=job_id, status=shown, message=message)
        if job_status not in TERMINAL:  # ValidationFailed, or failed before the job ran
            return JobInfo(job_id=None, submission_id=job_id, status="FAILED",
                           message=f"{self.where(job_id)} {deployment}: {message or 'no message'}")
        try:  # the driver's exit code and Ray's message, as on the Jobs API path
            ray = super().info(job_id)
        except Ray101Error:
            return JobInfo(job_id=None, submission_id=job_id, status=job_status, message=message)
        return JobInfo(job_id=ray.job_id, submission_id=job_id, status=job_status,
                       entrypoint=ray.entrypoint, message=ray.message or message,
                       metadata=ray.metadata, driver_exit_code=ray.driver_exit_code,
                       start_time=ray.start_time, end_time=ray.end_time)

    def seen(self, job_id: str, rayjob: dict) -> None:
        """What the RayJob said on this poll (``OwnClusterSubmitter`` acts on it)."""

    def logs(self, job_id: str) -> str:
        """The job's log from the dashboard; empty until the operator has submitted it."""
        try:
            return super().logs(job_id)
        except Ray101Error as exc:
            if "no such job" in exc.message:
                return ""
            raise

    # -- stop and clean up ---------------------------------------------------------------------
    def stop(self, job_id: str) -> bool:
        """Stop the Ray job through the Jobs API if the operator has submitted it, and delete
        the RayJob: its finalizer stops the job too, and a RayJob not yet submitted never will
        be."""
        rayjob = self.kube.get_rayjob(self.name(job_id)) or {}
        stopped = False
        if (rayjob.get("status") or {}).get("jobStatus"):
            try:
                stopped = super().stop(job_id)
            except Ray101Error:
                pass
        return self.kube.delete_rayjob(self.name(job_id)) or stopped

    def follow(self, job_id: str, on_log: Callable[[str], None] | None = None,
               timeout: float | None = None, started: float | None = None,
               on_status: OnStatus | None = None) -> JobOutcome:
        """Follow the job through its RayJob to the end (as the Jobs API path), then delete the
        RayJob, also when interrupted."""
        ended = False
        try:
            outcome = super().follow(job_id, on_log, timeout, started, on_status)
            ended = True
            return outcome
        finally:
            self.clean_up(job_id, wait=ended)

    def clean_up(self, job_id: str, wait: bool = False) -> bool:
        """Delete the RayJob; False (and a line saying how to) when that failed. ``wait``: the
        job ended normally, so there is time to wait for what the RayJob owned to go."""
        try:
            self.kube.delete_rayjob(self.name(job_id))
            return True
        except Ray101Error as exc:
            self.on_cleanup_error(f"could not delete {self.where(job_id)} ({exc.message}); "
                                  f"`kubectl -n {self.kube.namespace} delete rayjob "
                                  f"{self.name(job_id)}`")
            return False
