"""Validators for the OCI runtime spec's JSON schemas (tests/data/oci-runtime-schema),
their relative ``$ref``s (defs.json ...) resolved against the directory's files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "data" / "oci-runtime-schema"


def runtime_validator(name: str) -> jsonschema.protocols.Validator:
    """A validator for one schema file of the runtime spec, e.g. ``state-schema.json``."""
    resources = [
        (f"file://{SCHEMA_DIR}/{path.name}",
         Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT4))
        for path in SCHEMA_DIR.glob("*.json")
    ]
    registry = Registry().with_resources(resources)
    schema = dict(json.loads((SCHEMA_DIR / name).read_text()))
    schema["id"] = f"file://{SCHEMA_DIR}/{name}"  # draft 4's base URI keyword
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, registry=registry)
