"""KubeRay clusters as ray101 targets: find them, wait for them, reach them.

The chart's RayClusters (label ``app.kubernetes.io/part-of=ray101``) in the current kube context
and namespace become targets named ``k8s-<key>`` (key from label ``ray101.io/cluster``).
``connect`` waits until a cluster is ready, reads its auth token from the Secret KubeRay uses,
and opens an in-process port-forward to the head pod (dashboard/Jobs API 8265, Serve 8000) on
free ports of 127.0.0.1, closed when the ``with`` block ends.

Namespace: ``RAY101_NAMESPACE``, else the kube context's namespace, else ``ray101`` (the
Makefile's). Readiness timeout: ``RAY101_K8S_READY_TIMEOUT`` seconds (default 300).
The token is never printed, logged or stored: ``Target.token_file`` names the Secret instead.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import random
import re
import select
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

from ray101.errors import Ray101Error
from ray101.targets import K8S, Connection, Target

GROUP, VERSION, PLURAL = "ray.io", "v1", "rayclusters"
PART_OF_SELECTOR = "app.kubernetes.io/part-of=ray101"
CLUSTER_LABEL = "ray101.io/cluster"
JOBS_IN_IMAGE = "ray101.io/jobs-in-image"
DASHBOARD_PORT = 8265
SERVE_PORT = 8000
DEFAULT_NAMESPACE = "ray101"
READY_TIMEOUT_ENV = "RAY101_K8S_READY_TIMEOUT"
READY_TIMEOUT_S = 300.0
NO_STATUS_S = 30.0  # a RayCluster without any status this long means no operator reconciles it
UNSCHEDULABLE_GRACE_S = 15.0  # Pending pods may be rescheduled while an old pod terminates
POLL_S = 2.0
API_TIMEOUT = (5, 15)  # connect, read (seconds) for every Kubernetes API call
NO_CONTEXT_HINT = "run `make deploy` or set KUBECONFIG"


# -- the Kubernetes API ----------------------------------------------------------------------
@dataclasses.dataclass
class Kube:
    """An API client for the current kube context, and the namespace ray101 looks in."""

    api: object  # kubernetes.client.ApiClient
    context: str
    namespace: str
    host: str

    @property
    def custom(self):
        from kubernetes import client

        return client.CustomObjectsApi(self.api)

    @property
    def core(self):
        from kubernetes import client

        return client.CoreV1Api(self.api)

    def plain(self, obj) -> dict:
        """A typed API object as the dict the API server sent (camelCase keys)."""
        return self.api.sanitize_for_serialization(obj)

    def call(self, fn: Callable, what: str):
        """Run one API call; turn API and network failures into one-line errors."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn()
        except ApiException as exc:
            if exc.status in (401, 403):
                raise Ray101Error(
                    f"the Kubernetes API (context {self.context}) refused to {what} "
                    f"(HTTP {exc.status}): {_api_message(exc)}"
                ) from None
            raise
        except (HTTPError, OSError) as exc:
            raise Ray101Error(
                f"cannot reach the Kubernetes API server at {self.host} (context {self.context}) "
                f"to {what}: {_first_line(exc)}; is the cluster running? (`make cluster`)"
            ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _stream_error(exc: BaseException) -> str:
    """Why a portforward stream did not open (the client wraps websocket errors as status 0)."""
    reason = getattr(exc, "reason", None)
    if getattr(exc, "status", None) == 0 and reason:
        text = str(reason).split(" -+-+- ")[0]  # websocket-client appends headers and body
        return _first_line(RuntimeError(text))
    return _first_line(exc)


def _api_message(exc) -> str:
    import json

    try:
        return json.loads(exc.body)["message"]
    except Exception:
        return (exc.reason or "").strip() or f"HTTP {exc.status}"


def kubeconfig_path() -> str:
    # Read KUBECONFIG now: the kubernetes package reads it once, at import.
    return os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def client() -> Kube:
    """Connect to the current kube context; a clear error when there is none."""
    from kubernetes import client as k8s_client
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    path = kubeconfig_path()
    try:
        _contexts, current = config.list_kube_config_contexts(config_file=path)
        configuration = k8s_client.Configuration()
        config.load_kube_config(config_file=path, client_configuration=configuration,
                                persist_config=False)
    except ConfigException as exc:
        text = str(exc)
        if "No configuration found" in text:
            why = f"no kubeconfig at {path}"
        elif "current-context" in text:
            why = f"the kubeconfig {path} has no current context"
        else:
            why = f"the kubeconfig {path} is unusable ({_first_line(exc)})"
        raise Ray101Error(f"no Kubernetes context: {why}; {NO_CONTEXT_HINT}") from None
    except (OSError, ValueError) as exc:  # unreadable file, bad YAML
        raise Ray101Error(
            f"no Kubernetes context: cannot read the kubeconfig {path} ({_first_line(exc)}); "
            f"{NO_CONTEXT_HINT}"
        ) from None
    configuration.retries = 1
    namespace = (
        os.environ.get("RAY101_NAMESPACE")
        or (current.get("context") or {}).get("namespace")
        or DEFAULT_NAMESPACE
    )
    return Kube(
        api=k8s_client.ApiClient(configuration),
        context=current.get("name", "?"),
        namespace=namespace,
        host=configuration.host,
    )


def _list_rayclusters(kube: Kube) -> list[dict]:
    from kubernetes.client.exceptions import ApiException

    try:
        data = kube.call(
            lambda: kube.custom.list_namespaced_custom_object(
                GROUP, VERSION, kube.namespace, PLURAL, label_selector=PART_OF_SELECTOR,
                _request_timeout=API_TIMEOUT,
            ),
            f"list RayClusters in namespace {kube.namespace}",
        )
    except ApiException as exc:
        if exc.status == 404:
            raise Ray101Error(
                "KubeRay is not installed (no ray.io/v1 RayCluster CRD): run `make operator`"
            ) from None
        raise Ray101Error(
            f"listing RayClusters in namespace {kube.namespace} failed (HTTP {exc.status}): "
            f"{_api_message(exc)}"
        ) from None
    return list(data.get("items") or [])


def _get_raycluster(kube: Kube, name: str) -> dict:
    from kubernetes.client.exceptions import ApiException

    try:
        return kube.call(
            lambda: kube.custom.get_namespaced_custom_object(
                GROUP, VERSION, kube.namespace, PLURAL, name, _request_timeout=API_TIMEOUT),
            f"read RayCluster {kube.namespace}/{name}",
        )
    except ApiException as exc:
        if exc.status == 404:
            _list_rayclusters(kube)  # says so when the CRD itself is gone
            raise Ray101Error(
                f"RayCluster {kube.namespace}/{name} no longer exists (`make deploy` creates it)"
            ) from None
        raise Ray101Error(
            f"reading RayCluster {kube.namespace}/{name} failed (HTTP {exc.status}): "
            f"{_api_message(exc)}"
        ) from None


def _pods(kube: Kube, raycluster: str, extra_selector: str = "") -> list[dict]:
    from kubernetes.client.exceptions import ApiException

    selector = f"ray.io/cluster={raycluster}" + (f",{extra_selector}" if extra_selector else "")
    try:
        pods = kube.call(
            lambda: kube.core.list_namespaced_pod(
                kube.namespace, label_selector=selector, _request_timeout=API_TIMEOUT),
            f"list the pods of RayCluster {kube.namespace}/{raycluster}",
        )
    except ApiException as exc:
        raise Ray101Error(
            f"listing the pods of RayCluster {kube.namespace}/{raycluster} failed "
            f"(HTTP {exc.status}): {_api_message(exc)}"
        ) from None
    return kube.plain(pods).get("items") or []


# -- discovery -------------------------------------------------------------------------------
def _num_cpus(group: dict) -> float | None:
    """Logical CPUs Ray advertises per pod of a group: num-cpus, else the CPU limit (as KubeRay)."""
    value = (group.get("rayStartParams") or {}).get("num-cpus")
    if value is not None:
        try:
            return float(value)
        except ValueError:
            return None
    containers = ((group.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    limit = ((containers[0].get("resources") or {}).get("limits") or {}).get("cpu")
    if limit is None:
        return None
    text = str(limit)
    cpus = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    return float(int(cpus) if cpus == int(cpus) else int(cpus) + 1)


def conditions(status: dict) -> dict[str, dict]:
    return {c.get("type"): c for c in status.get("conditions") or [] if c.get("type")}


def is_ready(status: dict) -> bool:
    """KubeRay's view: state ready (or head ready and provisioned) and the head not unready."""
    conds = conditions(status)
    if (conds.get("HeadPodReady") or {}).get("status") == "False":
        return False
    if status.get("state") == "ready":
        return True
    return all((conds.get(c) or {}).get("status") == "True"
               for c in ("HeadPodReady", "RayClusterProvisioned"))


def target_from(rc: dict, namespace: str) -> Target:
    meta = rc.get("metadata") or {}
    spec = rc.get("spec") or {}
    status = rc.get("status") or {}
    key = (meta.get("labels") or {}).get(CLUSTER_LABEL) or meta.get("name", "?")
    head = spec.get("headGroupSpec") or {}
    groups = spec.get("workerGroupSpecs") or []
    pods_per_group = [int(g.get("replicas") or 0) * int(g.get("numOfHosts") or 1) for g in groups]
    workers = sum(pods_per_group)
    per_pod = [_num_cpus(head)] + [_num_cpus(g) for g in groups]
    cpus = None
    if None not in per_pod:
        cpus = per_pod[0] + sum(c * n for c, n in zip(per_pod[1:], pods_per_group))
    auth = spec.get("authOptions") or {}
    token = auth.get("mode") == "token"
    secret = auth.get("secretName")
    return Target(
        name=f"k8s-{key}",
        kind=K8S,
        jobs_url=None,
        topology="single" if workers == 0 else "multi",
        nodes=1 + workers,
        cpus=cpus,
        auth="token" if token else "none",
        # A reference to the Secret, never the token.
        token_file=f"secret:{namespace}/{secret}" if token and secret else None,
        extra={
            "namespace": namespace,
            "raycluster": meta.get("name"),
            "key": key,
            "state": status.get("state") or ("(no status)" if not status else "(none)"),
            "ready": is_ready(status),
            "desired_workers": status.get("desiredWorkerReplicas"),
            "ready_workers": status.get("readyWorkerReplicas"),
            "available_workers": status.get("availableWorkerReplicas"),
            "auth_secret": secret if token else None,
            "jobs_in_image": (meta.get("annotations") or {}).get(JOBS_IN_IMAGE) == "true",
        },
    )


def discover(quiet: bool = False) -> list[Target]:
    """The chart's RayClusters in the current context and namespace, as ``k8s-<key>`` targets.

    ``quiet``: no kube context or no KubeRay is not an error (a machine without Kubernetes);
    other failures become a warning on stderr, and no k8s targets.
    """
    try:
        kube = client()
        items = _list_rayclusters(kube)
    except Ray101Error as exc:
        if not quiet:
            raise
        if not (exc.message.startswith("no Kubernetes context") or "KubeRay is not installed"
                in exc.message):
            print(f"ray101: KubeRay clusters skipped: {exc.message}", file=sys.stderr)
        return []
    targets = [target_from(rc, kube.namespace) for rc in items]
    return sorted(targets, key=lambda t: t.name)


def find(name: str) -> Target:
    """The ``k8s-<key>`` target called ``name``; an error listing the known ones otherwise."""
    kube = client()
    targets = [target_from(rc, kube.namespace) for rc in _list_rayclusters(kube)]
    for target in targets:
        if target.name == name:
            return target
    if targets:
        known = ", ".join(sorted(t.name for t in targets))
        raise Ray101Error(
            f"unknown cluster '{name}' (KubeRay clusters in namespace {kube.namespace}: {known})"
        )
    raise Ray101Error(
        f"unknown cluster '{name}' (no ray101 KubeRay clusters in namespace {kube.namespace} of "
        f"context {kube.context}: run `make deploy`, or set RAY101_NAMESPACE)"
    )


# -- readiness -------------------------------------------------------------------------------
def ready_timeout() -> float:
    raw = os.environ.get(READY_TIMEOUT_ENV)
    if not raw:
        return READY_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise Ray101Error(f"{READY_TIMEOUT_ENV} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise Ray101Error(f"{READY_TIMEOUT_ENV} must be > 0, not {raw}")
    return value


def _pod_condition(pod: dict, kind: str) -> dict:
    return conditions(pod.get("status") or {}).get(kind) or {}


def _node_type(pod: dict) -> str:
    return ((pod.get("metadata") or {}).get("labels") or {}).get("ray.io/node-type", "")


def unschedulable(pod: dict) -> str | None:
    """The scheduler's message when ``pod`` is Pending because no node can take it."""
    status = pod.get("status") or {}
    if status.get("phase") != "Pending":
        return None
    cond = _pod_condition(pod, "PodScheduled")
    if cond.get("status") == "False" and cond.get("reason") == "Unschedulable":
        return (cond.get("message") or "no message").strip()
    return None


def explain_unschedulable(pod: dict, message: str, key: str) -> str:
    """One line saying which resource is short, and which value to lower."""
    name = (pod.get("metadata") or {}).get("name", "?")
    text = message.rstrip(".")
    short = sorted(set(re.findall(r"Insufficient ([\w./-]+)", text)))
    if not short:
        return f"pod {name} is Pending: no node can take it ({text})"
    what = " and ".join(short)
    if _node_type(pod) == "head":
        lower = " or ".join(f"clusterDefaults.head.resources.requests.{r}" for r in short)
    else:
        lower = f"clusters.{key}.workerReplicas or " + " or ".join(
            f"clusterDefaults.worker.resources.requests.{r}" for r in short)
    return (f"pod {name} is Pending: not enough {what} on any node ({text}); "
            f"lower {lower} in the chart values, or give the nodes more {what}")


def _pod_trouble(pod: dict) -> str | None:
    """A container stuck waiting for a reason worth showing (image pulls, crash loops)."""
    name = (pod.get("metadata") or {}).get("name", "?")
    status = pod.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason and reason not in ("ContainerCreating", "PodInitializing"):
            detail = (waiting.get("message") or "").strip().splitlines()
            return f"pod {name}: {reason}" + (f" ({detail[0][:200]})" if detail else "")
    return None


def _pod_ready(pod: dict) -> bool:
    return ((pod.get("status") or {}).get("phase") == "Running"
            and _pod_condition(pod, "Ready").get("status") == "True"
            and not (pod.get("metadata") or {}).get("deletionTimestamp"))


def _describe(status: dict, pods: list[dict]) -> str:
    parts = [f"state {status.get('state') or 'not set'}"]
    for kind in ("HeadPodReady", "RayClusterProvisioned", "ReplicaFailure"):
        cond = conditions(status).get(kind)
        if cond and not (kind == "ReplicaFailure" and cond.get("status") == "False"):
            reason = cond.get("reason") or cond.get("message")
            parts.append(f"{kind}={cond.get('status')}" + (f" ({reason})" if reason else ""))
    desired = status.get("desiredWorkerReplicas")
    if desired:
        ready = status.get("readyWorkerReplicas", status.get("availableWorkerReplicas", 0)) or 0
        parts.append(f"{ready}/{desired} workers ready")
    parts.extend(t for t in (_pod_trouble(p) for p in pods) if t)
    return ", ".join(parts)


def _workers_ready(status: dict) -> bool:
    desired = status.get("desiredWorkerReplicas") or 0
    ready = status.get("readyWorkerReplicas", status.get("availableWorkerReplicas")) or 0
    return ready >= desired


def wait_ready(kube: Kube, target: Target, timeout: float | None = None) -> dict:
    """Wait until the RayCluster is ready with all its workers; returns its running head pod.

    Shows a progress display on stderr while waiting; fails at once when pods cannot be
    scheduled (after a short grace), the cluster is suspended or failed, or no operator answers.
    """
    timeout = ready_timeout() if timeout is None else timeout
    name = target.extra.get("raycluster") or target.name.removeprefix("k8s-")
    key = target.extra.get("key") or target.name.removeprefix("k8s-")
    where = f"RayCluster {kube.namespace}/{name}"
    started = time.monotonic()
    first_unschedulable: dict[str, float] = {}
    progress = None
    task = None
    try:
        while True:
            rc = _get_raycluster(kube, name)
            status = rc.get("status") or {}
            pods = _pods(kube, name)
            now = time.monotonic()
            waited = now - started
            for pod in pods:
                message = unschedulable(pod)
                pod_name = (pod.get("metadata") or {}).get("name", "?")
                if message is None:
                    first_unschedulable.pop(pod_name, None)
                    continue
                seen = first_unschedulable.setdefault(pod_name, now)
                if now - seen >= min(UNSCHEDULABLE_GRACE_S, timeout):
                    raise Ray101Error(explain_unschedulable(pod, message, key))
            heads = [p for p in pods if _node_type(p) == "head" and _pod_ready(p)]
            if heads and is_ready(status) and _workers_ready(status):
                return heads[0]
            if (rc.get("spec") or {}).get("suspend") or status.get("state") == "suspended":
                raise Ray101Error(f"cluster {target.name} ({where}) is suspended "
                                  "(spec.suspend is true): resume it or `make deploy`")
            if status.get("state") == "failed":
                raise Ray101Error(f"cluster {target.name} ({where}) failed: "
                                  f"{status.get('reason') or _describe(status, pods)}")
            if not status and waited >= min(NO_STATUS_S, timeout):
                raise Ray101Error(
                    f"{where} has no status after {waited:.0f} s: the KubeRay operator is not "
                    f"running or does not watch namespace {kube.namespace} (run `make operator`; "
                    "`kubectl get pods -A -l app.kubernetes.io/name=kuberay-operator`)"
                )
            if waited >= timeout:
                raise Ray101Error(
                    f"cluster {target.name} ({where}) is not ready after {waited:.0f} s: "
                    f"{_describe(status, pods)} (`kubectl -n {kube.namespace} describe raycluster "
                    f"{name}`; wait longer with {READY_TIMEOUT_ENV})"
                )
            if progress is None:
                progress, task = _start_progress(target.name, target.nodes or 1, timeout)
            progress.update(
                task, completed=sum(1 for p in pods if _pod_ready(p)),
                description=f"waiting for {target.name}: {_describe(status, pods)}"[:110],
            )
            time.sleep(POLL_S)
    finally:
        if progress is not None:
            progress.stop()


def _start_progress(name: str, nodes: int, timeout: float):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
    from rich.progress import TimeElapsedColumn

    console = Console(stderr=True, highlight=False)
    if not console.is_terminal:  # a log: one line, no animation
        console.print(f"Waiting up to {timeout:.0f} s for {name} to be ready ({nodes} pods)...")
        return _NoProgress(), None
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=20),
        MofNCompleteColumn(), TextColumn("pods ready"), TimeElapsedColumn(),
        console=console, transient=True,
    )
    progress.start()
    return progress, progress.add_task(f"waiting for {name}", total=nodes)


class _NoProgress:
    def update(self, *args, **kwargs) -> None:
        pass

    def stop(self) -> None:
        pass


# -- the token and the jobs package ----------------------------------------------------------
def read_token(kube: Kube, secret: str, cluster: str) -> str:
    """The Ray auth token from ``secret`` (key ``auth_token``). Never printed or logged."""
    from kubernetes.client.exceptions import ApiException

    where = f"Secret {kube.namespace}/{secret}"
    try:
        obj = kube.call(
            lambda: kube.core.read_namespaced_secret(secret, kube.namespace,
                                                     _request_timeout=API_TIMEOUT),
            f"read the auth token of {cluster} ({where})",
        )
    except ApiException as exc:
        if exc.status == 404:
            raise Ray101Error(f"the auth token of {cluster} is missing: no {where} "
                              "(`make deploy` creates it)") from None
        raise Ray101Error(f"reading {where} failed (HTTP {exc.status}): {_api_message(exc)}") from None
    data = obj.data or {}
    if "auth_token" not in data:
        raise Ray101Error(f"{where} has no key auth_token (KubeRay reads the token from it)")
    try:
        token = base64.b64decode(data["auth_token"], validate=True).decode().strip()
    except (ValueError, UnicodeDecodeError):
        raise Ray101Error(f"{where} key auth_token is not valid base64 text") from None
    if not token:
        raise Ray101Error(f"{where} key auth_token is empty")
    return token


def jobs_runtime_env() -> dict:
    """runtime_env shipping ``ray101_jobs`` (and pinned pymongo) to nodes of the stock image.

    Ray names an uploaded py_module after its folder, which is the package's own.
    """
    from importlib.metadata import version

    import ray101_jobs

    return {"py_modules": [str(Path(ray101_jobs.__file__).parent)],
            "excludes": ["__pycache__", "*.pyc"],
            "pip": [f"pymongo=={version('pymongo')}"]}


# -- the port-forward ------------------------------------------------------------------------
class Forwarder:
    """``kubectl port-forward`` in-process: a listener on 127.0.0.1 per remote port, and a
    thread per accepted connection bridging its bytes to a fresh stream from ``open_remote``.

    ``open_remote(port)`` returns a connected socket-like object (``recv``, ``sendall``,
    ``fileno``, ``close``); for a pod it is a Kubernetes portforward stream. Failures are kept in
    ``error`` so that the caller can say why a request through the forward failed.
    """

    def __init__(self, open_remote: Callable[[int], object], ports: list[int], what: str):
        self.open_remote = open_remote
        self.what = what
        self.error: str | None = None
        self.local: dict[int, int] = {}
        self._listeners: list[socket.socket] = []
        self._closed = threading.Event()
        for port in ports:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            listener.listen(32)
            listener.settimeout(0.2)
            self._listeners.append(listener)
            self.local[port] = listener.getsockname()[1]
            threading.Thread(target=self._accept, args=(listener, port), daemon=True,
                             name=f"ray101 forward :{self.local[port]} -> {port}").start()

    def _accept(self, listener: socket.socket, port: int) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=self._serve, args=(conn, port), daemon=True).start()

    def _serve(self, conn: socket.socket, port: int) -> None:
        try:
            remote = self.open_remote(port)
        except Exception as exc:  # the pod is gone, the API server unreachable, ...
            self.error = f"cannot open a stream to port {port}: {_stream_error(exc)}"
            conn.close()
            return
        try:
            answered = bridge(conn, remote, self._closed)
            if not answered and not self._closed.is_set():
                why = getattr(remote, "failure", lambda: None)()
                self.error = why or f"the connection to port {port} closed without an answer"
            else:
                self.error = None
        finally:
            for sock in (conn, remote):
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        self._closed.set()
        for listener in self._listeners:
            with contextlib.suppress(OSError):
                listener.close()


def bridge(local, remote, stop: threading.Event | None = None) -> bool:
    """Copy bytes both ways until both sides are done; True if ``remote`` sent anything.

    An end of stream from one side is passed on as a half-close (``shutdown(SHUT_WR)``) of the
    other, so a client may stop sending and still read the whole answer.
    """
    answered = False
    peers = {local: remote, remote: local}
    reading = [local, remote]
    while reading and (stop is None or not stop.is_set()):
        try:
            readable, _, _ = select.select(reading, [], [], 0.5)
        except (OSError, ValueError):  # a side was closed under us
            return answered
        for sock in readable:
            try:
                data = sock.recv(65536)
            except OSError:
                return answered
            if not data:
                if sock is remote and not answered:
                    return False  # refused or dropped: let the caller say why before closing
                reading.remove(sock)
                try:
                    peers[sock].shutdown(socket.SHUT_WR)
                except (OSError, AttributeError):
                    return answered
                continue
            if sock is remote:
                answered = True
            try:
                peers[sock].sendall(data)
            except OSError:
                return answered
    return answered


class _PodStream:
    """One Kubernetes portforward websocket to one pod port, as a socket."""

    def __init__(self, kube: Kube, pod: str, port: int):
        from kubernetes.stream import portforward

        self.port = port
        self.pf = portforward(kube.core.connect_get_namespaced_pod_portforward, pod,
                              kube.namespace, ports=str(port))
        self.sock = self.pf.socket(port)
        self.sock.setblocking(True)

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv(self, size: int) -> bytes:
        return self.sock.recv(size)

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def shutdown(self, how: int) -> None:
        self.sock.shutdown(how)

    def failure(self) -> str | None:
        error = self.pf.error(self.port)
        return error.strip() if error else None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.pf.close()


@contextlib.contextmanager
def connect(target: Target) -> Iterator[Connection]:
    """Wait for ``target``'s RayCluster, then port-forward to its head for the ``with`` block."""
    kube = client()
    head = wait_ready(kube, target)
    token = None
    if target.auth == "token":
        secret = target.extra.get("auth_secret")
        if not secret:
            raise Ray101Error(f"cluster {target.name} uses token auth but its RayCluster names no "
                              "Secret (spec.authOptions.secretName)")
        token = read_token(kube, secret, target.name)
    if not target.extra.get("jobs_in_image"):
        target.runtime_env = jobs_runtime_env()
    pod = head["metadata"]["name"]
    via = f"port-forward to pod {kube.namespace}/{pod}"
    forward = Forwarder(lambda port: _PodStream(kube, pod, port), [DASHBOARD_PORT, SERVE_PORT], via)
    try:
        yield Connection(
            target=target,
            jobs_url=f"http://127.0.0.1:{forward.local[DASHBOARD_PORT]}",
            token=token,
            serve_url=f"http://127.0.0.1:{forward.local[SERVE_PORT]}/echo",
            via=via,
        )
    except Ray101Error as exc:
        raise Ray101Error(explain_forward_failure(exc.message, forward)) from None
    finally:
        forward.close()


def explain_forward_failure(message: str, forward: Forwarder) -> str:
    """Add the port-forward's side of the story to a Jobs API connection error."""
    unreachable = message.startswith(("cannot reach the Jobs API", "the Jobs API at")) and (
        "did not answer" in message or "cannot reach" in message)
    if forward.error:
        return (f"{message}; the {forward.what} failed: {forward.error} (is the head pod still "
                "running? the next ray101 command opens a new port-forward)")
    if unreachable:
        return f"{message} (through the {forward.what})"
    return message


# -- chaos -----------------------------------------------------------------------------------
def kill_worker(target: Target, pod: str | None = None) -> str:
    """Delete one worker pod of ``target``'s RayCluster (``pod``, else a random one); never the
    head. Returns the deleted pod's name; KubeRay starts a replacement."""
    from kubernetes.client.exceptions import ApiException

    if target.kind != K8S:
        raise Ray101Error(f"killing a worker pod needs a KubeRay cluster (k8s-*), not {target.name}")
    kube = client()
    name = target.extra.get("raycluster") or target.name.removeprefix("k8s-")
    where = f"RayCluster {kube.namespace}/{name}"
    pods = _pods(kube, name)
    by_name = {p["metadata"]["name"]: p for p in pods}
    if pod is not None:
        chosen = by_name.get(pod)
        if chosen is None:
            names = ", ".join(sorted(by_name)) or "none"
            raise Ray101Error(f"pod {pod} is not part of {where} (its pods: {names})")
        if _node_type(chosen) == "head":
            raise Ray101Error(f"pod {pod} is the head of {where}: only worker pods can be killed")
    else:
        workers = [p for p in pods if _node_type(p) == "worker"
                   and not p["metadata"].get("deletionTimestamp")]
        if not workers:
            raise Ray101Error(f"{where} has no worker pod to kill ({target.name} has "
                              f"{len(pods)} pod(s), none a live worker)")
        chosen = random.choice(workers)
        pod = chosen["metadata"]["name"]
    try:
        kube.call(lambda: kube.core.delete_namespaced_pod(pod, kube.namespace,
                                                          _request_timeout=API_TIMEOUT),
                  f"delete pod {kube.namespace}/{pod}")
    except ApiException as exc:
        if exc.status == 404:
            raise Ray101Error(f"pod {kube.namespace}/{pod} is already gone") from None
        raise Ray101Error(f"deleting pod {kube.namespace}/{pod} failed (HTTP {exc.status}): "
                          f"{_api_message(exc)}") from None
    return pod
