#!/usr/bin/env python3
"""Turns the kop-ingress container of examples/deploy/40-deployment.yaml into `docker run` terms.

tests/image/run runs the image the way that manifest runs it, so the test proves the manifest's
container spec and not a hand-written copy of it. Reads the manifest and a map of free loopback
ports, prints bash assignments (for eval):
  spec_image    the image the manifest names (the test runs its own build instead)
  user          runAsUser:runAsGroup of the pod (container-level values win)
  docker_flags  --read-only, --cap-drop, no-new-privileges, tmpfs for memory emptyDirs, the memory
                limit, env (fieldRef values filled in as the kubelet would)
  args          the container's args with every --*-addr=HOST:PORT moved to 127.0.0.1:<free port>
                (the container shares the host's network here, a pod has its own)
  ports         "name=containerPort:hostPort ..." for every declared port
  probes        "kind:path:hostPort ..." for each httpGet probe
  grace         terminationGracePeriodSeconds
Usage: pod-spec.py MANIFEST POD_NAME FREE_PORT...  (one free port per declared containerPort)
"""
import re
import shlex
import sys

import yaml


def main():
    manifest, pod_name, free = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]]
    with open(manifest) as f:
        deployment = next(d for d in yaml.safe_load_all(f) if d and d.get("kind") == "Deployment")
    meta = deployment["metadata"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "kop-ingress"]
    psc, csc = pod.get("securityContext", {}), container.get("securityContext", {})
    sc = {**psc, **csc}

    ports = container.get("ports", [])
    if len(free) < len(ports):
        sys.exit(f"pod-spec.py: {len(ports)} ports declared, {len(free)} free ports given")
    host_port = {p["containerPort"]: free[i] for i, p in enumerate(ports)}
    by_name = {p["name"]: p["containerPort"] for p in ports}

    args = []
    for a in container.get("args", []):
        m = re.fullmatch(r"(--[a-z-]+-addr)=([^:]*):(\d+)", a)
        if m:
            port = int(m.group(3))
            if port not in host_port:
                sys.exit(f"pod-spec.py: {a} listens on a port the container does not declare")
            a = f"{m.group(1)}=127.0.0.1:{host_port[port]}"
        args.append(a)

    flags = []
    if not sc.get("runAsNonRoot") or not sc.get("runAsUser"):
        sys.exit("pod-spec.py: the pod does not run as a fixed non-root user")
    user = f'{sc["runAsUser"]}:{sc.get("runAsGroup", sc["runAsUser"])}'
    if csc.get("readOnlyRootFilesystem"):
        flags.append("--read-only")
    for cap in csc.get("capabilities", {}).get("drop", []):
        flags += ["--cap-drop", cap]
    if csc.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    seccomp = sc.get("seccompProfile", {}).get("type", "RuntimeDefault")
    if seccomp != "RuntimeDefault":  # RuntimeDefault is docker's default profile
        sys.exit(f"pod-spec.py: seccomp profile {seccomp} is not mapped")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for vm in container.get("volumeMounts", []):
        v = volumes[vm["name"]]
        if "emptyDir" not in v:
            sys.exit(f"pod-spec.py: volume {vm['name']} is not an emptyDir")
        size = v["emptyDir"].get("sizeLimit", "64Mi").replace("Mi", "m").replace("Gi", "g")
        flags += ["--tmpfs", f"{vm['mountPath']}:rw,nosuid,nodev,size={size},mode=1777"]
    limit = container.get("resources", {}).get("limits", {}).get("memory")
    if limit:
        flags += ["--memory", limit.replace("Mi", "m").replace("Gi", "g")]
    field = {"metadata.name": pod_name, "metadata.namespace": meta["namespace"]}
    for e in container.get("env", []):
        value = e.get("value")
        if value is None:
            value = field[e["valueFrom"]["fieldRef"]["fieldPath"]]
        flags += ["-e", f'{e["name"]}={value}']

    probes = []
    for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
        get = container.get(kind, {}).get("httpGet")
        if get:
            port = get["port"]
            port = by_name[port] if isinstance(port, str) else port
            probes.append(f'{kind}:{get["path"]}:{host_port[port]}')

    out = {
        "user": user,
        "spec_image": container["image"],
        "grace": str(pod.get("terminationGracePeriodSeconds", 30)),
        "ports": " ".join(f'{p["name"]}={p["containerPort"]}:{host_port[p["containerPort"]]}' for p in ports),
        "probes": " ".join(probes),
    }
    for k, v in out.items():
        print(f"{k}={shlex.quote(v)}")
    print("docker_flags=(" + " ".join(shlex.quote(f) for f in flags) + ")")
    print("args=(" + " ".join(shlex.quote(a) for a in args) + ")")


main()
