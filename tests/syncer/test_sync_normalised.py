"""Objects whose values the API server normalises still make a zero-write second pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from csops.controlplane import AuditLog
from csops.syncer.inventory import InventoryStore
from csops.syncer.kube import Kube
from csops.syncer.reconcile import Reconciler, SyncOptions
from csops.syncer.source import Revision

pytestmark = pytest.mark.integration

MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
  annotations: {{}}
  creationTimestamp: null
spec:
  replicas: 0
  selector:
    matchLabels: {{app: web}}
  strategy:
    rollingUpdate: {{maxSurge: 25%, maxUnavailable: 1}}
  template:
    metadata:
      labels: {{app: web}}
      creationTimestamp: null
    spec:
      hostNetwork: false
      nodeSelector: {{}}
      tolerations: null
      containers:
      - name: web
        image: registry.example/web:1
        args: []
        ports:
        - {{containerPort: 8080, name: http}}
        readinessProbe:
          httpGet: {{port: http, path: /healthz}}
        resources:
          limits: {{cpu: 1000m, memory: 1024Mi}}
          requests: {{cpu: 0.5, memory: 1Gi, ephemeral-storage: 1}}
      volumes:
      - name: scratch
        emptyDir: {{sizeLimit: 2048Mi}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db, namespace: {ns}}}
spec:
  replicas: 0
  serviceName: db
  selector:
    matchLabels: {{app: db}}
  updateStrategy: {{type: OnDelete}}
  template:
    metadata:
      labels: {{app: db}}
    spec:
      containers:
      - name: db
        image: registry.example/db:1
        resources:
          requests: {{cpu: 250m, memory: 0.5Gi}}
  volumeClaimTemplates:
  - metadata: {{name: data}}
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {{storage: 10240Mi}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {ns}}}
data:
  1: one
  empty: null
  cpu: 1000m
---
apiVersion: v1
kind: Secret
metadata: {{name: token, namespace: {ns}}}
type: Opaque
stringData: {{token: s3cr3t}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {ns}}}
spec:
  selector: {{app: web}}
  ports:
  - {{name: http, port: 80, targetPort: http}}
  - {{name: metrics, port: 9090, targetPort: 9090}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {{name: quota, namespace: {ns}}}
spec:
  hard: {{cpu: 2000m, pods: 10, requests.memory: 0.5Gi, limits.memory: 1e3}}
---
apiVersion: v1
kind: LimitRange
metadata: {{name: limits, namespace: {ns}}}
spec:
  limits:
  - type: Container
    default: {{cpu: 500m, memory: 512Mi}}
    defaultRequest: {{cpu: 0.1, memory: 128Mi}}
    max: {{cpu: 2, memory: 2048Mi}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: web, namespace: {ns}}}
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {{app: web}}
"""


def test_normalised_values_make_a_zero_write_second_pass(
    kube: Kube, namespace: str, tmp_path: Path, audit: AuditLog
) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "objects.yaml").write_text(MANIFESTS.format(ns=namespace))
    revision = Revision("main@sha1:normalised", manifests)
    store = InventoryStore(kube, "csops-normalised", namespace)

    # no deployment controller runs here: do not wait for the Deployment to become available
    options = SyncOptions(wait=False)
    first = Reconciler(kube, store, options).sync(revision)
    assert first.ok, first.state()
    assert len(first.changed) == 8

    quota = kube.get(kube.resource("v1", "ResourceQuota"), namespace, "quota")
    assert quota["spec"]["hard"]["cpu"] == "2"  # the server did normalise
    assert quota["spec"]["hard"]["requests.memory"] == "512Mi"

    with audit.window() as window:
        again = InventoryStore(kube, "csops-normalised", namespace)
        second = Reconciler(kube, again, options).sync(revision)
    assert second.ok, second.state()
    assert [str(o.id) for o in second.changed] == []
    assert window.writes(user="csops") == []
