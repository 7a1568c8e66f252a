#!/usr/bin/env bash
# kubectl apply of each Gateway API CRD variant (crds/gateway-api/standard, crds/gateway-api/v1.20)
# against kop-local, then Gateway API objects accepted or refused as a real API server does:
# valid objects of every kind (a created route's status is dropped, not validated), and invalid
# ones per the schema (bad enum, missing required field, too many items, out of range, bad
# pattern) refused with the API server's message. Exit 77 (skipped) when kubectl is missing.
#   crds_test.sh PATH/TO/kop-local SOURCE_ROOT
#   crds_test.sh --current SOURCE_ROOT    only the object checks, against the cluster of $KUBECONFIG
#                                         whose Gateway API CRDs are installed (by hand, e.g. the
#                                         real API server tool; docs/real-apiserver.md)
# With KOP_GATEWAY_API_SRC=<a gateway-api checkout at v1.6.1> it also applies every upstream
# example and the GATEWAY conformance manifests (by hand; the upstream files are not part of this
# repo; gatewayclass-observed-generation-bump.yaml and gateway-static-addresses.yaml are templates
# whose placeholders the upstream suite replaces first: as they are, an API server refuses them).
set -uo pipefail
KOP_LOCAL=$1
ROOT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
CURRENT=0
if [ "$KOP_LOCAL" = "--current" ]; then CURRENT=1; fi
if ! command -v kubectl >/dev/null 2>&1; then
  echo "SKIP: kubectl not installed"
  exit 77
fi
dir=$(mktemp -d)
pid=
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; pid=; }
trap 'stop; rm -rf "$dir"' EXIT
fails=0
check() {  # check NAME EXPECTED-SUBSTRING COMMAND...
  local name=$1 want=$2; shift 2
  local out; out=$("$@" 2>&1)
  if [[ "$out" == *"$want"* ]]; then echo "ok   $name"; else echo "FAIL $name: wanted [$want] in:"; echo "$out"; fails=$((fails+1)); fi
}
start() {  # a fresh kop-local on a free port
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -f "$dir/kubeconfig"
  "$KOP_LOCAL" --listen 127.0.0.1:$port --write-kubeconfig "$dir/kubeconfig" >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 50); do [ -s "$dir/kubeconfig" ] && break; sleep 0.1; done
  export KUBECONFIG=$dir/kubeconfig
}
refused() {  # refused NAME EXPECTED-MESSAGE YAML: `kubectl create` must fail with that message
  local name=$1 want=$2 yaml=$3 out rc
  out=$(kubectl create -f - 2>&1 <<<"$yaml")
  rc=$?
  # Against another server only the refusal counts: kube-apiserver 1.20 drops list indices from
  # field paths, and kubectl refuses a missing required field itself when the server publishes
  # the CRD's schema (docs/real-apiserver.md lists the messages).
  if [ "$CURRENT" = 1 ] && [ $rc -ne 0 ]; then echo "ok   refused: $name: $out"; return; fi
  if [ $rc -ne 0 ] && [[ "$out" == *"$want"* ]]; then echo "ok   refused: $name"; else
    echo "FAIL refused: $name: wanted an error with [$want], got:"; echo "$out"; fails=$((fails+1)); fi
}
ROUTE='apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {namespace: gw-shop, name:'
GATEWAY='apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {namespace: gw-shop, name:'

apply_crds() {  # apply_crds VARIANT
  local variant=$1 crds out crd
  crds=$(ls "$ROOT/crds/gateway-api/$variant"/*.yaml | wc -l)
  out=$(kubectl apply -f "$ROOT/crds/gateway-api/$variant/" 2>&1)
  if [ "$(grep -c ' created$' <<<"$out")" -eq "$crds" ] && [ "$crds" -ge 6 ]; then
    echo "ok   apply $crds CRDs"
  else
    echo "FAIL apply CRDs:"; echo "$out"; fails=$((fails+1))
  fi
  for crd in gatewayclasses gateways httproutes grpcroutes tlsroutes referencegrants; do
    check "$crd Established" "True" kubectl get crd "$crd.gateway.networking.k8s.io" \
      -o 'jsonpath={.status.conditions[?(@.type=="Established")].status}'
  done
  check "a second apply changes nothing" "unchanged" kubectl apply -f "$ROOT/crds/gateway-api/$variant/gateways.gateway.networking.k8s.io.yaml"
}

check_objects() {
  local out
  out=$(kubectl apply -f "$HERE/objects-valid.yaml" 2>&1)
  if [ $? -eq 0 ] && [ "$(grep -c -e ' created$' -e ' unchanged$' <<<"$out")" -eq 8 ]; then echo "ok   valid objects created"; else
    echo "FAIL valid objects:"; echo "$out"; fails=$((fails+1)); fi
  check "created HTTPRoute has no status" "{}" kubectl get httproute -n gw-shop store -o 'jsonpath={.status}{"{}"}'
  check "Gateway status is the schema default" "Pending" kubectl get gateway -n gw-shop front -o 'jsonpath={.status.conditions[0].reason}'
  check "served as v1beta1 too" "store" kubectl get httproutes.v1beta1.gateway.networking.k8s.io -n gw-shop store -o name
  check "ReferenceGrant v1" "shop-to-backends" kubectl get referencegrants.v1.gateway.networking.k8s.io -n gw-backends -o name
  check "status write validated" 'status.parents: Required value' kubectl patch httproute -n gw-shop store \
    --subresource=status --type=merge -p '{"status":{"parents":null}}'

  refused "enum" 'spec.rules[0].matches[0].path.type: Unsupported value: "Glob": supported values: "Exact", "PathPrefix", "RegularExpression"' \
    "$ROUTE bad-enum}
spec: {rules: [{matches: [{path: {type: Glob, value: /x}}]}]}"
  refused "required gatewayClassName" 'spec.gatewayClassName: Required value' \
    "$GATEWAY no-class}
spec: {listeners: [{name: web, port: 80, protocol: HTTP}]}"
  refused "required backendRef name" 'spec.rules[0].backendRefs[0].name: Required value' \
    "$ROUTE no-name}
spec: {rules: [{backendRefs: [{port: 80}]}]}"
  refused "too many hostnames" 'spec.hostnames: Invalid value: 17: spec.hostnames in body should have at most 16 items' \
    "$ROUTE many-hosts}
spec: {hostnames: [$(seq -s, -f 'h%g.example' 1 17)]}"
  refused "too many rules" 'spec.rules in body should have at most 16 items' \
    "$ROUTE many-rules}
spec: {rules: [$(yes '{}' | head -17 | paste -sd,)]}"
  refused "port range" 'spec.listeners[0].port in body should be less than or equal to 65535' \
    "$GATEWAY big-port}
spec: {gatewayClassName: kop, listeners: [{name: web, port: 70000, protocol: HTTP}]}"
  refused "hostname pattern" 'spec.hostnames[0]: Invalid value: "Bad_Host"' \
    "$ROUTE bad-host}
spec: {hostnames: [Bad_Host]}"
  refused "weight range" 'spec.rules[0].backendRefs[0].weight in body should be less than or equal to 1000000' \
    "$ROUTE heavy}
spec: {rules: [{backendRefs: [{name: a, port: 80, weight: 1000001}]}]}"
  refused "listener protocol pattern" 'spec.listeners[0].protocol: Invalid value: "_HTTP"' \
    "$GATEWAY bad-protocol}
spec: {gatewayClassName: kop, listeners: [{name: web, port: 80, protocol: _HTTP}]}"
  refused "address not an IP (oneOf/anyOf)" '"spec.addresses[0]" must validate one and only one schema (oneOf). Found none valid' \
    "$GATEWAY bad-address}
spec: {gatewayClassName: kop, listeners: [{name: web, port: 80, protocol: HTTP}], addresses: [{value: not-an-ip}]}"
  refused "ReferenceGrant without to" 'spec.to: Required value' \
    'apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {namespace: gw-shop, name: half}
spec: {from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: x}]}'
  # x-kubernetes-validations rules are not run by kube-apiserver before 1.25 (the v1.20 variant
  # has none) nor by kop::local: an object only a rule would refuse is accepted, as on v1.20.
  check "rule-only violation accepted (as v1.20)" "rule-only" kubectl apply -f - <<<"$ROUTE rule-only}
spec: {parentRefs: [{name: front}, {name: front, sectionName: web}]}"
}

apply_upstream() {
  local src=$KOP_GATEWAY_API_SRC n=0 f out
  kubectl apply -f "$src/examples/standard/0-namespaces.yaml" >/dev/null
  while read -r f; do
    n=$((n+1))
    out=$(kubectl apply -f "$f" 2>&1) || { echo "FAIL upstream $f:"; echo "$out"; fails=$((fails+1)); }
  done < <( (find "$src/examples/standard" -name '*.yaml'; echo "$src/conformance/base/manifests.yaml"
             ls "$src"/conformance/tests/*.yaml) | sort |
             grep -v -e gatewayclass-observed-generation-bump -e gateway-static-addresses)
  echo "ok   $n upstream example and conformance files applied (failures listed above)"
}

if [ "$CURRENT" = 1 ]; then
  echo "== objects against $(kubectl config current-context 2>/dev/null)"
  check_objects
  if [ -n "${KOP_GATEWAY_API_SRC:-}" ]; then apply_upstream; fi
else
  for variant in standard v1.20; do
    echo "== variant $variant"
    start
    apply_crds "$variant"
    check_objects
    if [ -n "${KOP_GATEWAY_API_SRC:-}" ]; then apply_upstream; fi
    stop
  done
fi
echo "failures: $fails"
[ "$fails" -eq 0 ]
