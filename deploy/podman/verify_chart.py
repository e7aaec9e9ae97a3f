#!/usr/bin/env python3
"""make verify-chart: the Helm charts' own workloads, started from their
rendered YAML with `podman kube play`.

    deploy/podman/verify_chart.py TOOLS_DIR

Renders deploy/helm/postgis and deploy/helm/geofn with `helm template`
(the chart's handlers folder filled as `make chart` would), plays them on
a podman network the check creates, with the image `make
verify-containers` built, and checks for real, in the bundled database
mode and then the external one against the same PostGIS pod:

- every replica the Deployment asks for starts and passes its rendered
  startup, readiness and liveness probes (the check runs them: podman 4.3
  schedules none without systemd), runs as the rendered user with a
  read-only root filesystem, no capabilities and no privilege escalation,
  and logs in with the password from the rendered Secret;
- the guide's two curl lines against each replica;
- a handler pushed to one replica (`geofn push` in its container) served
  by all (fleet push); the handlers ConfigMap changed and written into
  the pods' volume the way the kubelet does (`..data` swap) -> every
  replica serves the new component, none restarted;
- one replica's process killed (SIGKILL, as a crash) under readers of the
  other two -> its restart policy brings it back, the others answer every
  request.

What podman cannot run is listed as validated only (`make verify-deploy`
validates every object against the Kubernetes schemas), and every
adaptation kube_play.py makes is printed. Traffic goes to the pods'
addresses on the check's own network.
"""

import base64
import os
import pathlib
import shutil
import sys
import tempfile
import time

import yaml

import kube_play
from chart_checks import (IMAGE, fleet_push, guide_curls, kill_one, logged_in_from_secret,
                          memory_from_limit, security_context, served_by_all, service_names)
from common import HERE, ROOT, check, finish, hold_lock, run
from pods import NETWORK, Cluster, container, kubelet_update, restarts, wait_ready

ADMIN_TOKEN = "verify-chart-admin-token"


class Charts:
    """The two charts rendered from a scratch copy, so the checkout's
    handlers folder stays as it is."""

    def __init__(self, helm, handlers):
        self.helm = helm
        self.work = pathlib.Path(tempfile.mkdtemp(prefix="geofn-chart-"))
        shutil.copytree(ROOT / "deploy/helm", self.work / "helm")
        self.handlers = self.work / "helm/geofn/handlers"
        for item in pathlib.Path(handlers).iterdir():
            shutil.copy(item, self.handlers / item.name)

    def render(self, chart, release, *values):
        sets = [arg for value in values for arg in ("--set", value)]
        out = run(self.helm, "template", release, str(self.work / "helm" / chart), *sets).stdout
        return [doc for doc in yaml.safe_load_all(out) if doc]


def secret(name, **data):
    """A Secret as `kubectl create secret generic NAME --from-literal=...` makes."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "type": "Opaque", "data": {k: base64.b64encode(v.encode()).decode()
                                       for k, v in data.items()}}


def secret_value(docs, name, key):
    doc = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == name)
    return base64.b64decode(doc["data"][key]).decode()


def configmap_change(charts, workload, label, component, values):
    manifest = charts.handlers / "geofn.toml"
    shutil.copy(component, charts.handlers / "mapped.wasm")
    manifest.write_text(manifest.read_text() + '\n[handlers.mapped]\ncomponent = "mapped.wasm"\n'
                                               'routes = ["GET /mapped/{action}"]\n')
    docs = charts.render("geofn", "geofn", *values)
    plan = kube_play.plan(docs)
    changed = next(w for w in plan.workloads if w.name == workload.name)
    config_map = next(d for d in changed.docs if d["kind"] == "ConfigMap"
                      and "mapped.wasm" in (d.get("binaryData") or {}))
    before = restarts(workload)
    kubelet_update(config_map["metadata"]["name"], config_map)
    ok, times = served_by_all(workload, "/mapped/version", '"v2"')
    check(ok, f"{label}: the changed handlers ConfigMap is served by every replica ({times})")
    check(restarts(workload) == before, f"{label}: ... without restarting a container")


def bundled(charts, cluster, test_handlers):
    label = "bundled"
    postgis = charts.render("postgis", "postgis")
    values = ("adminToken.secretName=geofn-admin",)
    docs = postgis + charts.render("geofn", "geofn", *values) + [
        secret("geofn-admin", token=ADMIN_TOKEN)]
    plan = kube_play.plan(docs)
    cluster.apply(plan, label)
    database, geofn = plan.workloads
    cluster.play(database)
    cluster.play(geofn)  # at once, as helm install would: replicas wait for the database
    check(len(geofn.pods) == 3, f"{label}: the Deployment's {len(geofn.pods)} replicas played")
    if wait_ready(database, label):
        first = database.pods[0]
        role = run("podman", "exec", container(first["metadata"]["name"],
                                               first["spec"]["containers"][0]),
                   "psql", "-U", "postgres", "-d", "gisdb", "-Atc",
                   "SELECT rolsuper FROM pg_roles WHERE rolname = 'gisuser'",
                   check_exit=False).stdout.strip()
        check(role == "f", f"{label}: {first['metadata']['name']} ran the chart's init script "
                           f"(role gisuser, not a superuser: {role or 'missing'})")
    if not wait_ready(geofn, label):
        return None, None  # nothing further can pass
    security_context(geofn, label)
    logged_in_from_secret(geofn, label, secret_value(docs, "postgis", "password"), "DB_PASSWORD")
    memory_from_limit(geofn, label)
    service_names(geofn, label)
    guide_curls(geofn, label)
    fleet_push(geofn, label, test_handlers / "probe-v1.wasm")
    configmap_change(charts, geofn, label, test_handlers / "probe-v2.wasm", values)
    kill_one(geofn, label)
    return geofn, secret_value(docs, "postgis", "password")


def external(charts, cluster, previous, password):
    """The same chart with database.mode=external: DATABASE_URL from a
    Secret, against the bundled mode's PostGIS pod (its Service name)."""
    label = "external"
    cluster.remove_pods([p["metadata"]["name"] for p in previous.pods])
    url = f"postgresql://gisuser:{password}@postgis:5432/gisdb"
    docs = charts.render("geofn", "geofn", "database.mode=external",
                         "database.external.urlSecret.name=geofn-db-url",
                         "adminToken.secretName=geofn-admin") + [
        secret("geofn-db-url", url=url), secret("geofn-admin", token=ADMIN_TOKEN)]
    plan = kube_play.plan(docs)
    cluster.apply(plan, label)
    (geofn,) = plan.workloads
    cluster.play(geofn)
    if not wait_ready(geofn, label):
        return
    logged_in_from_secret(geofn, label, url, "DATABASE_URL")
    guide_curls(geofn, label, name="Lyon")
    ok, times = served_by_all(geofn, "/points", "Paris")
    check(ok, f"{label}: the bundled mode's points are there ({times})")
    ok, times = served_by_all(geofn, "/probe/version", '"v1"')
    check(ok, f"{label}: new replicas serve the fleet's pushed handler from the database ({times})")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    tools = pathlib.Path(sys.argv[1]).resolve()
    os.environ.setdefault("CONTAINERS_CONF", str(HERE / "containers.conf"))
    lock = hold_lock("verify-chart")  # noqa: F841 - held until exit
    run(str(HERE / "prepare-images.sh"), capture=False)
    if run("podman", "image", "exists", IMAGE, check_exit=False).returncode != 0:
        import verify
        verify.build_image()
    charts = Charts(tools / "helm", tools.parent / "handlers")
    cluster = Cluster()
    # Whatever an interrupted run left.
    for leftover in ("postgis-0", "geofn-pod-0", "geofn-pod-1", "geofn-pod-2"):
        run("podman", "pod", "rm", "--force", leftover, check_exit=False)
    run("podman", "network", "rm", "--force", NETWORK, check_exit=False)
    run("podman", "network", "create", NETWORK)
    started = time.monotonic()
    try:
        previous, password = bundled(charts, cluster, tools.parent / "test-handlers")
        if previous:
            external(charts, cluster, previous, password)
    finally:
        cluster.down()
        shutil.rmtree(charts.work, ignore_errors=True)
        left = run("podman", "ps", "-a", "--filter", f"network={NETWORK}", "--format",
                   "{{.Names}}").stdout.split()
        exists = lambda *what: run("podman", *what, check_exit=False).returncode == 0  # noqa: E731
        check(not left and not any(exists("volume", "exists", v) for v in cluster.volumes)
              and not any(exists("secret", "inspect", s) for s in cluster.secrets),
              "taken down: no pod, volume or secret of the check left")
    print(f"verify-chart: {time.monotonic() - started:.0f} s", flush=True)
    finish("verify-chart")


if __name__ == "__main__":
    main()
