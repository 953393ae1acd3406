from __future__ import annotations

import pytest

from csops.renderer.names import (
    KubernetesVersion,
    NamingError,
    StackId,
    class_to_release_name,
    parse_release_name,
)
from csops.renderer.versions import Version, VersionError, hash_version

pytestmark = pytest.mark.unit


def test_dot_and_dash_forms_round_trip() -> None:
    v = Version.parse("v0-sha.hipstsw")
    assert (v.major, v.channel, v.patch) == (0, "sha", "hipstsw")
    assert v.dot == "v0-sha.hipstsw"
    assert v.dash == "v0-sha-hipstsw"
    assert Version.parse_dash("v0-sha-hipstsw") == v
    assert Version.parse("v3") == Version(3)
    assert Version(3).dot == Version(3).dash == "v3"


@pytest.mark.parametrize("text", ["1", "v", "v1.2", "va", "v1-alpha", "v1-stable.3", "v-1", ""])
def test_invalid_versions(text: str) -> None:
    with pytest.raises(VersionError):
        Version.parse(text)


def test_numeric_ordering_fixes_cso_string_compare() -> None:
    assert Version.parse("v10") > Version.parse("v9")
    assert Version.parse("v1-alpha.10") > Version.parse("v1-alpha.9")
    assert sorted(Version.parse(t) for t in ["v10", "v2", "v1"]) == [
        Version(1),
        Version(2),
        Version(10),
    ]


def test_bump_uses_integer_arithmetic() -> None:
    assert Version(9).bumped() == Version(10)
    # csctl's BumpVersion would rewrite every integer run: v1-alpha.3 -> v2-alpha.2
    assert Version.parse("v1-alpha.3").bumped() == Version.parse("v1-alpha.4")
    with pytest.raises(VersionError):
        Version.parse("v0-sha.abcdefg").bumped()


def test_hash_version_takes_seven_characters() -> None:
    assert hash_version("d2lgujmpaticdl7mpnct8bzls3xudync2wtveiqe").dot == "v0-sha.d2lgujm"


def test_names_follow_csctl_and_cso() -> None:
    stack = StackId("docker", "ferrol", 1, 27)
    assert stack.prefix == "docker-ferrol-1-27"
    assert (
        stack.release_name(Version.parse("v0-sha.hipstsw")) == "docker-ferrol-1-27-v0-sha-hipstsw"
    )
    assert stack.class_name(Version.parse("v0-sha.hipstsw")) == "docker-ferrol-1-27-v0-sha.hipstsw"
    assert stack.class_chart == "docker-ferrol-1-27-cluster-class"
    assert stack.class_archive(Version(2)) == "docker-ferrol-1-27-cluster-class-v2.tgz"
    assert stack.addon_archive(Version(1)) == "docker-ferrol-1-27-cluster-addon-v1.tgz"
    assert class_to_release_name("docker-ferrol-1-27-v0-sha.hipstsw") == (
        "docker-ferrol-1-27-v0-sha-hipstsw"
    )


def test_parse_release_name() -> None:
    stack, version = parse_release_name("openstack-scs2-1-34-v0-sha-azlfam7")
    assert stack == StackId("openstack", "scs2", 1, 34)
    assert version == Version.parse("v0-sha.azlfam7")
    with pytest.raises(NamingError):
        parse_release_name("hosted-control-plane-1-30-v1")


@pytest.mark.parametrize(
    ("provider", "name"), [("open-stack", "scs"), ("docker", "scs-2"), ("docker", "a.b")]
)
def test_dashes_and_dots_are_refused(provider: str, name: str) -> None:
    with pytest.raises(NamingError):
        StackId(provider, name, 1, 30).check()


def test_kubernetes_version() -> None:
    k = KubernetesVersion.parse("v1.29.4")
    assert (k.minor_dash, k.minor_dot, str(k)) == ("1-29", "1.29", "v1.29.4")
    for bad in ("1.29.4", "v1.29", "v0.29.1", "v1.29.4+rke2"):
        with pytest.raises(NamingError):
            KubernetesVersion.parse(bad)
