"""The Kubernetes API client for the chosen kube context, and its one error mapping.

Context: ``--context`` (:func:`select_context`), else ``RAY101_KUBE_CONTEXT``, else the
kubeconfig's current context. Namespace: ``RAY101_NAMESPACE``, else the context's namespace,
else ``ray101`` (the Makefile's). Every call goes through :meth:`Kube.call`, which turns API and
network failures into one-line errors; every error names the context it was about.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ray101.errors import Ray101Error

if TYPE_CHECKING:
    from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi
    from kubernetes.client.exceptions import ApiException

GROUP, VERSION, PLURAL = "ray.io", "v1", "rayclusters"
RAYJOBS = "rayjobs"
PART_OF_SELECTOR = "app.kubernetes.io/part-of=ray101"
DEFAULT_NAMESPACE = "ray101"
API_TIMEOUT = (5, 15)  # connect, read (seconds) for every Kubernetes API call
NO_CONTEXT_HINT = "run `make deploy` or set KUBECONFIG"
CONTEXT_ENV = "RAY101_KUBE_CONTEXT"

_selected: str | None = None  # --context of the running command


def select_context(name: str | None) -> None:
    """Use the kube context ``name`` (None: ``RAY101_KUBE_CONTEXT``, else the current one)."""
    global _selected
    _selected = name or None


def chosen_context() -> str | None:
    """The context asked for by ``--context`` or ``RAY101_KUBE_CONTEXT``; None: the current."""
    return _selected or os.environ.get(CONTEXT_ENV) or None


@dataclasses.dataclass
class Kube:
    """An API client for the current kube context, and the namespace ray101 looks in."""

    api: ApiClient
    context: str
    namespace: str
    host: str

    @property
    def custom(self) -> CustomObjectsApi:
        from kubernetes import client

        return client.CustomObjectsApi(self.api)

    @property
    def core(self) -> CoreV1Api:
        from kubernetes import client

        return client.CoreV1Api(self.api)

    def plain(self, obj: object) -> dict:
        """A typed API object as the dict the API server sent (camelCase keys)."""
        return self.api.sanitize_for_serialization(obj)

    def call(self, fn: Callable[[], Any], what: str,
             missing: str | Callable[[], str] | None = None, absent_ok: bool = False) -> Any:
        """Run one API call (``what`` says what it does: "list RayClusters in ..."); turn API
        and network failures into one-line errors. ``missing``: the error for HTTP 404 (a
        callable is asked only then); ``absent_ok``: HTTP 404 returns None instead."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn()
        except ApiException as exc:
            if exc.status == 404 and absent_ok:
                return None
            if exc.status in (401, 403):
                raise Ray101Error(
                    f"the Kubernetes API (context {self.context}) refused to {what} "
                    f"(HTTP {exc.status}): {api_message(exc)}"
                ) from None
            if exc.status == 404 and missing is not None:
                raise Ray101Error(missing if isinstance(missing, str) else missing()) from None
            raise Ray101Error(
                f"cannot {what} in context {self.context} (HTTP {exc.status}): {api_message(exc)}"
            ) from None
        except (HTTPError, OSError) as exc:
            raise Ray101Error(
                f"cannot reach the Kubernetes API server at {self.host} (context {self.context}) "
                f"to {what}: {first_line(exc)}; is the cluster running? (`make cluster`)"
            ) from None

    # -- the reads and writes ray101 makes -----------------------------------------------------
    def list_rayclusters(self) -> list[dict]:
        data = self.call(
            lambda: self.custom.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, label_selector=PART_OF_SELECTOR,
                _request_timeout=API_TIMEOUT,
            ),
            f"list RayClusters in namespace {self.namespace}",
            missing=(f"KubeRay is not installed in context {self.context} (no ray.io/v1 RayCluster "
                     "CRD): run `make operator`"),
        )
        return list(data.get("items") or [])

    def get_raycluster(self, name: str) -> dict:
        def gone() -> str:
            self.list_rayclusters()  # says so when the CRD itself is gone
            return (f"RayCluster {self.namespace}/{name} no longer exists in context {self.context} "
                    "(`make deploy` creates it)")

        return self.call(
            lambda: self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name, _request_timeout=API_TIMEOUT),
            f"read RayCluster {self.namespace}/{name}",
            missing=gone,
        )

    def create_rayjob(self, body: dict) -> dict:
        name = body["metadata"]["name"]
        return self.call(
            lambda: self.custom.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, RAYJOBS, body, _request_timeout=API_TIMEOUT),
            f"create RayJob {self.namespace}/{name}",
            missing=(f"KubeRay's RayJob CRD (ray.io/v1 rayjobs) is not installed in context "
                     f"{self.context}: run `make operator`"),
        )

    def get_rayjob(self, name: str) -> dict | None:
        """The RayJob, or None when it does not exist (any more)."""
        return self.call(
            lambda: self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, RAYJOBS, name, _request_timeout=API_TIMEOUT),
            f"read RayJob {self.namespace}/{name}", absent_ok=True)

    def delete_rayjob(self, name: str) -> bool:
        """Delete the RayJob (KubeRay's finalizer stops its Ray job first if it still runs);
        False when it was already gone."""
        return self.call(
            lambda: self.custom.delete_namespaced_custom_object(
                GROUP, VERSION, self.namespace, RAYJOBS, name, _request_timeout=API_TIMEOUT),
            f"delete RayJob {self.namespace}/{name}", absent_ok=True) is not None

    def list_pods(self, raycluster: str) -> list[dict]:
        pods = self.call(
            lambda: self.core.list_namespaced_pod(
                self.namespace, label_selector=f"ray.io/cluster={raycluster}",
                _request_timeout=API_TIMEOUT),
            f"list the pods of RayCluster {self.namespace}/{raycluster}",
        )
        return self.plain(pods).get("items") or []


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def api_message(exc: ApiException) -> str:
    try:
        return json.loads(exc.body)["message"]
    except Exception:
        return (exc.reason or "").strip() or f"HTTP {exc.status}"


def kubeconfig_path() -> str:
    # Read KUBECONFIG now: the kubernetes package reads it once, at import.
    return os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def _contexts(path: str) -> list[dict]:
    """The kubeconfig's contexts (without asking for a current one)."""
    import yaml

    with open(path) as fh:
        try:
            data = yaml.safe_load(fh) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"not YAML: {str(exc).splitlines()[0]}") from None
    return [c for c in data.get("contexts") or [] if isinstance(c, dict) and c.get("name")]


def client() -> Kube:
    """Connect to the chosen kube context; a clear error when there is none."""
    from kubernetes import client as k8s_client
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    path = kubeconfig_path()
    wanted = chosen_context()
    try:
        if wanted:
            contexts = _contexts(path)
            current = next((c for c in contexts if c["name"] == wanted), None)
            if current is None:
                names = ", ".join(c["name"] for c in contexts) or "none"
                raise Ray101Error(
                    f"no kube context {wanted} in {path} (its contexts: {names}); pick one with "
                    f"--context or {CONTEXT_ENV}")
        else:
            _all, current = config.list_kube_config_contexts(config_file=path)
        configuration = k8s_client.Configuration()
        config.load_kube_config(config_file=path, context=wanted,
                                client_configuration=configuration, persist_config=False)
    except ConfigException as exc:
        text = str(exc)
        if "No configuration found" in text:
            why = f"no kubeconfig at {path}"
        elif "current-context" in text:
            why = f"the kubeconfig {path} has no current context"
        else:
            why = f"the kubeconfig {path} is unusable ({first_line(exc)})"
        raise Ray101Error(f"no Kubernetes context: {why}; {NO_CONTEXT_HINT}") from None
    except FileNotFoundError:
        raise Ray101Error(f"no Kubernetes context: no kubeconfig at {path}; {NO_CONTEXT_HINT}") from None
    except (OSError, ValueError) as exc:  # unreadable file, bad YAML
        raise Ray101Error(
            f"no Kubernetes context: cannot read the kubeconfig {path} ({first_line(exc)}); "
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
