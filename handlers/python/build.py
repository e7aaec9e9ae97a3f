#!/usr/bin/env python3
"""Builds a Python handler into one artifact, as `cargo build` does a Rust
one: the component (componentize-py, from wit/ and the SDK) with
the handler's manifest (`geofn-handler.toml` beside its module: name,
routes, limits, migrations) embedded as the `geofn-handler` custom section
the host reads, and its part of the service's OpenAPI document
(`openapi.json` beside it, when there is one) as `geofn-openapi`.

    build.py COMPONENTIZE_PY HANDLER_DIR OUT.wasm [--module app] [--wit FILE] [--sdk DIR]

`--wit` and `--sdk` default to this repository's; a handler made by
`geofn new --lang python` carries its own copies.
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SECTION = "geofn-handler"
OPENAPI_SECTION = "geofn-openapi"


def leb128(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def custom_section(name, data):
    """A wasm custom section (id 0): valid at the end of a component."""
    name = name.encode()
    body = leb128(len(name)) + name + data
    return b"\x00" + leb128(len(body)) + body


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("componentize_py")
    parser.add_argument("handler_dir", type=pathlib.Path)
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--module", default="app")
    parser.add_argument("--wit", type=pathlib.Path, default=ROOT / "wit")
    parser.add_argument("--sdk", type=pathlib.Path, default=HERE / "sdk")
    args = parser.parse_args()
    manifest = (args.handler_dir / "geofn-handler.toml").read_bytes()
    openapi_file = args.handler_dir / "openapi.json"
    openapi = openapi_file.read_bytes() if openapi_file.exists() else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.out.parent) as scratch:
        built = pathlib.Path(scratch) / "component.wasm"
        subprocess.run([args.componentize_py, "-d", str(args.wit),
                        "-w", "handler", "componentize",
                        "-p", str(args.sdk), "-p", str(args.handler_dir),
                        args.module, "-o", str(built)],
                       check=True, stdout=subprocess.DEVNULL)
        with open(built, "ab") as component:
            component.write(custom_section(SECTION, manifest))
            if openapi is not None:
                component.write(custom_section(OPENAPI_SECTION, openapi))
        os.replace(built, args.out)  # whole or not at all: a watcher may be looking
    print(f"built {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
