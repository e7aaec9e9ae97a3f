"""What the deploy checks share: running a tool, reporting a check,
rendered objects, and their validation against the Kubernetes and
CloudNativePG schemas."""

import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent
K8S_VERSION = "1.30.0"


def run(*args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"FAILED: {' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def check(condition, what):
    if not condition:
        sys.exit(f"FAILED: {what}")
    print(f"ok: {what}")


def objects(rendered):
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def by_kind(docs, kind):
    found = [d for d in docs if d["kind"] == kind]
    check(found, f"a {kind} is rendered")
    return found[0]


CNPG_KINDS = {"Cluster", "ScheduledBackup"}


def validate(rendered, work, name):
    docs = objects(rendered)
    kubernetes = [d for d in docs if d["kind"] not in CNPG_KINDS]
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump_all(kubernetes))
    run("kubernetes-validate", "--strict", "-k", K8S_VERSION, str(path))
    print(f"ok: {name} validates against Kubernetes {K8S_VERSION}")
    for doc in docs:
        if doc["kind"] in CNPG_KINDS:
            validate_cnpg(doc, name)


def unknown_fields(value, schema, path="$"):
    """Fields of `value` its structural schema does not declare."""
    if schema.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in schema:
        return []
    found = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{path}.{key}")
            else:
                found += unknown_fields(item, schema["properties"][key], f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{i}]")
    return found


def validate_cnpg(doc, name):
    import json

    import jsonschema

    check(doc["apiVersion"] == "postgresql.cnpg.io/v1", f"{name}: {doc['kind']} is postgresql.cnpg.io/v1")
    schema = json.loads((ROOT / f"schemas/cloudnative-pg/{doc['kind']}-v1.json").read_text())
    body = doc
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(body)]
    check(not errors, f"{name}: {doc['kind']} matches the CloudNativePG v1 schema {errors}")
    unknown = unknown_fields(body, schema)
    check(not unknown, f"{name}: {doc['kind']} uses only fields CloudNativePG v1 knows {unknown}")


def env_of(docs):
    container = by_kind(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e for e in container["env"]}
