"""The AWS provider's schema, offline, and a check of terraform/ against it.

No Terraform provider can be downloaded on these machines, so ``terraform validate`` cannot run.
The provider's schema is public on npm all the same: ``@cdktf/provider-aws`` (pinned in
tools/terraform-schema/package-lock.json) is generated from one hashicorp/aws release, and its
``.jsii`` type file describes every resource and data source: each argument and nested block, by
its Terraform name (the registry link in each property's docs), and whether it is required.

  python scripts/terraform_schema.py extract   .jsii -> .local/terraform-schema/aws-provider.json
  python scripts/terraform_schema.py check [DIR]   every resource and data block of DIR
                                                   (default terraform/) against that schema

``check`` prints one line per problem, naming the file, the block and the argument: an unknown
resource or data source type, an unknown argument or nested block at any depth, a missing
required argument (a ``dynamic`` block provides its block). Exit 0 clean, 1 problems, 2 when the
schema has not been extracted. ``make tf-check`` and ``make test`` install and extract it once.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / ".local" / "terraform-schema"
JSII = SCHEMA_DIR / "node_modules" / "@cdktf" / "provider-aws" / ".jsii"
CACHE = SCHEMA_DIR / "aws-provider.json"

# A class's summary: "Represents a {@link https://registry.terraform.io/providers/hashicorp/aws/6.25.0
# /docs/resources/glue_job aws_glue_job}." (one line in the file)
_TOP_LINK = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/hashicorp/aws/([^/]+)/docs/"
    r"(resources|data-sources)/\w+ (\w+)\}"
)
# "Docs at Terraform Registry: {@link https://.../docs/resources/glue_job#role_arn GlueJob#role_arn}"
_PROPERTY_LINK = re.compile(r"\{@link https://registry\.terraform\.io/providers/hashicorp/aws/[^ ]*#(\w+) ")

# Terraform's own meta-arguments (cdktf keeps them in another package, cdktf.TerraformMetaArguments).
RESOURCE_META = {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"}
DATA_META = {"count", "for_each", "depends_on", "provider", "lifecycle"}


class ExtractionError(RuntimeError):
    """The .jsii holds something this extraction cannot map: never silently skipped."""


@dataclass
class Extraction:
    types: dict[str, Any]
    version: str = ""
    blocks: dict[str, dict[str, list]] = field(default_factory=dict)  # struct fqn -> arguments
    properties_seen: int = 0
    properties_mapped: int = 0

    def struct_of(self, type_ref: dict[str, Any]) -> str | None:
        """The nested struct a property's type holds (a block or an object), or None for a
        primitive, a list of primitives, a map, or cdktf's own types."""
        if "fqn" in type_ref:
            target = self.types.get(type_ref["fqn"])
            if target and target.get("kind") == "interface" and target.get("datatype"):
                return type_ref["fqn"]
            return None
        if "collection" in type_ref:
            collection = type_ref["collection"]
            return self.struct_of(collection["elementtype"]) if collection["kind"] == "array" else None
        if "union" in type_ref:
            found = {s for t in type_ref["union"]["types"] if (s := self.struct_of(t))}
            if len(found) > 1:
                raise ExtractionError(f"a union of several structs: {sorted(found)}")
            return found.pop() if found else None
        return None

    def arguments(self, fqn: str) -> dict[str, list]:
        """{terraform name: [required, nested struct fqn or None]} of a config or nested struct."""
        if fqn in self.blocks:
            return self.blocks[fqn]
        self.blocks[fqn] = result = {}  # placed first: a struct may (indirectly) contain itself
        struct = self.types[fqn]
        for interface in struct.get("interfaces", []):
            if interface != "cdktf.TerraformMetaArguments":
                raise ExtractionError(f"{fqn} inherits {interface}, which is not mapped")
        for prop in struct.get("properties", []):
            self.properties_seen += 1
            docs = prop.get("docs", {})
            found = _PROPERTY_LINK.search(f"{docs.get('summary', '')} {docs.get('remarks', '')}")
            if not found:
                raise ExtractionError(f"{fqn}.{prop['name']} has no Terraform name in its docs")
            nested = self.struct_of(prop["type"])
            result[found.group(1)] = [not prop.get("optional", False), nested]
            self.properties_mapped += 1
            if nested:
                self.arguments(nested)
        return result


def extract(jsii_path: Path = JSII) -> dict[str, Any]:
    """The compact schema: {"version", "resources": {type: struct}, "data_sources": {...},
    "blocks": {struct: {argument: [required, struct or None]}}, "stats"}."""
    assembly = json.loads(jsii_path.read_text(encoding="utf-8"))
    ex = Extraction(types=assembly["types"])
    tops: dict[str, dict[str, str]] = {"resources": {}, "data-sources": {}}
    for fqn, entry in sorted(ex.types.items()):
        if entry.get("kind") != "class":
            continue
        if not any(p["name"] == "tfResourceType" and p.get("static") for p in entry.get("properties", [])):
            continue
        if fqn.endswith(".provider.AwsProvider"):
            continue  # the provider block itself, not a resource
        found = _TOP_LINK.search(entry.get("docs", {}).get("summary", ""))
        if not found:
            raise ExtractionError(f"{fqn}: no resource or data source link in its docs")
        version, kind, tf_type = found.groups()
        if ex.version and version != ex.version:
            raise ExtractionError(f"{fqn} documents provider {version}, others {ex.version}")
        ex.version = version
        params = entry.get("initializer", {}).get("parameters", [])
        config = next((p["type"]["fqn"] for p in params if p["name"] == "config"), None)
        if config is None:
            raise ExtractionError(f"{fqn}: its constructor takes no config")
        if tf_type in tops[kind]:
            raise ExtractionError(f"{tf_type} is defined twice")
        tops[kind][tf_type] = config
        ex.arguments(config)
    if ex.properties_seen != ex.properties_mapped:  # belt and braces: arguments() raises first
        raise ExtractionError(f"{ex.properties_seen - ex.properties_mapped} properties unmapped")
    # Short struct names keep the file small: index them.
    ids = {fqn: str(i) for i, fqn in enumerate(sorted(ex.blocks))}
    return {
        "provider": "hashicorp/aws",
        "version": ex.version,
        "source": f"@cdktf/provider-aws {assembly['version']}",
        "resources": {t: ids[c] for t, c in sorted(tops["resources"].items())},
        "data_sources": {t: ids[c] for t, c in sorted(tops["data-sources"].items())},
        "blocks": {
            ids[fqn]: {name: [int(req), ids[n] if n else None] for name, (req, n) in args.items()}
            for fqn, args in ex.blocks.items()
        },
        "stats": {
            "resources": len(tops["resources"]),
            "data_sources": len(tops["data-sources"]),
            "structs": len(ex.blocks),
            "properties": ex.properties_seen,
            "properties_mapped": ex.properties_mapped,
        },
    }


# -- checking ----------------------------------------------------------------------------------


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _bodies(value: Any) -> list[dict[str, Any]]:
    """A block's bodies (python-hcl2 gives a list of dicts) or an object attribute's one dict;
    [] for an expression (a reference, a function call), which cannot be checked statically."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


@dataclass(frozen=True)
class Schema:
    data: dict[str, Any]

    @classmethod
    def load(cls, path: Path = CACHE) -> Schema:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def check_body(self, struct: str, body: dict[str, Any], where: str, meta: set[str]) -> Iterator[str]:
        arguments = self.data["blocks"][struct]
        present: set[str] = set()
        for key, value in body.items():
            if key.startswith("__"):  # python-hcl2's own markers (__is_block__, comments)
                continue
            if key == "dynamic":
                for dynamic in _bodies(value):
                    for label, spec in dynamic.items():
                        if label.startswith("__"):
                            continue
                        name = _unquote(label)
                        present.add(name)
                        if name not in arguments or arguments[name][1] is None:
                            yield f"{where}: unknown nested block {name!r} (dynamic)"
                            continue
                        for content in _bodies(spec.get("content", [])) if isinstance(spec, dict) else []:
                            yield from self.check_body(arguments[name][1], content, f"{where}.{name}", set())
                continue
            if key in meta:
                continue
            if key not in arguments:
                yield f"{where}: unknown argument {key!r}"
                continue
            present.add(key)
            nested = arguments[key][1]
            if nested is not None:
                for inner in _bodies(value):
                    yield from self.check_body(nested, inner, f"{where}.{key}", set())
        for name, (required, _) in sorted(arguments.items()):
            if required and name not in present:
                yield f"{where}: missing required argument {name!r}"

    def check_file(self, path: Path, relative: str) -> Iterator[str]:
        import hcl2

        with path.open(encoding="utf-8") as fh:
            document = hcl2.load(fh)
        for kind, table, meta in (
            ("resource", "resources", RESOURCE_META),
            ("data", "data_sources", DATA_META),
        ):
            for block in document.get(kind, []):
                for tf_type, by_name in block.items():
                    tf_type = _unquote(tf_type)
                    for name, body in by_name.items():
                        where = f"{relative}: {kind} {tf_type}.{_unquote(name)}"
                        struct = self.data[table].get(tf_type)
                        if struct is None:
                            what = "resource" if kind == "resource" else "data source"
                            release = f"hashicorp/aws {self.data['version']}"
                            yield f"{where}: unknown {what} type {tf_type!r} in {release}"
                            continue
                        yield from self.check_body(struct, body, where, meta)


def check_tree(directory: Path, schema: Schema) -> list[str]:
    problems: list[str] = []
    for path in sorted(directory.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        problems.extend(schema.check_file(path, str(path.relative_to(directory.parent))))
    return problems


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "extract":
        if not JSII.is_file():
            print(f"error: {JSII} not found: install it with `make tf-schema`", file=sys.stderr)
            return 2
        try:
            schema = extract(JSII)
        except ExtractionError as exc:
            print(f"error: cannot extract the provider schema: {exc}", file=sys.stderr)
            return 1
        CACHE.write_text(json.dumps(schema, separators=(",", ":")), encoding="utf-8")
        print(f"extracted hashicorp/aws {schema['version']} into {CACHE}: {json.dumps(schema['stats'])}")
        return 0
    if command == "check":
        directory = Path(argv[1]) if len(argv) > 1 else ROOT / "terraform"
        if not CACHE.is_file():
            print(f"error: {CACHE} not found: run `make tf-schema`", file=sys.stderr)
            return 2
        schema = Schema.load()
        problems = check_tree(directory.resolve(), schema)
        for line in problems:
            print(line)
        print(
            f"provider schema (hashicorp/aws {schema.data['version']}): "
            f"{len(problems)} problem(s) in {directory}",
            file=sys.stderr,
        )
        return 1 if problems else 0
    print("usage: terraform_schema.py extract | check [DIR]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
