# Sourced by ./run --kubeconfig: puts the walk's objects into a real API server and gives
# kop-ingress the credentials a Pod of examples/deploy would have (its ServiceAccount's token,
# bound to the least-privilege ClusterRole), so RBAC is part of what the walk checks.

# load_into_cluster ADMIN_KUBECONFIG MANIFESTS_DIR TMP_DIR
# Writes TMP_DIR/kop-ingress.kubeconfig.
load_into_cluster() {
  local kc=$1 manifests=$2 tmp=$3
  local k=(kubectl --kubeconfig "$kc")
  command -v kubectl >/dev/null || fail "kubectl not found (scripts/install-deps installs it)"
  say "loading CRDs, examples/deploy RBAC and IngressClass into $("${k[@]}" config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
  "${k[@]}" apply -f "$root/crds/ingressroutes.ingress.kop.dev.yaml" \
    -f "$root/crds/tlscertificatedelegations.ingress.kop.dev.yaml" >/dev/null
  "${k[@]}" wait --for condition=established --timeout=30s \
    crd/ingressroutes.ingress.kop.dev crd/tlscertificatedelegations.ingress.kop.dev >/dev/null
  local f
  for f in 00-namespace 10-serviceaccount 20-rbac 30-ingressclass; do
    "${k[@]}" apply -f "$root/examples/deploy/$f.yaml" >/dev/null
  done

  # The walk's objects. A server older than 1.21 serves EndpointSlices only as v1beta1.
  local slices=$manifests/endpointslices.yaml
  if ! "${k[@]}" api-versions | grep -qx discovery.k8s.io/v1; then
    slices=$tmp/endpointslices.v1beta1.yaml
    sed -e "s/port: 18081\$/port: ${app_ports[0]}/" -e "s/port: 18082\$/port: ${app_ports[1]}/" \
      "$here/local/v1beta1/endpointslices.yaml" >"$slices"
    say "the server has no discovery.k8s.io/v1: EndpointSlices applied as v1beta1"
  fi
  local routes=$manifests/ingress.yaml
  if [ "$gateway" = 1 ]; then
    # The CRDs' validation rules need a 1.25 server; older ones get the variant without them.
    local minor variant=standard
    minor=$("${k[@]}" version -o json 2>/dev/null | sed -n 's/.*"minor": *"\([0-9]*\).*/\1/p' | tail -n1)
    [ -n "$minor" ] && [ "$minor" -lt 25 ] && variant=v1.20
    say "Gateway API CRDs: crds/gateway-api/$variant"
    "${k[@]}" apply -f "$root/crds/gateway-api/$variant" >/dev/null
    "${k[@]}" wait --for condition=established --timeout=30s \
      crd/gatewayclasses.gateway.networking.k8s.io crd/gateways.gateway.networking.k8s.io \
      crd/httproutes.gateway.networking.k8s.io >/dev/null
    routes=$manifests/gateway.yaml
  fi
  "${k[@]}" apply -f "$manifests/service.yaml" -f "$slices" -f "$routes" \
    -f "$manifests/hello-pks-tls.secret.yaml" >/dev/null

  # The ServiceAccount's token (made by the controller-manager's token controller on v1.20).
  local secret="" token=""
  for _ in $(seq 100); do
    secret=$("${k[@]}" -n kop-system get serviceaccount kop-ingress -o jsonpath='{.secrets[0].name}' 2>/dev/null || true)
    [ -n "$secret" ] && token=$("${k[@]}" -n kop-system get secret "$secret" -o jsonpath='{.data.token}' 2>/dev/null || true)
    [ -n "$token" ] && break
    sleep 0.2
  done
  [ -n "$token" ] || fail "no token for ServiceAccount kop-system/kop-ingress (is the controller-manager running?)"
  local server ca
  server=$("${k[@]}" config view --minify --raw -o jsonpath='{.clusters[0].cluster.server}')
  ca=$("${k[@]}" config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  if [ -z "$ca" ]; then
    ca=$(base64 -w0 <"$("${k[@]}" config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority}')")
  fi
  (
    umask 077
    cat >"$tmp/kop-ingress.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: kop-ingress, user: {token: "$(printf '%s' "$token" | base64 -d)"}}]
contexts: [{name: c, context: {cluster: c, user: kop-ingress, namespace: kop-system}}]
current-context: c
YAML
  )
  say "kop-ingress authenticates as system:serviceaccount:kop-system:kop-ingress"
}

# check_ingress_status ADMIN_KUBECONFIG WANT_IP: waits up to 10 s for the leader to publish it.
check_ingress_status() {
  local got=""
  for _ in $(seq 100); do
    got=$(kubectl --kubeconfig "$1" -n default get ingress hello-pks \
      -o jsonpath='{.status.loadBalancer.ingress[0].ip}' 2>/dev/null || true)
    [ "$got" = "$2" ] && { say "Ingress default/hello-pks status.loadBalancer.ingress[0].ip = $got"; return 0; }
    sleep 0.1
  done
  say "Ingress default/hello-pks status.loadBalancer.ingress[0].ip = '$got', want '$2'"
  return 1
}

# check_gateway_service ADMIN_KUBECONFIG HTTP_PORT HTTPS_PORT: the Gateway's Service in kop-system
# maps 80 and 443 to the ports the walk used; once its status.loadBalancer is set (as a cloud
# controller would), the Gateway reports that address and Programmed=True within 10 s.
check_gateway_service() {
  local k=(kubectl --kubeconfig "$1" -n kop-system) svc ports got=""
  svc=$("${k[@]}" get services -l gateway.kop.dev/namespace=default,gateway.kop.dev/name=hello-pks \
    -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)
  [ -n "$svc" ] || { say "no Service labelled for Gateway default/hello-pks in kop-system"; return 1; }
  ports=$("${k[@]}" get service "$svc" -o jsonpath='{range .spec.ports[*]}{.port}:{.targetPort} {end}')
  say "Service kop-system/$svc ($("${k[@]}" get service "$svc" -o jsonpath='{.spec.type}')): $ports"
  [ "$ports" = "80:$2 443:$3 " ] || { say "want ports '80:$2 443:$3 '"; return 1; }
  "${k[@]}" patch service "$svc" --subresource=status --type=merge \
    -p '{"status":{"loadBalancer":{"ingress":[{"ip":"127.0.0.1"}]}}}' >/dev/null
  for _ in $(seq 100); do
    got=$(kubectl --kubeconfig "$1" -n default get gateway hello-pks \
      -o jsonpath='{.status.addresses[0].value} {.status.conditions[?(@.type=="Programmed")].status}' 2>/dev/null || true)
    [ "$got" = "127.0.0.1 True" ] && { say "Gateway default/hello-pks: address 127.0.0.1, Programmed=True"; return 0; }
    sleep 0.1
  done
  say "Gateway default/hello-pks: address and Programmed = '$got', want '127.0.0.1 True'"
  return 1
}
