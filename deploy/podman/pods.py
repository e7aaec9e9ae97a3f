"""The check's pods: what it started (to take it all down), their
addresses, their probes run as a kubelet would, their restarts, and a
ConfigMap change written into their volume as the kubelet writes it."""

import base64
import pathlib
import time

import kube_play
from common import check, http, run, wait_for

NETWORK = "geofn-chart"


class Cluster:
    """What the check started, so it can take it all down again."""

    def __init__(self):
        self.secrets, self.pods, self.volumes = set(), set(), set()

    def apply(self, plan, label):
        print(f"--- {label}: what runs, and how", flush=True)
        for line in plan.adaptations:
            print(f"    adapted: {line}", flush=True)
        for kind, name, why in plan.validated_only:
            print(f"    validated only: {kind} {name} ({why})", flush=True)
        for name, data in plan.secrets.items():
            run("podman", "secret", "rm", name, check_exit=False)
            run("podman", "secret", "create", name, "-", stdin=data)
            self.secrets.add(name)

    def play(self, workload):
        own = set()
        for doc in workload.docs:
            if doc["kind"] == "Pod":
                self.pods.add(doc["metadata"]["name"])
                own.update(f"{doc['metadata']['name']}-{v['name']}"
                           for v in doc["spec"].get("volumes", []) if "emptyDir" in v)
            elif doc["kind"] in ("ConfigMap", "PersistentVolumeClaim"):
                own.add(doc["metadata"]["name"])
        for volume in own - self.volumes:  # an interrupted run's
            run("podman", "volume", "rm", "--force", volume, check_exit=False)
        for volume in own & self.volumes:  # the previous mode's ConfigMaps and emptyDirs
            if not volume.startswith("data-"):
                run("podman", "volume", "rm", "--force", volume, check_exit=False)
        self.volumes |= own
        network = NETWORK + "".join(f":alias={alias}" for alias in workload.aliases)
        started = workload.played_at = time.monotonic()
        run("podman", "kube", "play", "--network", network, "-", stdin=workload.yaml(),
            timeout=300)
        print(f"{workload.kind} {workload.name}: kube play took "
              f"{time.monotonic() - started:.1f} s", flush=True)

    def remove_pods(self, names):
        for name in names:
            run("podman", "pod", "rm", "--force", "--time", "5", name, check_exit=False)
            self.pods.discard(name)

    def down(self):
        self.remove_pods(list(self.pods))
        for volume in self.volumes:
            run("podman", "volume", "rm", "--force", volume, check_exit=False)
        for name in self.secrets:
            run("podman", "secret", "rm", name, check_exit=False)
        run("podman", "network", "rm", "--force", NETWORK, check_exit=False)


def container(pod, spec):
    return f"{pod}-{spec['name']}"


def pod_ip(pod):
    infra = run("podman", "pod", "inspect", pod, "--format", "{{.InfraContainerID}}").stdout.strip()
    return run("podman", "inspect", infra, "--format",
               f"{{{{(index .NetworkSettings.Networks \"{NETWORK}\").IPAddress}}}}").stdout.strip()


def probe_passes(pod, container_spec, action):
    if action[0] == "http":
        _, path, port = action
        status, _ = http("GET", f"http://{pod_ip(pod)}:{port}{path}", timeout=3)
        return 200 <= status < 400
    return run("podman", "exec", container(pod, container_spec), *action[1],
               check_exit=False, timeout=10).returncode == 0


def describe(action):
    return f"GET {action[1]} on port {action[2]}" if action[0] == "http" else " ".join(action[1])


def wait_ready(workload, label):
    """Each pod's startup probe within its rendered budget (counted from the
    play), then its liveness and readiness probes within theirs; one check
    line per pod and probe. Whether all passed."""
    ready = True
    for pod in workload.pods:
        name, spec = pod["metadata"]["name"], pod["spec"]
        for container_spec in spec["containers"]:
            for kind, action in kube_play.probes(container_spec, spec):
                probe = container_spec[f"{kind}Probe"]
                period = probe.get("periodSeconds", 10)
                budget = probe.get("initialDelaySeconds", 0) + period * probe.get(
                    "failureThreshold", 3)
                if kind == "startup":
                    budget -= time.monotonic() - workload.played_at
                passed = wait_for(lambda: probe_passes(name, container_spec, action),
                                  max(budget, period), every=period / 4)
                check(passed, f"{label}: {name} passes its {kind} probe ({describe(action)}), "
                              f"{time.monotonic() - workload.played_at:.1f} s after play")
                if not passed:
                    ready = False
                    tail = run("podman", "logs", "--tail", "8", container(name, container_spec),
                               check_exit=False)
                    print(tail.stdout + tail.stderr, flush=True)
                    break  # a cluster would restart it; its other probes wait for that
    return ready


def restarts(workload):
    return {pod["metadata"]["name"]: run(
        "podman", "inspect", container(pod["metadata"]["name"], pod["spec"]["containers"][0]),
        "--format", "{{.RestartCount}} {{.State.StartedAt}}").stdout.strip()
        for pod in workload.pods}


def kubelet_update(volume, config_map):
    """Writes a ConfigMap's new contents into the pods' volume as the
    kubelet's atomic writer does: a new timestamped folder, `..data`
    swapped to it by one rename, each key a link through `..data`."""
    root = pathlib.Path(run("podman", "volume", "inspect", volume, "--format",
                            "{{.Mountpoint}}").stdout.strip())
    stamp = root / time.strftime("..%Y_%m_%d_%H_%M_%S.%f")
    stamp.mkdir()
    for key, value in (config_map.get("data") or {}).items():
        (stamp / key).write_text(value)
    for key, value in (config_map.get("binaryData") or {}).items():
        (stamp / key).write_bytes(base64.b64decode(value))
    (root / "..data_tmp").symlink_to(stamp.name)
    (root / "..data_tmp").rename(root / "..data")
    for key in [*(config_map.get("data") or {}), *(config_map.get("binaryData") or {})]:
        link = root / f".{key}.link"
        link.symlink_to(f"..data/{key}")
        link.rename(root / key)
