"""JSON schemas for kubeconform, generated from CustomResourceDefinitions.

kubeconform validates custom resources offline only against a JSON schema per kind and version,
found by a file-name template. This writes one file per served version of each CRD, named the
way the template `{{.ResourceKind}}-{{.Group}}-{{.ResourceAPIVersion}}.json` finds it
(`atlassianaccount-atlassian.operators.dev-v1beta1.json`), from the CRD's own OpenAPI schema, so
a pull request is checked against exactly what the API server will enforce.

Every object schema that lists its properties gets `additionalProperties: false` (unless it
preserves unknown fields), as `kubectl apply`'s strict field validation rejects an unknown
field: a misspelt `desiredstate:` fails in review, not after the merge.

    python hack/crd_schemas.py OUT_DIR CRD.yaml...          write the schemas
    python hack/crd_schemas.py --check OUT_DIR CRD.yaml...  fail if OUT_DIR is not current

The repository's schemas: examples/gitops/ci/schemas, from crds/ (tests/gitops checks them).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

# What the API server validates on every object whatever its CRD says.
_TYPE_META = {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    "metadata": {"type": "object"},
}


def schema_file_name(kind: str, group: str, version: str) -> str:
    """The name kubeconform's `{{.ResourceKind}}-{{.Group}}-{{.ResourceAPIVersion}}.json` asks
    for (it lower-cases the kind)."""
    return f"{kind.lower()}-{group}-{version}.json"


def closed(schema: Any) -> Any:
    """`schema` with `additionalProperties: false` on every object that lists its properties and
    neither preserves unknown fields nor says otherwise: unknown fields are errors, as with
    `kubectl apply --validate=strict`."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: closed(value) for key, value in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def int_or_string(schema: Any) -> Any:
    """`x-kubernetes-int-or-string` as JSON Schema understands it (kubeconform knows no
    Kubernetes extensions)."""
    if isinstance(schema, list):
        return [int_or_string(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: int_or_string(value) for key, value in schema.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["oneOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


def version_schema(crd: Mapping[str, Any], version: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON schema of one version of a CRD's kind."""
    openapi = (version.get("schema") or {}).get("openAPIV3Schema")
    name = crd.get("metadata", {}).get("name", "?")
    if not isinstance(openapi, dict):
        raise ValueError(
            f"CRD {name} version {version.get('name')} has no schema.openAPIV3Schema: "
            "kubeconform can only check kinds with a structural schema"
        )
    schema = copy.deepcopy(openapi)
    properties = schema.setdefault("properties", {})
    for key, value in _TYPE_META.items():
        properties.setdefault(key, value)
    kind, group = crd["spec"]["names"]["kind"], crd["spec"]["group"]
    properties["apiVersion"] = {"type": "string", "enum": [f"{group}/{version['name']}"]}
    properties["kind"] = {"type": "string", "enum": [kind]}
    result: dict[str, Any] = int_or_string(closed(schema))
    result["$schema"] = "http://json-schema.org/draft-07/schema#"
    return result


def crd_schemas(crd: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """File name -> JSON schema, for each served version of one CRD."""
    if crd.get("kind") != "CustomResourceDefinition":
        raise ValueError(
            f"expected a CustomResourceDefinition, got kind {crd.get('kind')!r} "
            f"({crd.get('metadata', {}).get('name', 'unnamed')})"
        )
    spec = crd["spec"]
    return {
        schema_file_name(spec["names"]["kind"], spec["group"], version["name"]): version_schema(
            crd, version
        )
        for version in spec["versions"]
        if version.get("served", True)
    }


def schemas_of(paths: Iterable[Path]) -> dict[str, str]:
    """File name -> file text (stable JSON) for every CRD in the YAML files at `paths`;
    other documents (a kustomization.yaml, say) are skipped."""
    out: dict[str, str] = {}
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            for name, schema in crd_schemas(doc).items():
                out[name] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def stale(out_dir: Path, wanted: Mapping[str, str]) -> list[str]:
    """What differs between `out_dir` and the schemas `wanted`: missing, changed, or extra."""
    present = {p.name for p in out_dir.glob("*.json")} if out_dir.is_dir() else set()
    problems = [f"missing {n}" for n in sorted(set(wanted) - present)]
    problems += [
        f"changed {n}"
        for n in sorted(set(wanted) & present)
        if (out_dir / n).read_text() != wanted[n]
    ]
    problems += [f"not from any CRD: {n}" for n in sorted(present - set(wanted))]
    return problems


def write(out_dir: Path, wanted: Mapping[str, str]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.json"):
        if old.name not in wanted:
            old.unlink()
    for name, text in wanted.items():
        (out_dir / name).write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if OUT_DIR is not current")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("crds", type=Path, nargs="+", help="CRD YAML files (or directories)")
    args = parser.parse_args(argv)
    files = [f for p in args.crds for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])]
    wanted = schemas_of(files)
    if not wanted:
        print(
            f"error: no CustomResourceDefinition in {', '.join(map(str, args.crds))}",
            file=sys.stderr,
        )
        return 2
    if args.check:
        problems = stale(args.out_dir, wanted)
        if problems:
            print(
                f"{args.out_dir} is not current ({'; '.join(problems)}): run "
                f"python hack/crd_schemas.py {args.out_dir} {' '.join(map(str, args.crds))}",
                file=sys.stderr,
            )
            return 1
        return 0
    write(args.out_dir, wanted)
    for name in sorted(wanted):
        print(args.out_dir / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
