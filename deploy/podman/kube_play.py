"""Rendered Kubernetes objects as podman 4.3 can play them, with every
adaptation written down.

`podman kube play` runs Pods, Deployments (each replica a pod), PVCs and
the ConfigMaps and Secrets they use, but not every field or kind a chart
renders. `plan()` sorts a chart's objects into what runs and what is left
to the offline schema checks, and makes the few changes podman needs,
each recorded in `Plan.adaptations` so the check's output says what ran
as rendered and what did not:

- a Secret becomes a podman secret holding its `data` as a JSON map:
  podman 4.3's `kube play` stores a Secret object as YAML, but its own
  `secretKeyRef` reads secrets as JSON (a podman bug), so the Secret's
  keys and values are kept and only the wrapper changes;
- a Deployment becomes its pods (`NAME-pod-0`..., podman's own names for
  them), each with its own emptyDir volumes: podman 4.3 plays a
  Deployment's emptyDir as one volume shared by all its pods; without
  `replicas` (an HPA owns them) it gets the HPA's minReplicas, which the
  HPA would set at once;
- a StatefulSet becomes its pods (`NAME-0`...) with a PVC per
  volumeClaimTemplate (`CLAIM-NAME-0`), as the controller would make them;
  podman has no StatefulSet;
- a Service becomes a DNS name on the check's network for the pods it
  selects (podman has no Services; the cluster DNS name is what clients
  of the chart use), when its port equals the target port, since an alias
  cannot remap ports;
- a projected volume of ConfigMaps becomes one ConfigMap volume holding
  their union (podman 4.3 has no projected volumes);
- container ports are dropped: podman 4.3 publishes every containerPort
  on the host, where three replicas would collide; pods are reached on
  their own addresses, as in a cluster.

Probes are not run by podman here (liveness becomes a systemd-timed
healthcheck, readiness and startup are ignored): the check runs each
rendered probe itself (`probes()`).
"""

import base64
import copy
import json

import yaml

# Kinds `podman kube play` runs (as rendered, or after the adaptations above).
RUN_KINDS = {"Pod", "Deployment", "StatefulSet", "ConfigMap", "Secret", "PersistentVolumeClaim",
             "Service"}
# Kinds only a cluster acts on, and what stands in for them here.
VALIDATED_ONLY = {
    "Ingress": "no ingress controller; the replicas are reached directly",
    "HorizontalPodAutoscaler": "no metrics server or controller",
    "PodDisruptionBudget": "no eviction API",
    "Cluster": "no CloudNativePG operator",
    "ScheduledBackup": "no CloudNativePG operator",
}


class Workload:
    """One `podman kube play` call: a Deployment's or StatefulSet's pods
    with the ConfigMaps and PVCs they mount, and the Service names that
    reach them."""

    def __init__(self, kind, name, docs, pods, aliases):
        self.kind, self.name, self.docs, self.pods, self.aliases = kind, name, docs, pods, aliases
        self.played_at = None

    def yaml(self):
        return yaml.safe_dump_all(self.docs, sort_keys=False)

    def containers(self):
        """(pod name, container spec) for every container of every pod."""
        return [(pod["metadata"]["name"], container)
                for pod in self.pods for container in pod["spec"]["containers"]]


class Plan:
    def __init__(self):
        self.secrets = {}        # name -> JSON text, for `podman secret create`
        self.workloads = []
        self.validated_only = []  # (kind, name, why)
        self.adaptations = []


def plan(docs):
    result = Plan()
    config_maps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    services = [d for d in docs if d["kind"] == "Service"]
    for doc in docs:
        kind, name = doc["kind"], doc["metadata"]["name"]
        if kind == "Secret":
            result.secrets[name] = secret_json(doc)
            result.adaptations.append(f"Secret {name}: a podman secret of its data (JSON)")
        elif kind in VALIDATED_ONLY:
            result.validated_only.append((kind, name, VALIDATED_ONLY[kind]))
        elif kind not in RUN_KINDS:
            result.validated_only.append((kind, name, "podman kube play has no such kind"))
    for doc in docs:
        if doc["kind"] == "HorizontalPodAutoscaler":
            scale_as_autoscaler_would(doc, docs, result.adaptations)
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "Pod"):
            result.workloads.append(workload(doc, config_maps, services, result.adaptations))
    return result


def scale_as_autoscaler_would(hpa, docs, adaptations):
    """A Deployment an HPA owns renders no replicas (the HPA sets them, at
    least minReplicas at once); played at minReplicas."""
    target = hpa["spec"]["scaleTargetRef"]
    for doc in docs:
        if doc["kind"] == target["kind"] and doc["metadata"]["name"] == target["name"] \
                and "replicas" not in doc["spec"]:
            doc["spec"]["replicas"] = hpa["spec"].get("minReplicas", 1)
            adaptations.append(f"{target['kind']} {target['name']}: played at its "
                               f"HorizontalPodAutoscaler's minReplicas ({doc['spec']['replicas']})")


def secret_json(doc):
    data = dict(doc.get("data") or {})
    for key, value in (doc.get("stringData") or {}).items():
        data[key] = base64.b64encode(value.encode()).decode()
    return json.dumps(data)


def workload(doc, config_maps, services, adaptations):
    kind, name = doc["kind"], doc["metadata"]["name"]
    template = doc["spec"]["template"] if kind != "Pod" else doc
    claims = []
    if kind == "StatefulSet":
        played, claims = statefulset_pods(doc)
        adaptations.append(f"StatefulSet {name}: played as pods "
                           + ", ".join(p["metadata"]["name"] for p in played)
                           + (" with PVCs " + ", ".join(c["metadata"]["name"] for c in claims)
                              if claims else ""))
    elif kind == "Deployment":
        # podman's own Deployment support names the pods NAME-pod-N but gives
        # them one shared volume per emptyDir; as separate pods, each has its
        # own, as in a cluster.
        played = [pod_of(template, f"{name}-pod-{i}")
                  for i in range(doc["spec"].get("replicas", 1))]
        adaptations.append(f"Deployment {name}: played as its {len(played)} pods "
                           + ", ".join(p["metadata"]["name"] for p in played))
    else:
        played = [copy.deepcopy(doc)]
    # The pods as rendered (ports and all), for probes and Services.
    pods = [{"metadata": {"name": p["metadata"]["name"]}, "spec": template["spec"]}
            for p in played]
    used = []
    for pod in played:
        spec = pod["spec"]
        spec.setdefault("restartPolicy", "Always")  # Kubernetes' default
        used += pod_config_maps(spec, config_maps, f"{kind} {name}", adaptations)
        for volume in spec.get("volumes", []):
            if "emptyDir" in volume:
                own = f"{pod['metadata']['name']}-{volume['name']}"
                for container in spec["containers"]:
                    for mount in container.get("volumeMounts", []):
                        if mount["name"] == volume["name"]:
                            mount["name"] = own
                volume["name"] = own
        for container in spec["containers"]:
            if container.pop("ports", None):
                note(adaptations, f"{kind} {name}: container {container['name']}'s ports "
                                  "not published (reached on the pod's address)")
    labels = template["metadata"].get("labels", {})
    aliases = []
    for service in services:
        selector = service["spec"].get("selector") or {}
        if selector and all(labels.get(k) == v for k, v in selector.items()):
            aliases.append(service_alias(service, pods[0]["spec"], adaptations))
    unique = list({c["metadata"]["name"]: c for c in used}.values())
    return Workload(kind, name, unique + claims + played, pods, [a for a in aliases if a])


def pod_of(template, name):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": template["metadata"]["labels"]},
            "spec": copy.deepcopy(template["spec"])}


def note(adaptations, what):
    if what not in adaptations:
        adaptations.append(what)


def statefulset_pods(doc):
    name = doc["metadata"]["name"]
    template = doc["spec"]["template"]
    pods, claims = [], []
    for ordinal in range(doc["spec"].get("replicas", 1)):
        pod_name = f"{name}-{ordinal}"
        spec = copy.deepcopy(template["spec"])
        for vct in doc["spec"].get("volumeClaimTemplates", []):
            claim = f"{vct['metadata']['name']}-{pod_name}"
            claim_spec = {k: v for k, v in vct["spec"].items() if k != "storageClassName"}
            claims.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                           "metadata": {"name": claim}, "spec": claim_spec})
            spec.setdefault("volumes", []).append(
                {"name": vct["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim}})
        pod = pod_of(template, pod_name)
        pod["spec"] = spec
        pods.append(pod)
    return pods, claims


def pod_config_maps(spec, config_maps, owner, adaptations):
    """The ConfigMaps a pod spec mounts, projected volumes merged into one."""
    used = []
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            used.append(config_maps[volume["configMap"]["name"]])
        elif "projected" in volume:
            sources = volume.pop("projected")["sources"]
            if any(set(s) != {"configMap"} for s in sources):
                raise ValueError(f"{owner}: projected volume {volume['name']} has other "
                                 "sources than ConfigMaps")
            names = [s["configMap"]["name"] for s in sources]
            merged = {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": names[0]}, "data": {}, "binaryData": {}}
            for source in names:
                merged["data"].update(config_maps[source].get("data") or {})
                merged["binaryData"].update(config_maps[source].get("binaryData") or {})
            volume["configMap"] = {"name": names[0]}
            used.append(merged)
            note(adaptations, f"{owner}: projected volume {volume['name']} of "
                               f"{len(names)} ConfigMaps played as one ConfigMap {names[0]}")
    return used


def service_alias(service, pod_spec, adaptations):
    name = service["metadata"]["name"]
    for port in service["spec"]["ports"]:
        target = resolve_port(pod_spec, port.get("targetPort", port["port"]))
        if target != port["port"]:
            adaptations.append(f"Service {name}: port {port['port']} -> {target} cannot be "
                               "a DNS alias; not reachable by its name here")
            return None
    adaptations.append(f"Service {name}: a DNS name on the network for the pods it selects")
    return name


def resolve_port(pod_spec, port):
    """A probe's or Service's port, by number or by the container port's name."""
    if isinstance(port, int):
        return port
    for container in pod_spec["containers"]:
        for declared in container.get("ports", []):
            if declared.get("name") == port:
                return declared["containerPort"]
    raise ValueError(f"no container port named {port}")


def probes(container, pod_spec):
    """(kind, action) of every probe a rendered container declares, with a
    named port resolved: ("readiness", ("http", "/status", 5000))."""
    found = []
    for kind in ("startup", "liveness", "readiness"):
        probe = container.get(f"{kind}Probe")
        if not probe:
            continue
        if "httpGet" in probe:
            get = probe["httpGet"]
            port = resolve_port(pod_spec, get["port"])
            found.append((kind, ("http", get.get("path", "/"), port)))
        elif "exec" in probe:
            found.append((kind, ("exec", probe["exec"]["command"])))
        else:
            raise ValueError(f"{kind} probe of {container['name']}: only httpGet and exec are run")
    return found
