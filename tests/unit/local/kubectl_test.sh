#!/usr/bin/env bash
# kubectl against kop-local over HTTPS: get (table, -o json, -o yaml), get --watch, create -f,
# replace -f, apply -f (client-side, strategic merge), apply --server-side -f, delete -f, and the
# 422 message of an invalid Ingress. Exit 77 (skipped) when kubectl is missing.
#   kubectl_test.sh PATH/TO/kop-local
set -uo pipefail
KOP_LOCAL=$1
if ! command -v kubectl >/dev/null 2>&1; then
  echo "SKIP: kubectl not installed (scripts/install-deps installs kubernetes-client)"
  exit 77
fi
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$KOP_LOCAL" --listen 127.0.0.1:$port --write-kubeconfig "$dir/kubeconfig" >"$dir/log" 2>&1 &
pid=$!
for _ in $(seq 50); do [ -s "$dir/kubeconfig" ] && break; sleep 0.1; done
export KUBECONFIG=$dir/kubeconfig
fails=0
check() {  # check NAME EXPECTED-SUBSTRING COMMAND...
  local name=$1 want=$2; shift 2
  local out; out=$("$@" 2>&1)
  if [[ "$out" == *"$want"* ]]; then echo "ok   $name"; else echo "FAIL $name: wanted [$want] in:"; echo "$out"; fails=$((fails+1)); fi
}
cat >"$dir/app.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  color: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1
        env: [{name: A, value: "1"}]
      - name: sidecar
        image: busybox
YAML
check "get namespaces (table)" "kube-system" kubectl get namespaces
check "create -f" "deployment.apps/web created" kubectl create -f "$dir/app.yaml"
check "get -o json" '"color": "blue"' kubectl get configmap app -o json
check "get -o yaml" "image: nginx:1" kubectl get deployment web -o yaml
check "get table columns" "DATA" kubectl get configmaps
sed -i 's/blue/green/' "$dir/app.yaml"
check "replace -f" "configmap/app replaced" kubectl replace -f "$dir/app.yaml"
check "replaced value" "green" kubectl get configmap app -o jsonpath='{.data.color}'
sed -i 's/nginx:1/nginx:2/' "$dir/app.yaml"
check "apply -f (client-side)" "deployment.apps/web configured" kubectl apply -f "$dir/app.yaml"
check "strategic merge kept both containers" "nginx:2 busybox" kubectl get deployment web -o jsonpath='{.spec.template.spec.containers[*].image}'
sed -i 's/green/red/' "$dir/app.yaml"
check "apply --server-side" "serverside-applied" kubectl apply --server-side --force-conflicts -f "$dir/app.yaml"
check "server-side applied value" "red" kubectl get configmap app -o jsonpath='{.data.color}'
kubectl get configmaps --watch -o name >"$dir/watch.out" 2>&1 &
wpid=$!
sleep 1
cat >"$dir/w.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: watched}
YAML
kubectl create -f "$dir/w.yaml" >/dev/null 2>&1
sleep 1
kill $wpid 2>/dev/null; wait $wpid 2>/dev/null
check "get --watch saw the new object" "configmap/watched" cat "$dir/watch.out"
cat >"$dir/bad.yaml" <<'YAML'
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bad}
spec:
  rules:
  - host: a.example.com
    http:
      paths:
      - path: /
        backend: {service: {name: web, port: {number: 80}}}
YAML
check "invalid ingress message" 'spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified' kubectl create -f "$dir/bad.yaml"
check "delete -f" 'deployment.apps "web" deleted' kubectl delete -f "$dir/app.yaml"
check "gone after delete" "NotFound" kubectl get deployment web
check "wrong token is 401" "Unauthorized" kubectl --token=wrong get configmaps
# The generators send built-in kinds as protobuf (application/vnd.kubernetes.protobuf).
check "create namespace (protobuf)" "namespace/demo created" kubectl create namespace demo
check "namespace defaults" "Active" kubectl get namespace demo -o jsonpath='{.status.phase}'
check "create configmap (protobuf)" "configmap/cfg created" kubectl -n demo create configmap cfg --from-literal=color=blue
check "configmap data" "blue" kubectl -n demo get configmap cfg -o jsonpath='{.data.color}'
check "create secret generic (protobuf)" "secret/sec created" kubectl -n demo create secret generic sec --from-literal=password=s3cret
check "secret data is base64" "czNjcmV0" kubectl -n demo get secret sec -o jsonpath='{.data.password}'
check "create deployment (protobuf)" "deployment.apps/web created" kubectl -n demo create deployment web --image=nginx:1 --replicas=2 --port=80
check "deployment defaults as the API server's" "RollingUpdate 25% 2" kubectl -n demo get deployment web -o jsonpath='{.spec.strategy.type} {.spec.strategy.rollingUpdate.maxSurge} {.spec.replicas}'
check "run (protobuf pod)" "pod/pod1 created" kubectl -n demo run pod1 --image=busybox:1 --labels=app=pod1 --env=A=1
check "pod env" "A=1" kubectl -n demo get pod pod1 -o jsonpath='{.spec.containers[0].env[0].name}={.spec.containers[0].env[0].value}'
check "expose (protobuf service)" "service/web exposed" kubectl -n demo expose deployment web --port=80 --target-port=80
check "exposed service selector" "web" kubectl -n demo get service web -o jsonpath='{.spec.selector.app}'
check "create service clusterip" "service/svc1 created" kubectl -n demo create service clusterip svc1 --tcp=8080:80
check "create serviceaccount" "serviceaccount/robot created" kubectl -n demo create serviceaccount robot
check "create ingress" "ingress.networking.k8s.io/ing created" kubectl -n demo create ingress ing --class=kop --rule="a.example.com/=web:80"
check "create -o json answers JSON" '"kind": "ConfigMap"' kubectl -n demo create configmap cfg2 --from-literal=a=b -o json
check "invalid object from protobuf: 422" 'is invalid' kubectl -n demo create configmap "Bad_Name"
# The patch verbs and the scale subresource.
check "scale" "deployment.apps/web scaled" kubectl -n demo scale deploy web --replicas=3
check "scaled replicas" "3" kubectl -n demo get deployment web -o jsonpath='{.spec.replicas}'
check "scale --current-replicas precondition" "Expected replicas to be 2, was 3" kubectl -n demo scale deploy web --current-replicas=2 --replicas=1
check "set image" "deployment.apps/web image updated" kubectl -n demo set image deployment/web nginx=nginx:2
check "image set" "nginx:2" kubectl -n demo get deployment web -o jsonpath='{.spec.template.spec.containers[0].image}'
check "rollout restart" "deployment.apps/web restarted" kubectl -n demo rollout restart deployment web
check "restartedAt annotation" "restartedAt" kubectl -n demo get deployment web -o jsonpath='{.spec.template.metadata.annotations}'
check "label" "configmap/cfg labeled" kubectl -n demo label configmap cfg tier=front
check "annotate" "configmap/cfg annotated" kubectl -n demo annotate configmap cfg note=hello
check "label and annotation set" "front hello" kubectl -n demo get configmap cfg -o jsonpath='{.metadata.labels.tier} {.metadata.annotations.note}'
check "label --overwrite needed" "already has a value" kubectl -n demo label configmap cfg tier=back
check "label removed" "configmap/cfg unlabeled" kubectl -n demo label configmap cfg tier-
cat >"$dir/pools-crd.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: pools.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: pools, singular: pool, kind: Pool}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.size, statusReplicasPath: .status.ready}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
          status: {type: object, properties: {ready: {type: integer}}}
YAML
printf 'apiVersion: example.com/v1\nkind: Pool\nmetadata: {name: p, namespace: demo}\nspec: {size: 1}\n' >"$dir/pool.yaml"
check "crd with scale subresource" "created" kubectl apply -f "$dir/pools-crd.yaml"
sleep 0.5
check "custom resource" "pool.example.com/p created" kubectl apply -f "$dir/pool.yaml"
check "scale a custom resource" "pool.example.com/p scaled" kubectl -n demo scale pool p --replicas=4
check "custom resource scaled" "4" kubectl -n demo get pool p -o jsonpath='{.spec.size}'
# OpenAPI: explain over v3, the v2 document as JSON.
check "explain deployment.spec.replicas" "FIELD: replicas <integer>" kubectl explain deployment.spec.replicas
check "explain nested fields" "containerPort	<integer>" kubectl explain pods.spec.containers.ports
check "explain a CRD with scale" "size	<integer>" kubectl explain pool.spec
check "openapi v2" '"io.k8s.api.apps.v1.Deployment"' kubectl get --raw /openapi/v2
# Server-side field validation: kubectl sends fieldValidation=Strict (--validate=warn: Warn).
cat >"$dir/typo.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: typo, namespace: demo}
spec:
  replicass: 2
  selector: {matchLabels: {app: t}}
  template:
    metadata: {labels: {app: t}}
    spec: {containers: [{name: c, image: nginx, imagee: x}]}
YAML
check "unknown fields refused" 'strict decoding error: unknown field "spec.replicass", unknown field "spec.template.spec.containers[0].imagee"' kubectl apply -f "$dir/typo.yaml"
check "unknown fields warned about" 'Warning: unknown field "spec.template.spec.containers[0].imagee"' kubectl create -f "$dir/typo.yaml" --validate=warn
check "unknown fields dropped" "" bash -c "kubectl -n demo get deployment typo -o json | grep -c imagee | grep -qx 0 && echo"
# Access reviews: the token holder may do everything, and kubectl is told so.
check "auth can-i" "yes" kubectl auth can-i create configmaps
check "auth can-i in a namespace" "yes" kubectl -n demo auth can-i delete deployments.apps
check "auth can-i --list" "*.*" kubectl auth can-i --list
check "auth whoami" "kop-local" kubectl auth whoami
check "api-resources lists the reviews" "selfsubjectaccessreviews" kubectl api-resources
# A second server fed by --crds and --manifests: printer columns of the CRD, objects in step.
mkdir -p "$dir/crds" "$dir/manifests"
cp "$(dirname "$0")/../../testdata/local/widgets-crd.yaml" "$dir/crds/"
cat >"$dir/manifests/w.yaml" <<'YAML'
apiVersion: example.com/v1
kind: Widget
metadata: {name: first}
spec: {size: 7}
YAML
port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$KOP_LOCAL" --listen 127.0.0.1:$port2 --crds "$dir/crds" --manifests "$dir/manifests" --write-kubeconfig "$dir/kc2" >"$dir/log2" 2>&1 &
pid2=$!
for _ in $(seq 50); do [ -s "$dir/kc2" ] && break; sleep 0.1; done
check "crd printer column" "SIZE" kubectl --kubeconfig "$dir/kc2" get widgets
check "explain a custom resource" "size	<integer> -required-" kubectl --kubeconfig "$dir/kc2" explain widget.spec
check "manifest object" "7" kubectl --kubeconfig "$dir/kc2" get widget first -o jsonpath='{.spec.size}'
printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: second}\nspec: {size: 2}\n' >"$dir/manifests/w2.yaml"
sleep 1.5
check "manifest added while running" "second" kubectl --kubeconfig "$dir/kc2" get widgets -o name
kill $pid2 2>/dev/null; wait $pid2 2>/dev/null
echo "kubectl: $fails failed"
[ $fails -eq 0 ]
