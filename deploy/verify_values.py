"""The geofn chart with values beyond the defaults: an issuer and
per-handler auth policies, handlers pulled from an OCI registry, traces
sent to a collector, handler variables from a Secret and the values."""

import subprocess

import yaml

from verify_common import by_kind, check, env_of, objects, run, validate


def auth(helm_bin, geofn, work):
    """The issuer's settings reach the pods; a handler's policy from the
    values lands in the manifest the host parses, as TOML."""
    import tomllib

    docs = objects(run(
        helm_bin, "template", "geofn", str(geofn),
        "--set", "auth.jwksUrl=https://idp.example/certs,auth.issuer=https://idp.example",
        "--set", "auth.audience=geofn,auth.adminScope=geofn:admin",
        "--set-json", 'auth.policies={"points": {"require": ["POST /point"], '
                      '"scopes": {"POST /point": ["points:write"], "DELETE /points/{id}": ["points:write"]}}}',
    ))
    validate(yaml.safe_dump_all(docs), work, "geofn-auth")
    env = env_of(docs)
    check(env["GEOFN_AUTH_JWKS_URL"]["value"] == "https://idp.example/certs", "auth: the JWKS URL")
    check(env["GEOFN_AUTH_ADMIN_SCOPE"]["value"] == "geofn:admin", "auth: the admin scope")
    manifest = next(d for d in docs if d["kind"] == "ConfigMap" and "geofn.toml" in d.get("data", {}))
    parsed = tomllib.loads(manifest["data"]["geofn.toml"])
    policy = parsed["handlers"]["points"]["auth"]
    check(policy["require"] == ["POST /point"]
          and policy["scopes"]["DELETE /points/{id}"] == ["points:write"],
          "auth: a handler's policy from the values is in the manifest")
    failed = subprocess.run(
        [helm_bin, "template", "geofn", str(geofn), "--set-json", 'auth.policies={"nope": {}}'],
        capture_output=True, text=True)
    check(failed.returncode != 0 and "no handler nope" in failed.stderr,
          "auth: a policy for a handler the manifest lacks is refused")


def tracing(helm_bin, geofn, work):
    """The collector's settings reach the pods as the standard OTEL_*
    variables, headers from a Secret, the pod named in the resource; with
    no endpoint (the default) no OTEL_* variable is set at all."""
    docs = objects(run(
        helm_bin, "template", "geofn", str(geofn),
        "--set", "tracing.endpoint=http://tempo.monitoring:4317,tracing.protocol=grpc",
        "--set", "tracing.samplerArg=0.01,tracing.headersSecret.name=otlp-headers",
    ))
    validate(yaml.safe_dump_all(docs), work, "geofn-tracing")
    env = env_of(docs)
    check(env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://tempo.monitoring:4317"
          and env["OTEL_EXPORTER_OTLP_PROTOCOL"]["value"] == "grpc",
          "tracing: the collector and its protocol")
    check(env["OTEL_TRACES_SAMPLER"]["value"] == "parentbased_traceidratio"
          and env["OTEL_TRACES_SAMPLER_ARG"]["value"] == "0.01",
          "tracing: the sampler follows the caller, then 1%")
    check(env["OTEL_EXPORTER_OTLP_HEADERS"]["valueFrom"]["secretKeyRef"]
          == {"name": "otlp-headers", "key": "headers"},
          "tracing: the collector's headers come from a Secret")
    names = [variable["name"] for variable in next(
        d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]]
    check(names.index("K8S_POD_NAME") < names.index("OTEL_RESOURCE_ATTRIBUTES")
          and "k8s.pod.name=$(K8S_POD_NAME)" in env["OTEL_RESOURCE_ATTRIBUTES"]["value"],
          "tracing: the resource names the pod (defined before it is referenced)")
    plain = env_of(objects(run(helm_bin, "template", "geofn", str(geofn))))
    check(not any(name.startswith("OTEL_") for name in plain),
          "tracing: off by default, no OTEL_* variable")


def variables(helm_bin, geofn, work):
    """A Secret of variables is mounted read-only as the variables
    directory, owner and group only; plain values become
    GEOFN_VAR_<HANDLER>_<NAME>; with neither (the default), nothing."""
    docs = objects(run(
        helm_bin, "template", "geofn", str(geofn),
        "--set", "variables.secretName=geofn-vars",
        "--set-json", 'variables.values={"my-feeds": {"pull_every": "120s"}}',
    ))
    validate(yaml.safe_dump_all(docs), work, "geofn-variables")
    env = env_of(docs)
    pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "vars")
    volume = next(v for v in pod["volumes"] if v["name"] == "vars")
    check(env["GEOFN_VARS_DIR"]["value"] == mount["mountPath"] and mount["readOnly"],
          "variables: the Secret is the variables directory, read-only")
    check(volume["secret"] == {"secretName": "geofn-vars", "defaultMode": 0o440},
          "variables: its files readable by the pod's group only")
    check(env["GEOFN_VAR_MY_FEEDS_PULL_EVERY"]["value"] == "120s",
          "variables: a plain value as GEOFN_VAR_<HANDLER>_<NAME>")
    plain = env_of(objects(run(helm_bin, "template", "geofn", str(geofn))))
    check(not any(name.startswith("GEOFN_VAR") for name in plain),
          "variables: none by default")


def outbound(helm_bin, geofn, work):
    """A handler's outbound list from the values lands in the manifest the
    host parses; a list for a handler the manifest lacks is refused."""
    import tomllib

    docs = objects(run(
        helm_bin, "template", "geofn", str(geofn),
        "--set-json", 'outbound={"feeds": ["https://data.example.org"]}',
    ))
    validate(yaml.safe_dump_all(docs), work, "geofn-outbound")
    manifest = next(d for d in docs if d["kind"] == "ConfigMap" and "geofn.toml" in d.get("data", {}))
    parsed = tomllib.loads(manifest["data"]["geofn.toml"])
    check(parsed["handlers"]["feeds"]["outbound"]["allowed_hosts"] == ["https://data.example.org"],
          "outbound: a handler's list from the values is in the manifest")
    failed = subprocess.run(
        [helm_bin, "template", "geofn", str(geofn), "--set-json", 'outbound={"nope": []}'],
        capture_output=True, text=True)
    check(failed.returncode != 0 and "no handler nope" in failed.stderr,
          "outbound: a list for a handler the manifest lacks is refused")


def oci_handlers(helm_bin, geofn, work):
    """Handlers listed by OCI reference: in the manifest the host parses,
    no component in any ConfigMap, the registry's Secrets mounted where
    the host looks for them; a tag or a bad name refused by helm."""
    import tomllib

    pinned = "oci://registry.example:5000/geo/points-python@sha256:" + "ab" * 32
    values = work / "oci-values.yaml"
    values.write_text(yaml.safe_dump({
        "handlers": {"fromChart": False, "oci": {"points": {
            "reference": pinned, "routes": ["POST /point", "GET /points"],
            "limits": {"memory_mib": 128}}}},
        "registry": {"pullSecret": "regcred", "insecure": ["localhost:32000"],
                     "caSecret": {"name": "registry-ca", "key": "ca.crt"}},
    }))
    docs = objects(run(helm_bin, "template", "geo", str(geofn), "-f", str(values)))
    validate(yaml.safe_dump_all(docs), work, "geofn-oci")
    maps = [d for d in docs if d["kind"] == "ConfigMap"]
    check(len(maps) == 1 and not maps[0].get("binaryData"),
          "oci: one ConfigMap, the manifest; no component in it")
    parsed = tomllib.loads(maps[0]["data"]["geofn.toml"])
    points = parsed["handlers"]["points"]
    check(points["component"] == pinned and points["routes"] == ["POST /point", "GET /points"]
          and points["limits"] == {"memory_mib": 128},
          "oci: the handler's reference, routes and limits in the manifest")
    env = env_of(docs)
    check(env["REGISTRY_AUTH_FILE"]["value"] == "/etc/geofn/registry-auth/.dockerconfigjson",
          "oci: the pull Secret is the pod's auth file")
    check(env["GEOFN_OCI_INSECURE_REGISTRIES"]["value"] == "localhost:32000",
          "oci: plain-HTTP registries named")
    check(env["GEOFN_OCI_CA_FILE"]["value"] == "/etc/geofn/registry-ca/ca.crt", "oci: the CA file")
    pod = by_kind(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    check(volumes["registry-auth"]["secret"]["secretName"] == "regcred"
          and volumes["registry-auth"]["secret"]["items"][0]["key"] == ".dockerconfigjson",
          "oci: the pull Secret mounted")
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    check(mounts.get("handlers") == "/srv/geofn/handlers", "oci: the manifest over the image's")

    # Beside the chart's own handlers: both in one manifest.
    docs = objects(run(helm_bin, "template", "geo", str(geofn),
                       "--set", f"handlers.oci.extra.reference={pinned}"))
    manifest = next(d for d in docs if d["kind"] == "ConfigMap" and "geofn.toml" in d.get("data", {}))
    parsed = tomllib.loads(manifest["data"]["geofn.toml"])
    check(parsed["handlers"]["extra"]["component"] == pinned and "points" in parsed["handlers"],
          "oci: pulled handlers beside the chart's")

    for args, why, needle in [
        (["--set", "handlers.oci.points.reference=oci://registry.example/geo/points:latest",
          "--set", "handlers.fromChart=false"], "a tag", "pinned"),
        (["--set", f"handlers.oci.Bad.reference={pinned}"], "a bad name", "handler name"),
        (["--set", f"handlers.oci.points.reference={pinned}"], "a name the chart has", "already has"),
    ]:
        result = subprocess.run([helm_bin, "template", "geo", str(geofn), *args],
                                capture_output=True, text=True)
        check(result.returncode != 0 and needle in result.stderr, f"oci: helm template refuses {why}")
