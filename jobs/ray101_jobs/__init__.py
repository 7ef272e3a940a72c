"""The Ray 101 workloads, one module per workload, each runnable as a Ray job entrypoint.

``python -m ray101_jobs.parallel_retrieve --repeat 3`` runs one by hand (on a local Ray, or on the
cluster in ``RAY_ADDRESS``); ``ray101 run`` submits the same command through the Jobs API.
"""
