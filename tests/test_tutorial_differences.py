"""Where ray101 differs from the tutorial it grew from: the evidence for each fact that
docs/tutorial-differences.md states (tests/unit/test_tutorial_differences_page.py checks that the
page names these tests). Real Ray throughout: a small local Ray started here (2 CPUs, no
dashboard, a few seconds) and, for the job, the test lab's local-multi cluster."""

from __future__ import annotations

import json
import re

import pytest


@pytest.fixture(scope="module")
def local_ray():
    """A fresh local Ray in this process (address="local": never a cluster RAY_ADDRESS names)."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


def test_a_task_given_a_list_of_refs_receives_refs_not_values(local_ray):
    ray = local_ray

    @ray.remote
    def double(x):
        return 2 * x

    @ray.remote
    def kinds(items):
        return [type(item).__name__ for item in items]

    @ray.remote
    def add_up(items):
        return sum(items)

    refs = [double.remote(i) for i in range(5)]
    # Ray resolves refs given as arguments, not refs inside a list given as one argument.
    assert ray.get(kinds.remote(refs)) == ["ObjectRef"] * 5
    with pytest.raises(ray.exceptions.RayTaskError) as failed:
        ray.get(add_up.remote(refs))
    assert re.search(r"unsupported operand type\(s\) for \+: 'int' and '[\w.]*ObjectRef'",
                     str(failed.value)), str(failed.value)


def test_ray101_task_dependencies_passes_each_ref_as_an_argument(local_ray):
    """ray101's task-dependencies gives `aggregate` the refs one by one (`*refs`): Ray waits for
    each and hands over the values, so the sum is the tutorial's 20."""
    from ray101_jobs import task_dependencies

    repetition = task_dependencies.run_once({"tasks": 5, "seconds": 0.0, "fail": False})
    assert repetition.output == 20


def test_deployment_deploy_is_gone_and_serve_run_is_the_way():
    import ray
    from ray import serve

    assert ray.__version__ == "2.60.0"

    def echo(request):
        return request.query_params["data"]

    deployment = serve.deployment(echo)
    assert not hasattr(deployment, "deploy")
    with pytest.raises(AttributeError, match="'Deployment' object has no attribute 'deploy'"):
        deployment.deploy()
    # What Ray 2.x offers instead, and what ray101's serve-echo uses: bind, then serve.run.
    assert type(deployment.bind()).__name__ == "Application"
    assert callable(serve.run)
    from ray101_jobs import serve_echo

    assert "serve.run(" in open(serve_echo.__file__).read()


def test_a_job_joins_the_cluster_through_ray_init(lab):
    """A job's driver calls `ray.init()` with no address: the Jobs API started it with RAY_ADDRESS
    naming the cluster, so it joins local-multi (3 nodes) instead of starting a Ray of its own."""
    clusters = json.loads(lab.cli("clusters", "--json", "--no-k8s", check=True).stdout)
    nodes = next(c["nodes"] for c in clusters if c["name"] == "local-multi")
    assert nodes >= 3
    submitted = lab.cli("submit", "actor-counter", "--cluster", "local-multi", "--json", check=True)
    job_id = json.loads(submitted.stdout)["job_id"]
    logs = lab.cli("jobs", "logs", job_id, "--cluster", "local-multi", "--follow", check=True,
                   timeout=300).stdout
    # ray101_jobs.common.execute prints this line right after its ray.init()
    assert f"== actor-counter on {nodes} node(s)" in logs, logs[-2000:]
    assert "Started a local Ray instance" not in logs
