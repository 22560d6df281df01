"""No silent typos, whatever the client sends: unknown spec fields are refused at admission, not pruned.

Why not pruning: the API server prunes unknown fields while decoding, so a client that sends no `fieldValidation`
(most GitOps tools and Kubernetes client libraries) gets its object stored without the mistyped field and only a
Warning header: `network.isolation` instead of `isolationMode` leaves a workspace open to the internet.

Why not a CRD CEL rule alone: CEL in a CRD sees an object with `properties` as a typed object and never exposes
keys the schema does not declare (k8s.io/apiserver/pkg/cel/common/schemas.go: "The CEL declaration for objects
with XPreserveUnknownFields does not expose unknown fields"), so a rule cannot list them.

What works, derived from the schema (generic: a field anyone adds to `properties` is allowed automatically):
1. every object under `spec` keeps unknown fields (`x-kubernetes-preserve-unknown-fields: true`), bounded by
   `maxProperties` (the declared keys plus a little room, so a typo is reported by name, not by count);
2. one ValidatingAdmissionPolicy per kind, whose CEL sees the admitted object as plain data (every key), refuses
   any key an object does not declare, naming the field path and the allowed keys.
`kubectl explain` still documents every field: the properties stay in the published OpenAPI.
"""

from __future__ import annotations

from typing import Any, Iterator

from .common import GROUP, PLURALS as _KIND_PLURALS, VERSION
from .grant import KIND_GRANT, PLURAL_GRANT

PLURALS = {**_KIND_PLURALS, KIND_GRANT: PLURAL_GRANT}  # the grant (docs/tenancy.md) refuses unknown fields too

Schema = dict[str, Any]
PRESERVE = "x-kubernetes-preserve-unknown-fields"
SPARE_PROPERTIES = 8  # room above the declared keys, so the CEL message (not maxProperties) names a typo


def keep_unknown_fields(schema: Schema) -> Schema:
    """Mark every object with `properties` under `schema` (in place, recursively through lists) and bound it."""
    for node in _objects(schema, ""):
        node[1][PRESERVE] = True
        node[1]["maxProperties"] = len(node[1]["properties"]) + SPARE_PROPERTIES
    return schema


def _objects(schema: Schema, path: str) -> Iterator[tuple[str, Schema]]:
    """(CEL-ish path, node) for every object with declared properties, outermost first. `[]` marks list items."""
    if schema.get("type") == "object" and schema.get("properties"):
        yield path, schema
        for name, prop in schema["properties"].items():
            yield from _objects(prop, f"{path}.{name}")
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        yield from _objects(schema["items"], f"{path}[]")


def _cel_list(names: list[str]) -> str:
    return "[" + ", ".join(f"'{n}'" for n in names) + "]"


def _validation(path: str, node: Schema) -> Schema:
    """One VAP validation for the object at `path` (e.g. `.spec.network` or `.spec.targets[]`)."""
    allowed = sorted(node["properties"])
    keys = _cel_list(allowed)
    parts = [p for p in path.split(".") if p]

    # Build `guard || check` from the outside in; list items become `.all(iN, ...)` (N: nesting depth).
    def build(expr: str, rest: list[str], shown: str, depth: int = 0) -> tuple[str, str]:
        where = shown.lstrip(".")
        if not rest:
            check = f"{expr}.all(k, k in {keys})"
            message = (f"'{where}: unknown field(s) ' + {expr}.filter(k, !(k in {keys})).join(', ') + "
                       f"' (allowed: {', '.join(allowed)}); check the spelling'")
            return check, message
        head, tail = rest[0], rest[1:]
        name = head.removesuffix("[]")
        child = f"{expr}.{name}"
        if head.endswith("[]"):
            item = f"i{depth}"
            inner_check, _ = build(item, tail, f"{shown}.{name}[]", depth + 1)
            check = f"!has({child}) || {child}.all({item}, {inner_check})"
            if tail:  # an object nested inside list items: name the list
                return check, f"'{where}.{name}[]: an item has unknown fields; check the spelling'"
            # The unknown keys of every offending item.
            bad = f"{child}.filter({item}, !({inner_check}))"
            message = (f"'{where}.{name}[]: unknown field(s) ' + {bad}.map({item}, {item}.filter(k, !(k in {keys}))"
                       f".join(', ')).join('; ') + ' (allowed: {', '.join(allowed)}); check the spelling'")
            return check, message
        inner_check, inner_message = build(child, tail, f"{shown}.{name}", depth)
        return f"!has({child}) || ({inner_check})", inner_message

    check, message = build("object", parts, "")
    return {"expression": check, "messageExpression": message, "reason": "Invalid"}


# Only a request that writes the spec is checked. An update that leaves the spec as it is (a finalizer, a label, an
# annotation: most of an operator's writes) cannot add an unknown field, so evaluating every expression again was
# pure cost (about 5% of the API server's CPU while 3,300 objects converged, docs/scale.md); and an object stored before
# the policy existed can still lose its finalizer, so its deletion does not hang.
SPEC_WRITTEN = {
    "name": "spec-written",
    "expression": "request.operation == 'CREATE' || !has(oldObject.spec) || !has(object.spec) || "
                  "object.spec != oldObject.spec",
}


def policy_name(kind: str) -> str:
    return f"{PLURALS[kind]}.strict-fields.{GROUP}"


def strict_fields_policy(kind: str, root: Schema) -> list[Schema]:
    """The ValidatingAdmissionPolicy and its binding for one kind, derived from its openAPIV3Schema."""
    spec = root["properties"]["spec"]
    validations = [_validation(path, node) for path, node in _objects(spec, ".spec")]
    labels = {"app.kubernetes.io/name": "promptflow-netiso", "app.kubernetes.io/part-of": "promptflow-netiso"}
    name = policy_name(kind)
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [{
                    "apiGroups": [GROUP], "apiVersions": [VERSION], "operations": ["CREATE", "UPDATE"],
                    "resources": [PLURALS[kind]],
                }]},
                "matchConditions": [SPEC_WRITTEN],
                "validations": validations,
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name, "labels": labels},
            "spec": {"policyName": name, "validationActions": ["Deny"]},
        },
    ]
