#!/usr/bin/env python3
"""One CycloneDX SBOM for the geofn image, written by its build.

    sbom.py --dpkg STATUS --image NAME:TAG CRATE_BOM... > sbom.cdx.json

CRATE_BOM: cargo-cyclonedx's JSON for each Rust artefact in the image (the
host for Linux, each handler component for wasm32-wasip2); its crates are
kept as they are, tagged with the artefact they are linked into. STATUS:
the runtime stage's /var/lib/dpkg/status; every installed Debian package
becomes a `pkg:deb` component. Nothing else is in the image.
"""

import argparse
import json
import sys
import uuid
from datetime import datetime, timezone


def debian_packages(status_path, arch_default="amd64"):
    """Installed packages of a dpkg status file as CycloneDX components."""
    text = open(status_path, encoding="utf-8", errors="replace").read()
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if not fields.get("Package") or "installed" not in fields.get("Status", ""):
            continue
        name, version = fields["Package"], fields.get("Version", "")
        arch = fields.get("Architecture", arch_default)
        purl = f"pkg:deb/debian/{name}@{version}?arch={arch}&distro=debian-12"
        yield {
            "type": "library",
            "bom-ref": purl,
            "name": name,
            "version": version,
            "purl": purl,
            "properties": [{"name": "geofn:source", "value": "debian"}],
        }


def crate_components(bom_path):
    """The crates of one cargo-cyclonedx BOM, with the artefact they belong to."""
    bom = json.load(open(bom_path, encoding="utf-8"))
    artefact = bom["metadata"]["component"]["name"]
    for component in bom.get("components", []):
        component = dict(component)
        component.setdefault("properties", []).append(
            {"name": "geofn:linked-into", "value": artefact}
        )
        yield component
    top = dict(bom["metadata"]["component"])
    top.pop("components", None)
    top["type"] = "application"
    yield top


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dpkg", required=True, help="dpkg status file of the runtime stage")
    parser.add_argument("--image", default="geofn:latest", help="the image this describes")
    parser.add_argument("boms", nargs="+", help="cargo-cyclonedx JSON files")
    args = parser.parse_args()

    components = {}
    for path in args.boms:
        for component in crate_components(path):
            key = component.get("bom-ref") or component.get("purl") or component["name"]
            if key in components:
                # The same crate in several artefacts: one entry, every artefact named.
                known = components[key].setdefault("properties", [])
                for prop in component.get("properties", []):
                    if prop not in known:
                        known.append(prop)
            else:
                components[key] = component
    for component in debian_packages(args.dpkg):
        components[component["bom-ref"]] = component

    name, _, tag = args.image.partition(":")
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.3",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": [{"vendor": "geofn", "name": "deploy/docker/sbom.py"}],
            "component": {
                "type": "container",
                "bom-ref": f"image:{args.image}",
                "name": name,
                "version": tag or "latest",
            },
        },
        "components": sorted(components.values(), key=lambda c: (c["name"], c.get("version", ""))),
    }
    json.dump(bom, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
