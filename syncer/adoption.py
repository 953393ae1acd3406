"""Adoption: an object that exists before csops first applies it belongs to whoever made it.

csops takes such an object over (applies its fields, labels it as part of its set, and may
later prune it) only with consent: the live object carries ``csops.io/adopt: "true"`` (set by
whoever may change it), or the sync runs with ``--adopt``. An object csops itself wrote (its
field manager is among the object's managers: another csops sync's, a shared CRD) is not
another manager's and moves without consent. Consent never comes from the repository: a change
to the manifests cannot grant itself an object someone else made. Without consent the object
is left untouched and reported. Pure: metadata in, a decision out.
"""

from __future__ import annotations

from typing import Any

from csops.syncer.objects import ObjectId

ADOPT_ANNOTATION = "csops.io/adopt"


def consented(meta: dict[str, Any], adopt_all: bool, manager: str) -> bool:
    """Whether csops (field manager ``manager``) may take over the live object ``meta``."""
    annotations = meta.get("annotations") or {}
    return (
        adopt_all
        or str(annotations.get(ADOPT_ANNOTATION, "")).lower() == "true"
        or manager in managers(meta)
    )


def managers(meta: dict[str, Any]) -> list[str]:
    """Who wrote the object's fields (its ``managedFields`` managers), sorted."""
    return sorted({str(e.get("manager", "")) for e in meta.get("managedFields") or []} - {""})


def refusal(oid: ObjectId, meta: dict[str, Any], owner_label: str) -> str:
    """Why an object is not taken over, and how to allow it."""
    owner = (meta.get("labels") or {}).get(owner_label)
    whose = f"belongs to {owner}" if owner else "was not created by this csops sync"
    made = managers(meta)
    by = f" (managed by {', '.join(made)})" if made else ""
    return (
        f"{oid} already exists and {whose}{by}; csops does not take it over without consent: "
        f"annotate it {ADOPT_ANNOTATION}=true or sync with --adopt"
    )
