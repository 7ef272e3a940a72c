"""KubeRay clusters as ray101 targets: find them, wait for them, reach them.

The chart's RayClusters (label ``app.kubernetes.io/part-of=ray101``) in the current kube context
and namespace become targets named ``k8s-<key>`` (key from label ``ray101.io/cluster``).

- ``client``: the Kubernetes API client for the current context, and its one error mapping.
- ``discovery``: RayClusters as targets (``discover``, ``find``).
- ``readiness``: waiting until a RayCluster is ready (``wait_ready``, with a progress callback).
- ``token``: the Ray auth token from the Secret KubeRay uses (never printed, logged or stored).
- ``portforward``: the in-process port-forward to the head pod (``Forwarder``, ``bridge``).
- ``connection``: all of it together: ``connect`` yields a live Connection for a ``with`` block.

The Kubernetes side of ``ray101 chaos`` (deleting a worker pod) is ``ray101.chaos.kube``.

Nothing here imports ``ray101.targets`` (the resolver imports this package, not the other way).
"""
