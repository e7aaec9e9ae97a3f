#!/usr/bin/env python3
"""make verify-containers: the image and both compose stacks, for real.

    deploy/podman/verify.py TOOLS_DIR

Builds deploy/docker/Dockerfile with podman, checks the image, then brings
each compose stack (nginx, HAProxy) up unchanged with podman-compose and
checks it through the proxy's published port 80: the guide's two curl
lines, a replica killed under readers (no failed GET), a component written
into the shared handlers volume served by all three replicas, and `down -v`
leaving nothing behind. Prints one line per check; exits 0 only if all hold.
Traffic goes to 127.0.0.1 and to containers on the stacks' own networks.
"""

import concurrent.futures
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import threading
import time

from common import HERE, ROOT, check, finish, hold_lock, http, run, wait_for

IMAGE = "localhost/geofn:latest"
PROXY = "http://127.0.0.1:80"
# Healthchecks are run by systemd timers, which these machines lack: the
# check runs each container's healthcheck itself this often.
HEALTH_EVERY = 2.0


def build_image():
    started = time.monotonic()
    # Docker's image format: podman's default (OCI) has no HEALTHCHECK.
    run("podman", "build", "--pull=never", "--format", "docker",
        "--file", "deploy/docker/Dockerfile", "--tag", IMAGE, ".", capture=False)
    minutes = (time.monotonic() - started) / 60
    # Each build leaves the previous image and its 1.5 GB build stage
    # untagged; a day of runs held 120 GB of them.
    run("podman", "image", "prune", "--force")
    size = int(run("podman", "image", "inspect", IMAGE, "--format", "{{.Size}}").stdout)
    print(f"image: {IMAGE}, {size / 1e6:.1f} MB, built in {minutes:.1f} min", flush=True)
    user = run("podman", "image", "inspect", IMAGE, "--format", "{{.Config.User}}").stdout.strip()
    check(user == "10001:10001", f"image runs as a non-root user ({user})")
    uid = run("podman", "run", "--rm", "--entrypoint", "id", IMAGE, "-u").stdout.strip()
    check(uid == "10001", f"a container of it runs as uid {uid}")
    health = run("podman", "image", "inspect", IMAGE, "--format",
                 "{{json .Config.Healthcheck}}").stdout
    check("geofn" in health and "health" in health, "healthcheck is `geofn health`")
    sbom = json.loads(run("podman", "run", "--rm", "--entrypoint", "cat", IMAGE,
                          "/usr/share/doc/geofn/sbom.cdx.json").stdout)
    purls = [c.get("purl", "") for c in sbom["components"]]
    debs = [p for p in purls if p.startswith("pkg:deb/")]
    crates = [p for p in purls if p.startswith("pkg:cargo/")]
    check(sbom["bomFormat"] == "CycloneDX" and any("wasmtime@" in p for p in crates) and debs,
          f"SBOM in the image: {len(crates)} crates, {len(debs)} Debian packages")
    installed = run("podman", "run", "--rm", "--entrypoint", "dpkg-query", IMAGE,
                    "-W", "-f", "${Package}\n").stdout.split()
    check(not {"openssl", "ca-certificates", "curl"} & set(installed),
          f"runtime packages: the base image's {len(installed)} only")


class Health(threading.Thread):
    """Runs the healthchecks of a project's containers, as systemd would."""

    def __init__(self, project):
        super().__init__(daemon=True)
        self.project, self.stop = project, threading.Event()

    def run(self):
        while not self.stop.is_set():
            names = subprocess.run(
                ["podman", "ps", "--filter", f"label=io.podman.compose.project={self.project}",
                 "--format", "{{.Names}}"], capture_output=True, text=True).stdout.split()
            for name in names:
                subprocess.run(["podman", "healthcheck", "run", name], capture_output=True)
            self.stop.wait(HEALTH_EVERY)


class DbActivity(threading.Thread):
    """Samples, every 0.5 s, PostgreSQL's sessions that are not idle (who,
    in what state, waiting on what, running what), from the moment a new
    component is written: shown when a replica is slow to serve it."""

    QUERY = ("SELECT application_name, state, coalesce(wait_event_type || ':' || wait_event, '-'), "
             "round(extract(epoch FROM now() - xact_start)::numeric, 1), "
             "left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_activity "
             "WHERE state <> 'idle' AND pid <> pg_backend_pid() AND backend_type = 'client backend'")

    def __init__(self, postgis):
        super().__init__(daemon=True)
        self.postgis = postgis
        self.stop = threading.Event()
        self.samples = []
        self.started = time.monotonic()

    def run(self):
        while not self.stop.is_set() and time.monotonic() - self.started < 30:
            at = time.monotonic() - self.started
            rows = run("podman", "exec", self.postgis, "psql", "-U", "postgres", "-d", "gisdb",
                       "-AtF", " | ", "-c", self.QUERY, check_exit=False).stdout.strip()
            self.samples.append(f"{at:5.1f} " + ("\n      ".join(rows.splitlines()) or "(none)"))
            self.stop.wait(0.5)


def readers(seconds, threads=4):
    """GET /points through the proxy from several threads; (ok, failed)."""
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def reader():
        while time.monotonic() < deadline:
            try:
                status, _ = http("GET", f"{PROXY}/points?limit=10")
                key = "ok" if status == 200 else "failed"
            except Exception:
                key = "failed"
            with lock:
                counts[key] += 1

    workers = [threading.Thread(target=reader) for _ in range(threads)]
    for worker in workers:
        worker.start()
    return workers, counts


def through_proxy(method, path, body=None):
    """(status, body) of one request through the proxy; a timeout or a
    refused connection is a status of 0 and the error, not a raise, so
    the check says what happened and the replicas' logs can follow."""
    try:
        return http(method, f"{PROXY}{path}", body)
    except OSError as err:
        return 0, repr(err).encode()


def show_logs(kind, containers, lines=40):
    """The last lines each container logged: a CI log must say why."""
    for name in containers:
        tail = run("podman", "logs", "--tail", str(lines), name, check_exit=False)
        print(f"--- {kind}: {name}'s last log lines:\n{tail.stderr}{tail.stdout}", flush=True)


def port_80_taken():
    """Whether something already listens where the stack's proxy will."""
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", 80)) == 0


def stack(kind, compose):
    if port_80_taken():
        holders = run("podman", "ps", "--filter", "publish=80", "--format", "{{.Names}}",
                      check_exit=False).stdout.split()
        check(False, f"{kind}: port 80 is free before the stack starts "
                     f"(held by {holders or 'a process outside podman'})")
        return
    compose_file = ROOT / f"deploy/compose/{kind}/compose.yaml"
    project = f"geofn-{kind}"
    base = [compose, "-f", str(compose_file)]
    container = lambda service: f"{project}_{service}_1"  # noqa: E731
    health = Health(project)
    health.start()
    try:
        started = time.monotonic()
        run(*base, "up", "-d", capture=False, timeout=900)
        print(f"{kind}: podman-compose up -d took {time.monotonic() - started:.1f} s", flush=True)
        started = time.monotonic()
        # podman-compose ignores `condition: service_healthy` with podman
        # 4.3 (it says so): wait for what it would have waited for.
        healthy = lambda name: run("podman", "healthcheck", "run", container(name),  # noqa: E731
                                   check_exit=False).returncode == 0
        ready = wait_for(lambda: all(healthy(n) for n in ("postgis", "geofn1", "geofn2", "geofn3")),
                         240)
        check(ready, f"{kind}: PostGIS and the three replicas healthy "
                     f"({time.monotonic() - started:.1f} s after up returned)")
        up = wait_for(lambda: http("GET", f"{PROXY}/status")[0] == 200, 60)
        check(up, f"{kind}: the stack answers /status through port 80")
        if not up:
            print(run("podman", "ps", "-a", check_exit=False).stdout)
            return
        logs = "".join(run("podman", "logs", container(r), check_exit=False).stderr
                       for r in ("geofn1", "geofn2", "geofn3"))
        check(logs.count("superuser=false") >= 3,
              f"{kind}: all three replicas log in as the init script's role, no superuser")

        # The guide's two curl lines.
        status, body = through_proxy("POST", "/point",
                                     {"longitude": 2.3522, "latitude": 48.8566, "name": "Paris"})
        posted = check(status == 201, f"{kind}: POST /point -> {status} {body[:80]!r}")
        status, body = through_proxy("GET", "/points")
        listed = check(status == 200 and b"Paris" in body,
                       f"{kind}: GET /points -> {status}, Paris in it")
        if not (posted and listed):
            show_logs(kind, [container(r) for r in ("geofn1", "geofn2", "geofn3", kind)])

        # One replica killed under readers.
        workers, counts = readers(12)
        time.sleep(3)
        run("podman", "kill", container("geofn2"))
        for worker in workers:
            worker.join()
        check(counts["failed"] == 0 and counts["ok"] > 100,
              f"{kind}: geofn2 killed under 4 readers: {counts['ok']} GETs ok, "
              f"{counts['failed']} failed")
        back = wait_for(lambda: run("podman", "healthcheck", "run", container("geofn2"),
                                    check_exit=False).returncode == 0, 60)
        how = "by its restart policy"
        if not back:
            run("podman", "start", container("geofn2"))
            back = wait_for(lambda: run("podman", "healthcheck", "run", container("geofn2"),
                                        check_exit=False).returncode == 0, 60)
            how = "by podman start"
        check(back, f"{kind}: geofn2 back and healthy ({how})")

        # A new component in the shared handlers volume, served by all three.
        manifest = run("podman", "exec", container("geofn1"), "cat",
                       "/srv/geofn/handlers/geofn.toml").stdout
        manifest += ('\n[handlers.probe]\ncomponent = "probe.wasm"\n'
                     'routes = ["GET /probe/{action}"]\n')
        staging = pathlib.Path(f"/tmp/{project}-swap")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        (staging / "geofn.toml").write_text(manifest)
        shutil.copy(TEST_HANDLERS / "probe-v1.wasm", staging / "probe.wasm")
        for name in ("probe.wasm", "geofn.toml"):  # component first, then the manifest naming it
            run("podman", "cp", str(staging / name),
                f"{container('geofn1')}:/srv/geofn/handlers/.{name}.new")
            run("podman", "exec", "--user", "0", container("geofn1"), "sh", "-c",
                f"chown 10001:10001 /srv/geofn/handlers/.{name}.new && "
                f"mv /srv/geofn/handlers/.{name}.new /srv/geofn/handlers/{name}")
        swapped = time.monotonic()
        activity = DbActivity(container("postgis"))
        activity.start()
        serving = lambda r: run("podman", "exec", container(r), "geofn", "health",  # noqa: E731
                                "--path", "/probe/version", check_exit=False).returncode == 0
        served_after = {}

        def all_serving():
            # Each replica asked at once: `podman exec` alone can take
            # seconds when the machine is busy, and one slow answer must not
            # delay the others' times.
            waiting = [r for r in ("geofn1", "geofn2", "geofn3") if r not in served_after]
            with concurrent.futures.ThreadPoolExecutor(len(waiting)) as pool:
                for r, ok in zip(waiting, pool.map(serving, waiting)):
                    if ok:
                        served_after[r] = time.monotonic() - swapped
            return len(served_after) == 3

        all_three = wait_for(all_serving, 30, every=0.2)
        activity.stop.set()
        print(f"{kind}: served by " + ", ".join(f"{r} after {t:.1f} s"
                                                for r, t in sorted(served_after.items())),
              flush=True)
        slow = [r for r, t in served_after.items() if t > 3] + [
            r for r in ("geofn1", "geofn2", "geofn3") if r not in served_after]
        for r in slow:
            if r in served_after:
                tail = run("podman", "logs", "--tail", "40", container(r), check_exit=False)
                print(f"--- {r} was slow; its last log lines:\n{tail.stderr}{tail.stdout}",
                      flush=True)
        if slow:
            activity.join()
            print("--- PostgreSQL's busy sessions while the replicas swapped (s after the write):\n"
                  + "\n".join(activity.samples), flush=True)
        check(all_three, f"{kind}: the new component is served by all three replicas "
                         f"({time.monotonic() - swapped:.1f} s after it was written)")
        if not all_three:
            for r in ("geofn1", "geofn2", "geofn3"):
                if not serving(r):
                    logs = run("podman", "logs", container(r), check_exit=False)
                    lines = (logs.stderr + logs.stdout).splitlines()
                    # What the reload loop said comes first: a CI log shown
                    # in part must still say why.
                    reload = [line for line in lines if "reload" in line or "WARN" in line
                              or "ERROR" in line or "swapped" in line]
                    print(f"--- {r} does not serve it; its reload and warning lines:\n"
                          + "\n".join(reload[-12:]) + "\n--- its last log lines:\n"
                          + "\n".join(lines[-10:]), flush=True)
        status, _ = through_proxy("GET", "/probe/version")
        if not check(status == 200, f"{kind}: ... and through the proxy ({status})"):
            show_logs(kind, [container(kind)])
    finally:
        health.stop.set()
        run(*base, "down", "-v", check_exit=False, capture=False, timeout=300)
        left = run("podman", "ps", "-a", "--filter", f"label=io.podman.compose.project={project}",
                   "--format", "{{.Names}}").stdout.split()
        volumes = run("podman", "volume", "ls", "--filter",
                      f"label=io.podman.compose.project={project}", "--format",
                      "{{.Name}}").stdout.split()
        check(not left and not volumes,
              f"{kind}: down -v leaves no container ({left}) and no volume ({volumes})")


TEST_HANDLERS = pathlib.Path()


def main():
    global TEST_HANDLERS
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    tools = pathlib.Path(sys.argv[1]).resolve()
    TEST_HANDLERS = tools.parent / "test-handlers"
    os.environ.setdefault("CONTAINERS_CONF", str(HERE / "containers.conf"))
    compose = str(tools / "podman-compose/bin/podman-compose")
    lock = hold_lock("verify-containers")  # noqa: F841 - held until exit
    run(str(HERE / "prepare-images.sh"), capture=False)
    build_image()
    # The compose files name the image geofn:latest and would build it
    # themselves; the one just built is used as it is.
    os.environ["GEOFN_IMAGE"] = IMAGE
    # GEOFN_VERIFY_STACKS=haproxy runs one stack (when chasing a failure).
    for kind in os.environ.get("GEOFN_VERIFY_STACKS", "nginx haproxy").split():
        stack(kind, compose)
    finish("verify-containers")


if __name__ == "__main__":
    main()
