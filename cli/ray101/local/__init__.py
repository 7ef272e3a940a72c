"""The local clusters, ``local-single`` and ``local-multi``, on this machine.

- ``plan``: every node with its name, address and ports, and where the plan is recorded.
- ``network``: the nodes' network namespaces, bridge and links (as root on Linux).
- ``cluster``: the Ray nodes: start, stop, wait until they joined, status.
- ``registered``: the targets ``local up`` registered (``$RAY101_HOME/clusters.json``).
- ``lab``: MongoDB and both clusters started and stopped together (``ray101 local up|down``).
- ``chaos``: kill a node, or cut it off the network for a while.
"""
