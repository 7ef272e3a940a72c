"""A Ray head, as ray101 speaks to it over HTTP.

- ``client``: :class:`~ray101.head.client.HeadClient`, the one HTTP client: one session, the
  auth header, timeouts, retries with backoff; the Jobs API, the State API's nodes, the version.
- ``jobs``: :class:`~ray101.head.jobs.JobsAPI`: submit a workload, the one poll loop that
  follows it, waits for it and serves the benchmarks, and the outcome of a job.
"""
