"""What make verify-chart checks of running replicas: the rendered
securityContext, Secrets and limits as the runtime applied them, the
guide's curl lines, a fleet push, a crash and its restart."""

import json
import os
import threading
import time

from common import check, http, run, wait_for
from pods import NETWORK, container, pod_ip, probe_passes, restarts

IMAGE = "localhost/geofn:latest"
GUIDE_POINT = '{"longitude": 2.3522, "latitude": 48.8566, "name": "Paris"}'


def security_context(workload, label):
    """The rendered securityContext, as the runtime applied it."""
    for pod in workload.pods:
        name, spec = pod["metadata"]["name"], pod["spec"]
        for c in spec["containers"]:
            wanted = {**spec.get("securityContext", {}), **c.get("securityContext", {})}
            fmt = ("{{.Config.User}}|{{.HostConfig.ReadonlyRootfs}}|{{.EffectiveCaps}}|"
                   "{{.HostConfig.SecurityOpt}}")
            user, read_only, caps, opts = run("podman", "inspect", container(name, c), "--format",
                                              fmt).stdout.strip().split("|")
            uid = run("podman", "exec", container(name, c), "id", "-u").stdout.strip()
            root_write = run("podman", "exec", container(name, c), "sh", "-c",
                             "touch /verify-chart", check_exit=False).returncode
            tmp_write = run("podman", "exec", container(name, c), "sh", "-c",
                            "touch /tmp/verify-chart && rm /tmp/verify-chart",
                            check_exit=False).returncode
            check(str(wanted["runAsUser"]) == uid == user.split(":")[0] != "0",
                  f"{label}: {name} runs as uid {uid} (runAsUser {wanted['runAsUser']}, "
                  f"runAsNonRoot {wanted.get('runAsNonRoot')})")
            if wanted.get("readOnlyRootFilesystem"):
                check(read_only == "true" and root_write != 0 and tmp_write == 0,
                      f"{label}: {name}'s root filesystem is read-only, its /tmp volume writable")
            if wanted.get("capabilities", {}).get("drop") == ["ALL"]:
                check(caps == "[]", f"{label}: {name} holds no capabilities ({caps})")
            if wanted.get("allowPrivilegeEscalation") is False:
                check("no-new-privileges" in opts, f"{label}: {name} cannot gain privileges")


def mebibytes(quantity):
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[:-2]) * factor)
    return int(quantity) // (1 << 20)


def memory_from_limit(workload, label):
    """The rendered memory limit reaches the container's cgroup, and the host
    sizes its instance budget from it (a quarter, at least 128 MiB, kept)."""
    for pod in workload.pods:
        spec = pod["spec"]["containers"][0]
        limit = mebibytes(spec["resources"]["limits"]["memory"])
        wanted = limit - max(limit // 4, 128)
        logs = run("podman", "logs", container(pod["metadata"]["name"], spec),
                   check_exit=False).stderr
        check(f"memory.budget_mib={wanted} " in logs,
              f"{label}: {pod['metadata']['name']} sizes its memory budget from the "
              f"{spec['resources']['limits']['memory']} limit ({wanted} MiB)")


def logged_in_from_secret(workload, label, password, env_name):
    for pod in workload.pods:
        name = container(pod["metadata"]["name"], pod["spec"]["containers"][0])
        env = run("podman", "exec", name, "sh", "-c", f'printf %s "${env_name}"').stdout
        logs = run("podman", "logs", name, check_exit=False).stderr
        check(password in env and "db.role=gisuser db.superuser=false" in logs,
              f"{label}: {pod['metadata']['name']} has {env_name} from the Secret and logs in "
              "as gisuser, not a superuser")


def curl(*args):
    result = run("curl", "-sS", "--max-time", "5", "-w", "\n%{http_code}", *args, check_exit=False)
    body, _, status = result.stdout.rpartition("\n")
    return status, body


def guide_curls(workload, label, name="Paris"):
    for pod in workload.pods:
        base = f"http://{pod_ip(pod['metadata']['name'])}:5000"
        status, body = curl("-X", "POST", f"{base}/point", "-H", "Content-Type: application/json",
                            "-d", GUIDE_POINT.replace("Paris", name))
        check(status == "201", f"{label}: {pod['metadata']['name']}: curl -X POST /point -> "
                               f"{status} {body[:70]}")
        status, body = curl(f"{base}/points")
        check(status == "200" and name in body,
              f"{label}: {pod['metadata']['name']}: curl /points -> {status}, {name} in it")


def served_by_all(workload, path, wanted, seconds=30):
    """Seconds until every pod answers `path` with `wanted` in its body."""
    started, after = time.monotonic(), {}

    def all_serving():
        for pod in workload.pods:
            name = pod["metadata"]["name"]
            if name not in after:
                status, body = http("GET", f"http://{pod_ip(name)}:5000{path}", timeout=3)
                if status == 200 and wanted.encode() in body:
                    after[name] = time.monotonic() - started
        return len(after) == len(workload.pods)

    ok = wait_for(all_serving, seconds, every=0.2)
    return ok, ", ".join(f"{n} after {t:.1f} s" for n, t in sorted(after.items()))


def fleet_push(workload, label, component):
    first = workload.pods[0]
    name = container(first["metadata"]["name"], first["spec"]["containers"][0])
    run("podman", "cp", str(component), f"{name}:/tmp/probe.wasm")
    pushed = run("podman", "exec", name, "geofn", "push", "/tmp/probe.wasm", "--name", "probe",
                 "--route", "GET /probe/{action}", "--url", "http://127.0.0.1:5000",
                 check_exit=False)
    try:
        answer = json.loads(pushed.stdout)
        said = (f"version {answer['version']}, sha256 {answer['sha256'][:12]}…, "
                f"routes {answer['routes']}")
    except (ValueError, KeyError):
        said = (pushed.stdout + pushed.stderr).strip()[:120]
    check(pushed.returncode == 0, f"{label}: geofn push in {first['metadata']['name']} ({said})")
    ok, times = served_by_all(workload, "/probe/version", '"v1"')
    check(ok, f"{label}: the pushed handler is served by every replica ({times})")


def kill_one(workload, label):
    """SIGKILL to one replica's process, as a crash would; readers of the
    others must not notice, and the restart policy brings it back."""
    victim, *others = [p["metadata"]["name"] for p in workload.pods]
    spec = workload.pods[0]["spec"]
    urls = [f"http://{pod_ip(p)}:5000/points?limit=10" for p in others]
    counts, lock = {"ok": 0, "failed": 0}, threading.Lock()
    deadline = time.monotonic() + 10

    def reader(url):
        while time.monotonic() < deadline:
            try:
                key = "ok" if http("GET", url)[0] == 200 else "failed"
            except Exception:
                key = "failed"
            with lock:
                counts[key] += 1

    threads = [threading.Thread(target=reader, args=(u,)) for u in urls for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    before = restarts(workload)[victim]
    pid = run("podman", "inspect", container(victim, spec["containers"][0]), "--format",
              "{{.State.Pid}}").stdout.strip()
    os.kill(int(pid), 9)
    for thread in threads:
        thread.join()
    check(counts["failed"] == 0 and counts["ok"] > 50,
          f"{label}: {victim} killed under 4 readers of the other replicas: "
          f"{counts['ok']} GETs ok, {counts['failed']} failed")
    back = wait_for(lambda: restarts(workload)[victim] != before
                    and probe_passes(victim, spec["containers"][0], ("http", "/status", 5000)), 60)
    count = restarts(workload)[victim].split()[0]
    check(back, f"{label}: {victim} restarted by its restartPolicy "
                f"({spec.get('restartPolicy', 'Always')}; restarts: {count}) and ready again")
    ok, _ = served_by_all(workload, "/probe/version", '"v1"', seconds=20)
    check(ok, f"{label}: after its restart {victim} serves the pushed handler again")


def service_names(workload, label):
    for alias in workload.aliases:
        answer = run("podman", "run", "--rm", "--network", NETWORK, "--entrypoint", "getent",
                     IMAGE, "ahostsv4", alias, check_exit=False).stdout
        addresses = {line.split()[0] for line in answer.splitlines()}
        wanted = {pod_ip(p["metadata"]["name"]) for p in workload.pods}
        check(addresses == wanted, f"{label}: Service {alias} resolves to its pods "
                                   f"({sorted(addresses)})")
