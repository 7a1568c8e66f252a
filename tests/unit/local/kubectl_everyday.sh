#!/usr/bin/env bash
# The 24 everyday kubectl commands of issue 16 against a kop-local started here: prints each
# command's outcome and the count that worked (docs/local.md records the count per build). A
# measuring tool, not part of `meson test` (local_kubectl asserts the same commands' results).
#   kubectl_everyday.sh PATH/TO/kop-local
set -uo pipefail
KOP_LOCAL=$1
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$KOP_LOCAL" --listen 127.0.0.1:$port --write-kubeconfig "$dir/kc" >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do [ -s "$dir/kc" ] && break; sleep 0.1; done
export KUBECONFIG=$dir/kc
cat >"$dir/app.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: app, namespace: default}
data: {color: blue}
YAML
# What the commands act on, made with create -f (JSON) so that each command counts on its own.
cat >"$dir/setup.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: demo}
data: {a: b}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: "nginx:1"}]}
YAML
kubectl create -f "$dir/setup.yaml" >/dev/null
ok=0 n=0
try() {  # try COMMAND... : exit status 0 is "works"
  n=$((n+1))
  if out=$("$@" 2>&1); then ok=$((ok+1)); echo "works  $*"; else echo "FAILS  $* -> ${out%%$'\n'*}"; fi
}
try kubectl get namespaces
try kubectl create namespace demo2
try kubectl -n demo create configmap cfg2 --from-literal=a=b
try kubectl -n demo create secret generic sec --from-literal=p=x
try kubectl -n demo create deployment web2 --image=nginx:1
try kubectl -n demo run pod1 --image=busybox:1
try kubectl -n demo expose deployment web --port=80
try kubectl apply -f "$dir/app.yaml"
try kubectl apply --server-side -f "$dir/app.yaml"
try kubectl replace -f "$dir/app.yaml"
try kubectl -n demo get deployment web -o yaml
try kubectl -n demo get pods -o wide
try kubectl -n demo describe configmap cfg
try kubectl -n demo label configmap cfg tier=a
try kubectl -n demo annotate configmap cfg note=x
try kubectl -n demo patch configmap cfg -p '{"data":{"a":"c"}}'
try kubectl -n demo set image deployment/web nginx=nginx:2
try kubectl -n demo scale deployment web --replicas=2
try kubectl -n demo rollout restart deployment web
try timeout 2 kubectl get configmaps -A --watch-only --request-timeout=1s
try kubectl explain deployment.spec.replicas
try kubectl get --raw /openapi/v2
try kubectl auth can-i create configmaps
try kubectl delete -f "$dir/app.yaml"
echo "kubectl everyday: $ok of $n work"
