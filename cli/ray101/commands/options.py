"""What the commands take: shared options, and the Click types that check every value.

A value that is out of range or malformed is a usage error: Click prints ``Error: Invalid value
for ...`` and exits 2, before anything runs. Errors of the world (a cluster that does not
answer) are ``Ray101Error``: exit 1.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ray101.kube.client import CONTEXT_ENV as KUBE_CONTEXT_ENV

if TYPE_CHECKING:
    from ray101_jobs.common import Workload

CLUSTER_ENV = "RAY101_CLUSTER"
FC = TypeVar("FC", bound=Callable[..., Any])


class Positive(click.ParamType):
    """A finite number > 0 (``inf`` and ``nan`` are not), at most ``maximum``."""

    name = "number"

    def __init__(self, unit: str = "", maximum: float | None = None):
        self.unit = unit
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        what = f"a finite number of {self.unit}" if self.unit else "a finite number"
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not {what}", param, ctx)
        if not math.isfinite(number) or number <= 0:
            self.fail(f"must be {what} > 0, not {value}", param, ctx)
        if self.maximum is not None and number > self.maximum:
            self.fail(f"must be at most {self.maximum:g}{' ' + self.unit if self.unit else ''}, "
                      f"not {value}", param, ctx)
        return number


def Seconds(maximum: float | None = None) -> Positive:  # noqa: N802 - used like a type
    """Seconds: finite and > 0."""
    return Positive("seconds", maximum)


class Subnet(click.ParamType):
    """An IPv4 network such as 10.101.0.0/24 (host bits zero)."""

    name = "subnet"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        import ipaddress

        try:
            net = ipaddress.ip_network(str(value), strict=True)
        except ValueError as exc:
            self.fail(f"'{value}' is not a valid network: {exc}", param, ctx)
        if net.version != 4:
            self.fail(f"'{value}' is not an IPv4 network", param, ctx)
        return str(value)


class WorkloadName(click.ParamType):
    """A workload's name, converted to the workload."""

    name = "workload"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Workload:
        from ray101_jobs.common import Workload
        from ray101_jobs.registry import workloads

        if isinstance(value, Workload):
            return value
        known = workloads()
        if value not in known:
            self.fail(f"unknown workload '{value}' (known: {', '.join(known)})", param, ctx)
        return known[value]


class NameList(click.ParamType):
    """Comma-separated names: at least one, none twice."""

    name = "names"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[str]:
        if isinstance(value, list):
            return value
        names = [part.strip() for part in str(value).split(",") if part.strip()]
        if not names:
            self.fail("names nothing", param, ctx)
        if len(set(names)) != len(names):
            self.fail(f"repeats a name: {value}", param, ctx)
        return names


class RunId(click.ParamType):
    """A run id as ray101 makes them (``20260101-120000-ab12``): never a path."""

    name = "run_id"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from ray101 import store

        if not store.valid_run_id(str(value)):
            self.fail(f"{value!r} is not a run id (like 20260101-120000-ab12; "
                      "`ray101 runs` lists them)", param, ctx)
        return str(value)


class WritableFolder(click.ParamType):
    """A folder to write results into: made if missing, and checked writable now, before the
    work whose results go there."""

    name = "folder"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = Path(value)
        if path.exists() and not path.is_dir():
            self.fail(f"{path} exists and is not a folder", param, ctx)
        try:
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path, prefix=".ray101-probe-"):
                pass
        except OSError as exc:
            self.fail(f"cannot write into {path}: {exc.strerror or exc}", param, ctx)
        if not os.access(path, os.W_OK | os.X_OK):
            self.fail(f"cannot write into {path}", param, ctx)
        return path


def _cluster_given(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    if not value:
        raise click.UsageError(f"Missing option '--cluster' (or set {CLUSTER_ENV})", ctx)
    return value


def _select_context(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    from ray101.kube.client import select_context

    select_context(value)  # also None: a previous command's choice never carries over


context_option = click.option(
    "--context", envvar=KUBE_CONTEXT_ENV, metavar="NAME", expose_value=False,
    callback=_select_context, is_eager=True,
    help=f"Kube context of the KubeRay clusters (default: the current one) [env: {KUBE_CONTEXT_ENV}].",
)
_cluster = click.option(
    "--cluster", "-c", "cluster", envvar=CLUSTER_ENV, metavar="NAME", callback=_cluster_given,
    help=f"Cluster name (see `ray101 clusters`) or a Jobs API URL [env: {CLUSTER_ENV}].",
)


def cluster_option(f: FC) -> FC:
    """``--cluster``, and ``--context`` for when the cluster is a KubeRay one."""
    return _cluster(context_option(f))
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
# How jobs go in (ray101.kube.rayjob.VIAS): the Jobs API, a KubeRay RayJob to the running
# cluster, or a RayJob that brings up a cluster of its own shaped like it (KubeRay clusters only).
VIAS = ("jobs-api", "rayjob", "rayjob-cluster")


def needs_kuberay(target_name: str, kind: str, via: str) -> None:
    """``--via rayjob[-cluster]`` on a cluster that is not a KubeRay one: a usage error (exit 2)."""
    if via != "jobs-api" and kind != "k8s":
        raise click.UsageError(f"--via {via} needs a KubeRay cluster (k8s-*); {target_name} is "
                               f"a {kind} cluster: use --via jobs-api")
param_option = click.option(
    "--param", "-p", "params", multiple=True, metavar="KEY=VALUE",
    help="Workload parameter (repeatable); `ray101 workloads` lists them.",
)
repeat_option = click.option(
    "--repeat", "-n", type=click.IntRange(min=1), default=1, show_default=True,
    help="Repetitions inside one job: the first is cold, the rest warm.",
)


def parse_params(wl: Workload, pairs: tuple[str, ...]) -> dict:
    """``-p key=value`` pairs for ``wl``; a bad one is a usage error of ``--param``."""
    from ray101_jobs.common import ParamError

    try:
        return wl.parse_params(pairs)
    except ParamError as exc:
        raise click.BadParameter(str(exc), param_hint="'--param' / '-p'") from None
