#!/usr/bin/env python3
"""Checks the deploy files with what runs without Docker or Kubernetes.

- Helm: `helm lint` both charts; `helm template` with default and
  non-default values, in each database mode (bundled, cloudnativepg,
  external); every rendered Kubernetes object validated against the
  Kubernetes 1.30 schemas (kubernetes-validate, strict), every
  CloudNativePG object against the operator's v1 schemas
  (deploy/schemas/cloudnative-pg: unknown fields refused, types checked);
  and the objects hold what DESIGN.md promises (probes, drain, non-root,
  ConfigMap handlers, Secret password, HPA, PDB, PVC on microk8s-hostpath,
  reads on the -ro Service); auth policies and handlers pulled from an
  OCI registry land in the manifest the host parses, traces' OTEL_*
  variables (verify_values.py).
- nginx -t and haproxy -c on the shipped configurations (addresses
  swapped for resolvable ones, as the replica tests do).
- Both compose files: the services, healthchecks, dependencies and
  volumes the guide's approaches need.
- The Grafana dashboard queries only metrics the host exports.

Usage: deploy/verify.py HELM HANDLERS_DIR
"""

import base64
import pathlib
import shutil
import subprocess
import sys
import tempfile

import yaml

from verify_common import CNPG_KINDS, ROOT, by_kind, check, env_of, objects, run, validate
from verify_values import auth, oci_handlers, outbound, tracing, variables


def helm(helm_bin, handlers):
    work = pathlib.Path(tempfile.mkdtemp(prefix="geofn-helm-"))
    charts = work / "charts"
    shutil.copytree(ROOT / "helm", charts)
    for item in pathlib.Path(handlers).iterdir():
        shutil.copy(item, charts / "geofn" / "handlers" / item.name)
    geofn, postgis = charts / "geofn", charts / "postgis"
    run(helm_bin, "lint", "--strict", str(geofn), str(postgis))
    print("ok: helm lint --strict")

    docs = objects(run(helm_bin, "template", "geofn", str(geofn)))
    validate(yaml.safe_dump_all(docs), work, "geofn-default")
    check(not any(d["kind"] in CNPG_KINDS for d in docs), "bundled mode renders no CloudNativePG object")
    deployment = by_kind(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    check(container["readinessProbe"]["httpGet"]["path"] == "/status", "readiness is /status")
    check(container["livenessProbe"]["httpGet"]["path"] == "/livez", "liveness is /livez")
    check("startupProbe" in container, "a startup probe")
    check("preStop" in container["lifecycle"], "a preStop hook")
    check(pod["terminationGracePeriodSeconds"] > 25, "grace period above the drain timeout")
    check(pod["securityContext"]["runAsNonRoot"], "runs as non-root")
    check(container["securityContext"]["readOnlyRootFilesystem"], "read-only root filesystem")
    check("limits" in container["resources"], "resource limits")
    env = {e["name"]: e for e in container["env"]}
    check("secretKeyRef" in env["DB_PASSWORD"]["valueFrom"], "DB password from a Secret")
    check(env["DB_HOST"]["value"] == "postgis", "DB_HOST is the postgis chart's Service")
    volumes = {v["name"]: v for v in pod["volumes"]}
    sources = [src["configMap"]["name"] for src in volumes["handlers"]["projected"]["sources"]]
    configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    check(set(sources) == set(configmaps), f"handlers projected from every ConfigMap ({len(sources)})")
    files = {}
    for name, configmap in configmaps.items():
        # The API server's rule: data's bytes plus binaryData's decoded
        # bytes, at most 1 MiB (core.MaxSecretSize).
        size = sum(len(base64.b64decode(v)) for v in configmap.get("binaryData", {}).values()) \
            + sum(len(v.encode()) for v in configmap.get("data", {}).values())
        check(size <= 1 << 20, f"ConfigMap {name} within 1 MiB ({size} bytes)")
        files.update(configmap.get("data", {}))
        files.update(configmap.get("binaryData", {}))
    check("geofn.toml" in files, "the manifest is in a ConfigMap")
    shipped = {p.name for p in pathlib.Path(handlers).glob("*.wasm")}
    check(shipped <= set(files), f"every component in a ConfigMap ({sorted(shipped)})")
    check("replicas" not in deployment["spec"], "replicas left to the HPA")
    check(by_kind(docs, "HorizontalPodAutoscaler")["spec"]["minReplicas"] == 3, "HPA from 3 replicas")
    check(by_kind(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1, "PDB maxUnavailable 1")
    check(by_kind(docs, "Ingress")["spec"]["ingressClassName"] == "public", "microk8s ingress class")
    check(by_kind(docs, "Service")["spec"]["ports"][0]["port"] == 5000, "Service on 5000")

    docs = objects(run(
        helm_bin, "template", "maps", str(geofn),
        "--set", "ingress.enabled=false,autoscaling.enabled=false,replicaCount=5",
        "--set", "handlers.fromChart=false,podDisruptionBudget.enabled=false",
        "--set", "adminToken.secretName=geofn-admin,env.GEOFN_POOL_SIZE=8",
        "--set", "database.sslmode=verify-full",
    ))
    validate(yaml.safe_dump_all(docs), work, "geofn-custom")
    kinds = {d["kind"] for d in docs}
    check(kinds == {"Deployment", "Service"}, f"only Deployment and Service when the rest is off ({kinds})")
    deployment = by_kind(docs, "Deployment")
    check(deployment["spec"]["replicas"] == 5, "replicaCount honoured without HPA")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    check("GEOFN_ADMIN_TOKEN" in env and env["GEOFN_POOL_SIZE"]["value"] == "8", "extra env and admin token")
    check(deployment["metadata"]["name"] == "maps-geofn", "names follow the release")

    auth(helm_bin, geofn, work)
    oci_handlers(helm_bin, geofn, work)
    tracing(helm_bin, geofn, work)
    variables(helm_bin, geofn, work)
    outbound(helm_bin, geofn, work)
    database_modes(helm_bin, geofn, work)

    docs = objects(run(helm_bin, "template", "postgis", str(postgis)))
    validate(yaml.safe_dump_all(docs), work, "postgis-default")
    statefulset = by_kind(docs, "StatefulSet")
    claim = statefulset["spec"]["volumeClaimTemplates"][0]["spec"]
    check(claim["storageClassName"] == "microk8s-hostpath", "PVC on microk8s-hostpath")
    check(by_kind(docs, "Service")["metadata"]["name"] == "postgis", "Service named postgis")
    secret = by_kind(docs, "Secret")["data"]
    check("password" in secret and "superuser-password" in secret, "password Secret, both roles")
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    check(env["POSTGRES_USER"]["value"] != env["GEOFN_DB_USER"]["value"],
          "geofn's role is not the image's superuser")
    check(env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "superuser-password",
          "the superuser has its own password")
    initdb = by_kind(docs, "ConfigMap")["data"]["20-geofn-roles.sh"]
    check(initdb == (ROOT / "helm/postgis/initdb/20-geofn-roles.sh").read_text(),
          "the init script ships unchanged")
    # The whole folder: kube play ignores subPath (make verify-chart ran it).
    check(any(m["mountPath"] == "/docker-entrypoint-initdb.d" and "subPath" not in m
              for m in container["volumeMounts"]),
          "the init script is mounted where the image runs it, as a folder")
    docs = objects(run(helm_bin, "template", "db", str(postgis),
                       "--set", "password=s3cret,persistence.storageClassName=,persistence.size=50Gi"))
    validate(yaml.safe_dump_all(docs), work, "postgis-custom")
    claim = by_kind(docs, "StatefulSet")["spec"]["volumeClaimTemplates"][0]["spec"]
    check("storageClassName" not in claim and claim["resources"]["requests"]["storage"] == "50Gi",
          "default storage class and size override")
    shutil.rmtree(work)


def database_modes(helm_bin, geofn, work):
    """The chart in its CloudNativePG and external database modes."""
    docs = objects(run(helm_bin, "template", "geo", str(geofn),
                       "--set", "database.mode=cloudnativepg"))
    validate(yaml.safe_dump_all(docs), work, "geofn-cloudnativepg")
    cluster = by_kind(docs, "Cluster")["spec"]
    check(cluster["instances"] == 3, "cloudnativepg: three instances (a primary, two replicas)")
    check("postgis" in cluster["imageName"], "cloudnativepg: a PostGIS image")
    initdb = cluster["bootstrap"]["initdb"]
    check(any("CREATE EXTENSION IF NOT EXISTS postgis" in q for q in initdb["postInitApplicationSQL"]),
          "cloudnativepg: PostGIS created at bootstrap")
    check(any("CREATEROLE" in q and "NOSUPERUSER" in q for q in initdb["postInitSQL"]),
          "cloudnativepg: geofn's role may create handler roles and is no superuser")
    check(cluster["storage"]["storageClass"] == "microk8s-hostpath", "cloudnativepg: storage class")
    check("monitoring" in cluster, "cloudnativepg: monitoring configured")
    check(not any(d["kind"] == "ScheduledBackup" for d in docs), "cloudnativepg: no backup unless asked")
    env = env_of(docs)
    check(env["DB_HOST"]["value"] == "geo-geofn-db-rw", "cloudnativepg: writes to the -rw Service")
    check(env["DB_READ_HOST"]["value"] == "geo-geofn-db-ro", "cloudnativepg: reads from the -ro Service")
    for name, key in (("DB_USER", "username"), ("DB_PASSWORD", "password")):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        check(ref == {"name": "geo-geofn-db-app", "key": key},
              f"cloudnativepg: {name} from the operator's app Secret")

    docs = objects(run(helm_bin, "template", "geo", str(geofn),
                       "--set", "database.mode=cloudnativepg,database.cloudnativepg.instances=2",
                       "--set", "database.cloudnativepg.backup.enabled=true",
                       "--set", "database.cloudnativepg.backup.destinationPath=s3://backups/geofn",
                       "--set", "database.cloudnativepg.backup.endpointURL=http://minio:9000",
                       "--set", "database.cloudnativepg.backup.s3Credentials.secret=minio",
                       "--set", "database.cloudnativepg.storage.storageClass=",
                       "--set", "database.cloudnativepg.podMonitor=true"))
    validate(yaml.safe_dump_all(docs), work, "geofn-cloudnativepg-backups")
    cluster = by_kind(docs, "Cluster")["spec"]
    store = cluster["backup"]["barmanObjectStore"]
    check(store["destinationPath"] == "s3://backups/geofn" and store["endpointURL"] == "http://minio:9000",
          "cloudnativepg: backups to object storage")
    check("storageClass" not in cluster["storage"], "cloudnativepg: default storage class when empty")
    scheduled = by_kind(docs, "ScheduledBackup")["spec"]
    check(scheduled["cluster"]["name"] == "geo-geofn-db", "cloudnativepg: a scheduled backup of the Cluster")

    docs = objects(run(helm_bin, "template", "geo", str(geofn),
                       "--set", "database.mode=external,database.external.urlSecret.name=pg",
                       "--set", "database.external.readUrlSecret.name=pg"))
    validate(yaml.safe_dump_all(docs), work, "geofn-external")
    env = env_of(docs)
    check(env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "pg", "key": "url"},
          "external: DATABASE_URL from a Secret")
    check(env["DATABASE_READ_URL"]["valueFrom"]["secretKeyRef"] == {"name": "pg", "key": "read-url"},
          "external: DATABASE_READ_URL from a Secret")
    check("DB_HOST" not in env and not any(d["kind"] in CNPG_KINDS for d in docs),
          "external: nothing of the other modes")
    docs = objects(run(helm_bin, "template", "geo", str(geofn),
                       "--set", "database.mode=external,database.external.urlSecret.name=pg"))
    check("DATABASE_READ_URL" not in env_of(docs), "external: no read URL unless given")

    for values, why in ((["database.mode=sqlite"], "an unknown database mode"),
                        (["database.mode=external"], "external mode without a URL Secret"),
                        (["database.mode=cloudnativepg,database.cloudnativepg.backup.enabled=true"],
                         "backups without a destination")):
        args = [a for v in values for a in ("--set", v)]
        result = subprocess.run([helm_bin, "template", "geo", str(geofn), *args],
                                capture_output=True, text=True)
        check(result.returncode != 0 and "database" in result.stderr, f"helm template refuses {why}")


def proxies():
    work = pathlib.Path(tempfile.mkdtemp(prefix="geofn-proxies-"))
    nginx = (ROOT / "compose/nginx/nginx.conf").read_text()
    for i in (1, 2, 3):
        nginx = nginx.replace(f"geofn{i}:5000", f"127.0.0.1:{5000 + i}")
    (work / "nginx.conf").write_text(nginx.replace("listen 80;", "listen 127.0.0.1:18080;"))
    run("nginx", "-t", "-p", str(work), "-c", str(work / "nginx.conf"),
        "-g", f"pid {work}/nginx.pid; error_log {work}/error.log;")
    print("ok: nginx -t")
    run("haproxy", "-c", "-f", str(ROOT / "compose/haproxy/haproxy.cfg"))
    print("ok: haproxy -c")
    shutil.rmtree(work)


def compose():
    for proxy in ("nginx", "haproxy"):
        spec = yaml.safe_load((ROOT / f"compose/{proxy}/compose.yaml").read_text())
        services = spec["services"]
        check(set(services) == {"postgis", "geofn1", "geofn2", "geofn3", proxy}, f"{proxy}: services")
        check(services["postgis"]["image"] == "postgis/postgis:15-3.4", f"{proxy}: PostGIS image")
        check("postgis-data:/var/lib/postgresql/data" in services["postgis"]["volumes"], f"{proxy}: data volume")
        initdb = [v for v in services["postgis"]["volumes"] if "docker-entrypoint-initdb.d" in v]
        check(len(initdb) == 1 and (ROOT / "compose" / proxy / initdb[0].split(":")[0]).resolve().is_file(),
              f"{proxy}: the roles init script is mounted")
        database = services["postgis"]["environment"]
        check(database["POSTGRES_USER"] != database["GEOFN_DB_USER"],
              f"{proxy}: geofn's role is not the image's superuser")
        for name in ("postgis", "geofn1", "geofn2", "geofn3"):
            check("healthcheck" in services[name], f"{proxy}: {name} has a healthcheck")
        for name in ("geofn1", "geofn2", "geofn3"):
            replica = services[name]
            check(replica["depends_on"]["postgis"]["condition"] == "service_healthy",
                  f"{proxy}: {name} waits for a healthy PostGIS")
            check(replica["environment"]["DB_HOST"] == "postgis", f"{proxy}: {name} finds the database")
            check(replica["environment"]["DB_USER"] == database["GEOFN_DB_USER"],
                  f"{proxy}: {name} logs in as the role the init script makes")
            check("handlers:/srv/geofn/handlers" in replica["volumes"], f"{proxy}: {name} shares the handlers")
        depends = services[proxy]["depends_on"]
        check(all(depends[f"geofn{i}"]["condition"] == "service_healthy" for i in (1, 2, 3)),
              f"{proxy}: waits for healthy replicas")
        check(set(spec["volumes"]) == {"postgis-data", "handlers"}, f"{proxy}: named volumes")


def grafana():
    """Every metric the dashboard queries is one the host exports."""
    import json
    import re

    dashboard = json.loads((ROOT / "grafana/geofn-dashboard.json").read_text())
    exported = (ROOT.parent / "crates/telemetry/src/families.rs").read_text()
    queried = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            queried |= set(re.findall(r"geofn_[a-z_]+", target["expr"]))
    for metric in sorted(queried):
        base = re.sub(r"_(bucket|count|sum)$", "", metric)
        check(base in exported, f"dashboard metric {metric} is exported")
    latency = next(p for p in dashboard["panels"] if p["title"].startswith("Latency by route"))
    check(all(target.get("exemplar") for target in latency["targets"]),
          "dashboard: the latency panel shows exemplars")
    sources = yaml.safe_load((ROOT / "grafana/datasources.yaml").read_text())["datasources"]
    prometheus = next(s for s in sources if s["type"] == "prometheus")
    tempo = next(s for s in sources if s["type"] == "tempo")
    links = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    # The label the host writes on its exemplars (crates/telemetry/src/openmetrics.rs).
    written = (ROOT.parent / "crates/telemetry/src/openmetrics.rs").read_text()
    check(any(link["name"] == "trace_id" and link["datasourceUid"] == tempo["uid"] for link in links)
          and '{{trace_id=' in written,
          "grafana: an exemplar's trace_id opens its trace in Tempo")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    helm(sys.argv[1], sys.argv[2])
    proxies()
    compose()
    grafana()
    print("deploy files verified")
