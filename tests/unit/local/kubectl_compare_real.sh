#!/usr/bin/env bash
# Runs the everyday kubectl generators (which send protobuf) and the patch verbs against kop-local
# and against a real kube-apiserver, and prints where the -o json answers differ after masking
# what differs by nature (uid, resourceVersion, timestamps, cluster IPs, managedFields). A
# development tool, not part of `meson test` (docs/real-apiserver.md has the runs):
#
#   real-apiserver start   # or any cluster you may write to
#   tests/unit/local/kubectl_compare_real.sh build/libkop/local/kop-local REAL-KUBECONFIG [NAMESPACE]
set -uo pipefail
KOP_LOCAL=$1 REAL=$2 NS=${3:-kop-kubectl-compare-$(date +%s)}
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$KOP_LOCAL" --listen 127.0.0.1:$port --write-kubeconfig "$dir/kop.kc" >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do [ -s "$dir/kop.kc" ] && break; sleep 0.1; done

normalize() {
  python3 -c '
import json, re, sys
def walk(v, key=""):
    if isinstance(v, dict):
        return {k: walk(x, k) for k, x in v.items() if k not in ("managedFields",)}
    if isinstance(v, list):
        return [walk(x, key) for x in v]
    if key in ("uid", "resourceVersion", "creationTimestamp", "clusterIP", "kubectl.kubernetes.io/restartedAt"):
        return "<masked>" if v is not None else None
    if key == "clusterIPs":
        return ["<masked>"]
    return v
try:
    print(json.dumps(walk(json.load(sys.stdin)), indent=1, sort_keys=True))
except Exception as e:
    print("not JSON:", e)
'
}

kubectl --kubeconfig "$dir/kop.kc" create namespace "$NS" >/dev/null
kubectl --kubeconfig "$REAL" get namespace "$NS" >/dev/null 2>&1 || kubectl --kubeconfig "$REAL" create namespace "$NS" >/dev/null
# No controller-manager makes the default ServiceAccount there; pods need it on a real server.
for kc in "$dir/kop.kc" "$REAL"; do kubectl --kubeconfig "$kc" -n "$NS" create serviceaccount default >/dev/null 2>&1; done
same=0 differ=0
run() {  # run NAME ARGS... (-n NS and -o json are added)
  local name=$1; shift
  kubectl --kubeconfig "$dir/kop.kc" -n "$NS" "$@" -o json 2>&1 | normalize >"$dir/kop.json"
  kubectl --kubeconfig "$REAL" -n "$NS" "$@" -o json 2>&1 | normalize >"$dir/real.json"
  if diff -u "$dir/real.json" "$dir/kop.json" >"$dir/diff"; then
    echo "same    $name"; same=$((same+1))
  else
    echo "DIFFER  $name (- real, + kop-local)"; sed -n '3,60p' "$dir/diff"; differ=$((differ+1))
  fi
}
run "create configmap" create configmap cfg --from-literal=color=blue
run "create secret generic" create secret generic sec --from-literal=password=s3cret
run "create deployment" create deployment web --image=nginx:1 --replicas=2 --port=80
# A real server without the controller-manager issues no token: the pod mounts none.
run "run (pod)" run pod1 --image=busybox:1 --labels=app=pod1 --env=A=1 --port=8080 --overrides='{"spec":{"automountServiceAccountToken":false}}'
run "expose deployment" expose deployment web --port=80 --target-port=80
run "create service clusterip" create service clusterip svc1 --tcp=8080:80
run "create serviceaccount" create serviceaccount robot
run "create ingress" create ingress ing --class=kop --rule="a.example.com/=web:80"
run "label" label configmap cfg tier=front
run "annotate" annotate configmap cfg note=hello
run "set image" set image deployment/web nginx=nginx:2
run "scale" scale deployment web --replicas=3
run "rollout restart" rollout restart deployment web
run "get deployment" get deployment web
# The namespace is left behind: without the controller-manager a deleted one stays Terminating.
echo "kubectl compare: $same same, $differ differ"
