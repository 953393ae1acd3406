"""ValidatingAdmissionPolicies that guard the management cluster as CSO's webhooks do.

The Kubernetes API server enforces these itself (CEL, GA since 1.30): no webhook server to run,
certify or keep available. Two policies, each with one binding:

- ``csops-cluster-topology`` guards ``Cluster`` (``cluster.x-k8s.io`` ``v1beta1`` and
  ``v1beta2``): a Cluster on a class csops renders must carry that release's Kubernetes
  version, and a class switch must stay within the stack, moving the minor by 0 or +1. Its
  parameter is the class table, a cluster-scoped ``ClusterClassTable`` (``csops.io``):
  ``<class namespace>.<class name>`` → Kubernetes version, rendered from the same releases as
  the classes, so one sync updates both. (A CRD, not a ConfigMap: the API server can lose
  track of a core-type parameter for good once its binding was deleted, Kubernetes #130887.)
- ``csops-clusterstack-spec`` guards ``ClusterStack``: immutable provider, name,
  kubernetesVersion and channel; versions that parse; ``providerRef`` unless ``noProvider``.
- ``csops-clusterstack-channel`` advises (warns, never denies) when a ``stable`` ClusterStack
  lists versions of another channel, which CSO documents as wrong but accepts.

An update that changes neither the class nor the version of a Cluster is never refused; a
Cluster on a class csops does not render is left alone. ``docs/admission.md`` lists every rule
next to CSO's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from csops.renderer import crds
from csops.renderer.config import AdmissionConfig

API_VERSION = "admissionregistration.k8s.io/v1"
CLUSTER_POLICY = "csops-cluster-topology"
STACK_POLICY = "csops-clusterstack-spec"
CHANNEL_POLICY = "csops-clusterstack-channel"
CLASS_TABLE = "csops-cluster-classes"
TABLE_API_VERSION = "csops.io/v1alpha1"
TABLE_KIND = "ClusterClassTable"
MANAGED_BY = {"app.kubernetes.io/managed-by": "csops"}

# CSO's dot-form version grammar (``^v\d+(-\b\w+\b\.\w+)?$``) and the stable channel's subset.
VERSION_PATTERN = "^v[0-9]+(-[A-Za-z0-9_]+[.][A-Za-z0-9_]+)?$"
STABLE_PATTERN = r"^v[0-9]+$"


@dataclass(frozen=True, order=True)
class GuardedClass:
    """A ClusterClass csops renders, and the Kubernetes version its release pins."""

    namespace: str
    name: str
    kubernetes: str

    @property
    def key(self) -> str:
        """The class table key: namespaces have no dots, so the first dot separates."""
        return f"{self.namespace}.{self.name}"


def class_table(classes: Iterable[GuardedClass]) -> dict[str, str]:
    """``<namespace>.<class>`` → Kubernetes version, for the policy's parameter."""
    return {c.key: c.kubernetes for c in sorted(classes)}


def _topology(obj: str, field: str) -> str:
    return f"{obj}.?spec.?topology.?{field}"


def _class_of(obj: str) -> str:
    """CEL: the class name of a Cluster in either API version (``classRef`` or ``class``)."""
    return f"{_topology(obj, 'classRef')}.?name.orValue({_topology(obj, 'class')}.orValue(''))"


def _class_namespace_of(obj: str) -> str:
    """CEL: the class namespace of a Cluster; the Cluster's own when neither field is set."""
    return (
        f"[string({_topology(obj, 'classRef')}.?namespace.orValue('')), "
        f"string({_topology(obj, 'classNamespace')}.orValue('')), request.namespace]"
        ".filter(n, n != '')[0]"
    )


def _old(expression: str) -> str:
    """CEL: ``expression`` over ``oldObject`` on UPDATE, ``''`` on CREATE."""
    return f"request.operation == 'UPDATE' ? {expression} : ''"


def _stack_class(parts: str) -> str:
    """CEL: whether a split class name is ``<provider>-<name>-<major>-<minor>-<version>``."""
    return (
        f"{parts}.size() in [5, 6] && {parts}[0] != '' && {parts}[1] != '' && "
        f"{parts}[2].matches('^[0-9]+$') && {parts}[3].matches('^[0-9]+$')"
    )


_SWITCH = "variables.classChanged && (variables.expected != '' || variables.oldExpected != '')"
_FROM_TO = "'switching ClusterClass from ' + variables.oldClass + ' to ' + variables.newClass"


def _cluster_validations() -> list[dict[str, Any]]:
    both = f"!({_SWITCH}) || !variables.bothParse || "
    return [
        {
            "expression": "!variables.versionChecked || variables.expected == '' || "
            "variables.version == variables.expected",
            "messageExpression": "'ClusterClass ' + variables.newClass + ' (namespace ' + "
            "variables.classNamespace + ') expects Kubernetes version ' + variables.expected + "
            "', but spec.topology.version is ' + "
            "(variables.version == '' ? 'empty' : variables.version) + "
            "': set it to ' + variables.expected",
            "message": "spec.topology.version must equal the Kubernetes version of its class",
            "reason": "Invalid",
        },
        {
            "expression": f"!({_SWITCH}) || variables.bothParse",
            "messageExpression": _FROM_TO + " + ': both must be cluster stack classes "
            "<provider>-<name>-<major>-<minor>-<version>'",
            "message": "a class switch must stay within one cluster stack",
            "reason": "Invalid",
        },
        {
            "expression": both + "variables.newParts[0] == variables.oldParts[0]",
            "messageExpression": _FROM_TO + " + ' changes the provider from ' + "
            "variables.oldParts[0] + ' to ' + variables.newParts[0] + "
            "': a class switch must stay within one cluster stack'",
            "message": "a class switch must not change the provider",
            "reason": "Invalid",
        },
        {
            "expression": both + "variables.newParts[1] == variables.oldParts[1]",
            "messageExpression": _FROM_TO + " + ' changes the cluster stack from ' + "
            "variables.oldParts[1] + ' to ' + variables.newParts[1] + "
            "': a class switch must stay within one cluster stack'",
            "message": "a class switch must not change the cluster stack name",
            "reason": "Invalid",
        },
        {
            "expression": both + "(variables.newParts[2] == variables.oldParts[2] && "
            "int(variables.newParts[3]) - int(variables.oldParts[3]) in [0, 1])",
            "messageExpression": _FROM_TO + " + ' moves Kubernetes from ' + "
            "variables.oldParts[2] + '.' + variables.oldParts[3] + ' to ' + "
            "variables.newParts[2] + '.' + variables.newParts[3] + "
            "': the minor may stay or go up by one (' + variables.oldParts[2] + '.' + "
            "variables.oldParts[3] + ' or ' + variables.oldParts[2] + '.' + "
            "string(int(variables.oldParts[3]) + 1) + ')'",
            "message": "a class switch may keep the Kubernetes minor or raise it by one",
            "reason": "Invalid",
        },
    ]


def _policy(
    name: str,
    resource: tuple[str, list[str], str],
    variables: list[tuple[str, str]],
    validations: list[dict[str, Any]],
) -> dict[str, Any]:
    """A policy on creates and updates of one resource (group, versions, plural)."""
    group, versions, plural = resource
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": dict(MANAGED_BY)},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [group],
                        "apiVersions": versions,
                        "resources": [plural],
                        "operations": ["CREATE", "UPDATE"],
                    }
                ]
            },
            "variables": [{"name": n, "expression": e} for n, e in variables],
            "validations": validations,
        },
    }


def cluster_policy() -> dict[str, Any]:
    """The policy on ``Cluster``: version matches the class; switches stay in the stack."""
    variables = [
        ("newClass", _class_of("object")),
        ("classNamespace", _class_namespace_of("object")),
        ("version", f"{_topology('object', 'version')}.orValue('')"),
        ("oldClass", _old(_class_of("oldObject"))),
        ("oldClassNamespace", _old(_class_namespace_of("oldObject"))),
        ("oldVersion", _old(f"{_topology('oldObject', 'version')}.orValue('')")),
        (
            "expected",
            "params.?classes[?(variables.classNamespace + '.' + variables.newClass)].orValue('')",
        ),
        (
            "oldExpected",
            "params.?classes[?(variables.oldClassNamespace + '.' + variables.oldClass)]"
            ".orValue('')",
        ),
        (
            "classChanged",
            "request.operation == 'UPDATE' && (variables.newClass != variables.oldClass || "
            "variables.classNamespace != variables.oldClassNamespace)",
        ),
        (
            "versionChecked",
            "request.operation == 'CREATE' || variables.classChanged || "
            "variables.version != variables.oldVersion",
        ),
        ("newParts", "variables.newClass.split('-')"),
        ("oldParts", "variables.oldClass.split('-')"),
        (
            "bothParse",
            f"({_stack_class('variables.newParts')}) && ({_stack_class('variables.oldParts')})",
        ),
    ]
    policy = _policy(
        CLUSTER_POLICY,
        ("cluster.x-k8s.io", ["v1beta1", "v1beta2"], "clusters"),
        variables,
        _cluster_validations(),
    )
    policy["spec"]["paramKind"] = {"apiVersion": TABLE_API_VERSION, "kind": TABLE_KIND}
    return policy


def _immutable(field: str, default: str | None = None) -> dict[str, Any]:
    if default is None:
        new, old = f"object.spec.{field}", f"oldObject.spec.{field}"
    else:
        new = f"object.spec.?{field}.orValue('{default}')"
        old = f"oldObject.spec.?{field}.orValue('{default}')"
    return {
        "expression": f"request.operation != 'UPDATE' || {new} == {old}",
        "messageExpression": f"'spec.{field} is immutable: it was ' + {old} + ', not ' + {new} + "
        "'; create another ClusterStack instead'",
        "message": f"spec.{field} is immutable",
        "reason": "Invalid",
    }


def stack_policy() -> dict[str, Any]:
    """The policy on ``ClusterStack``: immutable identity, valid versions, a provider."""
    variables = [
        ("update", "request.operation == 'UPDATE'"),
        ("channel", "object.spec.?channel.orValue('stable')"),
        ("versions", "object.spec.?versions.orValue([])"),
        (
            "versionsChecked",
            "!variables.update || variables.versions != oldObject.spec.?versions.orValue([]) || "
            "variables.channel != oldObject.spec.?channel.orValue('stable')",
        ),
        (
            "providerChecked",
            "!variables.update || "
            "object.spec.?noProvider.orValue(false) != oldObject.spec.?noProvider.orValue(false) "
            "|| object.spec.?providerRef.hasValue() != oldObject.spec.?providerRef.hasValue()",
        ),
    ]
    validations = [
        _immutable("provider"),
        _immutable("name"),
        _immutable("kubernetesVersion"),
        _immutable("channel", "stable"),
        {
            "expression": "!variables.versionsChecked || "
            f"variables.versions.all(v, v.matches('{VERSION_PATTERN}'))",
            "messageExpression": "'spec.versions: ' + variables.versions.filter(v, "
            f"!v.matches('{VERSION_PATTERN}')).join(', ') + ' is not a cluster stack version "
            "(v<major> or v<major>-<channel>.<patch>)'",
            "message": "spec.versions holds an invalid cluster stack version",
            "reason": "Invalid",
        },
        {
            "expression": "!variables.providerChecked || object.spec.?noProvider.orValue(false) "
            "|| object.spec.?providerRef.hasValue()",
            "message": "spec.providerRef is required unless spec.noProvider is true",
            "reason": "Invalid",
        },
    ]
    return _policy(
        STACK_POLICY,
        ("clusterstack.x-k8s.io", ["v1alpha1"], "clusterstacks"),
        variables,
        validations,
    )


def channel_policy() -> dict[str, Any]:
    """Advice on ``ClusterStack``: a ``stable`` ClusterStack lists stable versions only.

    CSO documents the rule but accepts any valid version, so its binding warns, never denies.
    """
    variables = [
        ("versions", "object.spec.?versions.orValue([])"),
        (
            "offChannel",
            f"variables.versions.filter(v, v.matches('{VERSION_PATTERN}') && "
            f"!v.matches('{STABLE_PATTERN}'))",
        ),
    ]
    validation = {
        "expression": "object.spec.?channel.orValue('stable') != 'stable' || "
        "variables.offChannel.size() == 0",
        "messageExpression": "'spec.versions: ' + variables.offChannel.join(', ') + "
        "' is not in the stable channel (v<major>) of this ClusterStack; CSO documents that "
        "versions correspond to the channel: new ClusterStacks should use channel: custom'",
        "message": "spec.versions should correspond to spec.channel",
        "reason": "Invalid",
    }
    return _policy(
        CHANNEL_POLICY,
        ("clusterstack.x-k8s.io", ["v1alpha1"], "clusterstacks"),
        variables,
        [validation],
    )


def advisory(actions: tuple[str, ...]) -> tuple[str, ...]:
    """The actions of an advice policy: what ``actions`` would do, with a warning for Deny."""
    mapped = ("Warn" if action == "Deny" else action for action in actions)
    return tuple(dict.fromkeys(mapped))


def _binding(policy: str, actions: tuple[str, ...], *, table: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"policyName": policy, "validationActions": list(actions)}
    if table:
        spec["paramRef"] = {"name": CLASS_TABLE, "parameterNotFoundAction": "Allow"}
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": policy, "labels": dict(MANAGED_BY)},
        "spec": spec,
    }


def objects(config: AdmissionConfig, classes: Iterable[GuardedClass]) -> list[dict[str, Any]]:
    """The class table (and its CRD), policies and bindings; nothing when turned off."""
    if not config.enabled:
        return []
    table = {
        "apiVersion": TABLE_API_VERSION,
        "kind": TABLE_KIND,
        "metadata": {"name": CLASS_TABLE, "labels": dict(MANAGED_BY)},
        "classes": class_table(classes),
    }
    return [
        crds.crd("clusterclasstable"),
        table,
        cluster_policy(),
        _binding(CLUSTER_POLICY, config.actions, table=True),
        stack_policy(),
        _binding(STACK_POLICY, config.actions),
        channel_policy(),
        _binding(CHANNEL_POLICY, advisory(config.actions)),
    ]
