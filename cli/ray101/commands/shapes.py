"""What `--json` prints, per command: one shape whatever the arguments.

The README's table of shapes is generated from ``SHAPES`` (cog), and tests/test_json_shapes.py
checks every command's real output against it: the top-level type, and that each object has at
least the keys listed (some kinds of cluster add a few of their own, named in the note).
"""

from __future__ import annotations

# command -> (top-level type, keys every object has, note)
SHAPES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "workloads": ("list", ("name", "summary", "uses_mongo", "retries", "params", "ceiling_s"),
                  "one object per workload; ceiling_s: the most one repetition may take"),
    "clusters": ("list", ("name", "kind", "jobs_url", "topology", "nodes", "cpus", "auth",
                          "token_file", "answers"),
                 "one object per cluster; KubeRay ones add state, desired_workers, "
                 "available_workers, min_workers, max_workers, idle_timeout_s (null unless "
                 "autoscaling)"),
    "run": ("list", ("workload", "cluster", "job_id", "status", "output", "runtimes_s", "ideal_s",
                     "node_ips", "end_to_end_s", "message"),
            "one run entry per workload, also for a single workload; --via rayjob-cluster adds "
            "own_cluster: rayjob, raycluster, submission_mode, cluster_ready_s, "
            "cluster_ready_kuberay_s, job_running_s, head_pending, cluster_gone_s"),
    "submit": ("object", ("job_id", "cluster", "workload"), ""),
    "jobs list": ("list", ("job_id", "status", "entrypoint", "metadata", "message",
                           "driver_exit_code", "start_time", "end_time"),
                  "one object per job, newest first"),
    "jobs status": ("object", ("job_id", "status", "entrypoint", "metadata", "message",
                               "driver_exit_code", "start_time", "end_time"), ""),
    "jobs stop": ("object", ("job_id", "cluster", "stop_requested", "status"),
                  "status: the job's status when the command returned (with --no-wait "
                  "possibly still RUNNING)"),
    "jobs delete": ("object", ("job_id", "cluster", "deleted"), ""),
    "compare": ("object", ("run_id", "created", "repeat", "consistent", "incomplete", "clusters",
                           "rows", "runs", "ray_version", "elapsed_s"),
                "what compare.json holds; incomplete: the jobs that ended UNKNOWN"),
    "dashboard": ("object", ("cluster", "kind", "dashboard", "jobs", "auth", "token_file",
                             "token_secret", "login", "port_forward", "token"),
                  "token is null unless --show-token; with port_forward true the command stays "
                  "in the foreground until Ctrl-C"),
    "runs": ("list", ("run_id", "kind", "jobs", "succeeded", "workloads", "clusters",
                      "consistent"), "one object per recorded run or comparison, oldest first"),
    "runs show": ("object", ("run_id", "runs"),
                  "runs: the recorded job entries; a comparison is what compare.json holds"),
    "serve call": ("object", ("status", "body"), ""),
    "local status": ("object", ("running", "clusters"), "netns, subnet, bridge, cpus_per_node too while running"),
    "mongo install": ("object", ("kind", "path", "version"), ""),
    "mongo start": ("object", ("kind", "running", "managed", "uri"), "as mongo status"),
    "mongo stop": ("object", ("kind", "stopped", "message"), ""),
    "mongo status": ("object", ("kind", "running", "managed", "uri"),
                     "a local server adds pid, host, port, log, data; an external one hosts"),
    "mongo seed": ("object", ("movies", "comments", "total", "seconds"), ""),
    "chaos kill-node": ("object", ("cluster", "kind", "node", "action", "next"),
                        "a local node adds ip and pid"),
    "chaos partition": ("object", ("cluster", "node", "ip", "seconds", "interrupted",
                                   "in_ray_after"), ""),
}


def markdown_table() -> str:
    """The README's table of --json shapes."""
    lines = ["| command | `--json` prints | keys (at least) | note |", "|---|---|---|---|"]
    for command, (kind, keys, note) in SHAPES.items():
        what = "a list of objects" if kind == "list" else "one object"
        lines.append(f"| `ray101 {command}` | {what} | {', '.join(keys)} | {note} |")
    return "\n".join(lines) + "\n"
