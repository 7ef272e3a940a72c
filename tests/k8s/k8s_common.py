"""What the real-cluster modules of tests/k8s/ share.

- For the modules that run against a deployed chart (test_chart_secrets.py,
  test_network_policy.py): the repository, the release's namespace and name (RAY101_NAMESPACE
  and RAY101_RELEASE, default ray101) and the kubectl command (RAY101_KUBECTL, default kubectl on
  PATH; RAY101_KUBE_CONTEXT, default the current context).
- For the two tiers (test_kind_cluster.py, test_real_cluster.py): :func:`chart_secrets_stage`,
  test_chart_secrets.py run against the tier's cluster.

It imports neither tier: test_chart_secrets.py and test_network_policy.py run on their own in a
pytest of their own, whatever user runs it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = os.environ.get("RAY101_NAMESPACE", "ray101")
RELEASE = os.environ.get("RAY101_RELEASE", "ray101")


def kubectl_cmd() -> list[str]:
    cmd = [os.environ.get("RAY101_KUBECTL") or shutil.which("kubectl") or "kubectl"]
    if os.environ.get("RAY101_KUBE_CONTEXT"):
        cmd.append(f"--context={os.environ['RAY101_KUBE_CONTEXT']}")
    return cmd


def chart_secrets_stage(timed: Callable[..., object], stage: str, env: dict, helm_values: str) -> None:
    """tests/k8s/test_chart_secrets.py against the tier's cluster, in a pytest of its own: a
    server-side dry-run upgrade keeps every password and the token, a client-side one fails instead
    of minting new ones, an install beside a kept volume without its Secret fails, the Ray pods
    hold only the reader's URI, and MongoDB refuses a client without credentials.

    `timed` is the tier's own `timed(stage, cmd, env, timeout, stream=...)`, which times the run
    under `stage` and writes the tier's timings; `helm_values` the value files the tier's
    `make deploy` passed (space-separated, from the repository root), so that the dry-run upgrade
    renders what is deployed."""
    timed(stage, [sys.executable, "-m", "pytest", "tests/k8s/test_chart_secrets.py",
                  "-p", "no:cacheprovider", "-o", "addopts=", "-q", "-rA"],
          {**env, "RAY101_TEST_K8S": "1", "RAY101_HELM_VALUES": helm_values}, 600, stream=True)
