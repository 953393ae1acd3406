"""Cluster addons: each workload cluster's addons applied, and upgraded with the cluster.

The management side holds ``Cluster`` objects whose ``spec.topology.class`` names a release of
the rendered tree. For each, :mod:`syncer.addons.controller` keeps a ``ClusterAddon``
(``cluster-addon-<cluster>``) and drives the release's addon charts into the workload cluster
(reached through the ``<cluster>-kubeconfig`` Secret), stage by stage, as the Cluster Stack
Operator does; :mod:`syncer.addons.hooks` serves the CAPI runtime hooks so an upgrade waits for
the new addons, never forever.
"""
