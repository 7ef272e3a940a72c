"""The lab's MongoDB: the server ray101 runs and the FerretDB it builds.

- ``server``: which server (external, mongod or FerretDB), starting, stopping, pinging it.
- ``ferretdb``: FerretDB v1.24.2 built from source with ray101's patches
  (``scripts/install-ferretdb.sh`` and ``scripts/ferretdb-patches/`` beside this file).

The URIs and clients the jobs share with the CLI are ``ray101_jobs.mongouri``.
"""
