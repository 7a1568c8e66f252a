// Decode benchmarks for libkop/api: JSON and YAML text -> kop::Object for a typical Ingress
// (~4 KiB, as the API server sends it: managedFields included) and a typical Pod (~10 KiB),
// plus the operations a cache does with them (copy, serialise, select, view).
//
// Allocations are counted by interposing malloc/free for this process (glibc): "allocs/op"
// and "bytes/op" are per decoded object, everything included (RapidJSON pool chunks, strings,
// the Object itself).
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "kop/api/labels.h"
#include "kop/api/object.h"
#include "kop/api/views.h"
#include "kop/api/yaml.h"

// ---- allocation counting (glibc: forward to the real allocator) ----

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void __libc_free(void*);
}

namespace {
std::atomic<uint64_t> g_allocs{0};
std::atomic<uint64_t> g_bytes{0};
}  // namespace

extern "C" void* malloc(size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(n, std::memory_order_relaxed);
  return __libc_malloc(n);
}
extern "C" void* calloc(size_t n, size_t m) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(n * m, std::memory_order_relaxed);
  return __libc_calloc(n, m);
}
extern "C" void* realloc(void* p, size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(n, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
extern "C" void free(void* p) {
  __libc_free(p);
}

namespace {

using kop::api::Object;

// A Pod as a kubelet-managed API server returns it (~10 KiB).
std::string pod_json() {
  std::string env;
  for (int i = 0; i < 62; ++i) {
    env +=
        fmt::format(R"({{"name":"APP_SETTING_{}","value":"value-number-{}-for-the-app"}},)", i, i);
  }
  env +=
      R"({"name":"POD_IP","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"status.podIP"}}})";
  std::string managed;
  for (int i = 0; i < 5; ++i) {
    managed += fmt::format(
        R"({{"manager":"kube-controller-manager-{}","operation":"Update","apiVersion":"v1",)"
        R"("time":"2024-05-01T12:00:0{}Z","fieldsType":"FieldsV1","fieldsV1":{{"f:metadata":)"
        R"({{"f:generateName":{{}},"f:labels":{{".":{{}},"f:app":{{}},"f:pod-template-hash":{{}}}},)"
        R"("f:ownerReferences":{{".":{{}},"k:{{\"uid\":\"9f1c\"}}":{{}}}}}},"f:spec":)"
        R"({{"f:containers":{{"k:{{\"name\":\"app\"}}":{{".":{{}},"f:env":{{}},"f:image":{{}},)"
        R"("f:imagePullPolicy":{{}},"f:name":{{}},"f:ports":{{}},"f:resources":{{}}}}}}}}}}}},)",
        i, i);
  }
  managed.pop_back();
  return fmt::format(R"({{
"apiVersion":"v1","kind":"Pod",
"metadata":{{"name":"web-7d9f8b6c5d-x2x7q","generateName":"web-7d9f8b6c5d-","namespace":"production",
 "uid":"5b0c8f0e-3f1a-4c1e-9d0a-2f6c1f0b7a11","resourceVersion":"184467","creationTimestamp":"2024-05-01T12:00:00Z",
 "labels":{{"app":"web","pod-template-hash":"7d9f8b6c5d","tier":"frontend","version":"v1.25.3"}},
 "annotations":{{"kubectl.kubernetes.io/restartedAt":"2024-05-01T11:59:00Z","prometheus.io/scrape":"true","prometheus.io/port":"9090"}},
 "ownerReferences":[{{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d9f8b6c5d","uid":"9f1c2d3e-4b5a-6789-abcd-ef0123456789","controller":true,"blockOwnerDeletion":true}}],
 "managedFields":[{}]}},
"spec":{{"volumes":[{{"name":"config","configMap":{{"name":"web-config","defaultMode":420}}}},
  {{"name":"kube-api-access-abcde","projected":{{"sources":[{{"serviceAccountToken":{{"expirationSeconds":3607,"path":"token"}}}},
  {{"configMap":{{"name":"kube-root-ca.crt","items":[{{"key":"ca.crt","path":"ca.crt"}}]}}}},
  {{"downwardAPI":{{"items":[{{"path":"namespace","fieldRef":{{"apiVersion":"v1","fieldPath":"metadata.namespace"}}}}]}}}}],"defaultMode":420}}}}],
 "containers":[{{"name":"app","image":"registry.example.com/web/app:1.25.3","ports":[{{"name":"http","containerPort":8080,"protocol":"TCP"}},{{"name":"metrics","containerPort":9090,"protocol":"TCP"}}],
   "env":[{}],
   "resources":{{"limits":{{"cpu":"1","memory":"512Mi"}},"requests":{{"cpu":"250m","memory":"256Mi"}}}},
   "volumeMounts":[{{"name":"config","mountPath":"/etc/web"}},{{"name":"kube-api-access-abcde","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}}],
   "livenessProbe":{{"httpGet":{{"path":"/healthz","port":8080,"scheme":"HTTP"}},"initialDelaySeconds":10,"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3}},
   "readinessProbe":{{"httpGet":{{"path":"/ready","port":8080,"scheme":"HTTP"}},"timeoutSeconds":1,"periodSeconds":5,"successThreshold":1,"failureThreshold":3}},
   "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}}],
 "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"web","serviceAccount":"web",
 "nodeName":"node-pool-a-7f3c","securityContext":{{"runAsNonRoot":true,"fsGroup":2000}},"schedulerName":"default-scheduler",
 "tolerations":[{{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}},{{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}}],
 "priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"}},
"status":{{"phase":"Running","conditions":[{{"type":"Initialized","status":"True","lastProbeTime":null,"lastTransitionTime":"2024-05-01T12:00:00Z"}},
  {{"type":"Ready","status":"True","lastProbeTime":null,"lastTransitionTime":"2024-05-01T12:00:12Z"}},
  {{"type":"ContainersReady","status":"True","lastProbeTime":null,"lastTransitionTime":"2024-05-01T12:00:12Z"}},
  {{"type":"PodScheduled","status":"True","lastProbeTime":null,"lastTransitionTime":"2024-05-01T12:00:00Z"}}],
 "hostIP":"10.128.0.17","podIP":"10.244.3.41","podIPs":[{{"ip":"10.244.3.41"}}],"startTime":"2024-05-01T12:00:00Z",
 "containerStatuses":[{{"name":"app","state":{{"running":{{"startedAt":"2024-05-01T12:00:03Z"}}}},"lastState":{{}},"ready":true,"restartCount":0,
   "image":"registry.example.com/web/app:1.25.3","imageID":"registry.example.com/web/app@sha256:4f53e2564790c8e7856ec08e384732aa38dc43c52f02952483e3f003afbf23db",
   "containerID":"containerd://8b1a9953c4611296a827abf8c47804d7e6c49c6b7c0f0b1f2e0d8f5e2b1c3a4d","started":true}}],
 "qosClass":"Burstable"}}
}})",
                     managed, env);
}

// An Ingress with two hosts, TLS and a status, as the API server returns it (~4 KiB).
std::string ingress_json() {
  std::string rules;
  for (int h = 0; h < 3; ++h) {
    std::string paths;
    for (int p = 0; p < 7; ++p) {
      paths += fmt::format(
          R"({{"path":"/api/v{}/service-{}","pathType":"{}","backend":{{"service":{{"name":"backend-{}-{}","port":{{"number":{}}}}}}}}},)",
          p + 1, p, p % 2 ? "Exact" : "Prefix", h, p, 8080 + p);
    }
    paths.pop_back();
    rules += fmt::format(R"({{"host":"app-{}.example.com","http":{{"paths":[{}]}}}},)", h, paths);
  }
  rules.pop_back();
  return fmt::format(R"({{
"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
"metadata":{{"name":"storefront","namespace":"production","uid":"2c9a1f7e-8d44-4b0f-a3a5-7a6c5c1f9e20",
 "resourceVersion":"991823","generation":7,"creationTimestamp":"2024-05-01T12:00:00Z",
 "labels":{{"app.kubernetes.io/name":"storefront","app.kubernetes.io/part-of":"shop","team":"web"}},
 "annotations":{{"kop.dev/timeout":"30s","kop.dev/rewrite-target":"/","kubectl.kubernetes.io/last-applied-configuration":"{{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":{{\"name\":\"storefront\",\"namespace\":\"production\"}}}}"}},
 "managedFields":[{{"manager":"kubectl-client-side-apply","operation":"Update","apiVersion":"networking.k8s.io/v1","time":"2024-05-01T12:00:00Z","fieldsType":"FieldsV1",
   "fieldsV1":{{"f:metadata":{{"f:annotations":{{".":{{}},"f:kop.dev/timeout":{{}},"f:kop.dev/rewrite-target":{{}}}},"f:labels":{{".":{{}},"f:team":{{}}}}}},
   "f:spec":{{"f:ingressClassName":{{}},"f:rules":{{}},"f:tls":{{}}}}}}}},
  {{"manager":"kop-ingress","operation":"Update","apiVersion":"networking.k8s.io/v1","time":"2024-05-01T12:00:05Z","fieldsType":"FieldsV1",
   "fieldsV1":{{"f:status":{{"f:loadBalancer":{{"f:ingress":{{}}}}}}}},"subresource":"status"}}]}},
"spec":{{"ingressClassName":"kop",
 "tls":[{{"hosts":["app-0.example.com","app-1.example.com"],"secretName":"storefront-tls"}}],
 "rules":[{}]}},
"status":{{"loadBalancer":{{"ingress":[{{"ip":"192.0.2.10"}}]}}}}
}})",
                     rules);
}

const std::string& pod_text() {
  static const std::string s = pod_json();
  return s;
}
const std::string& ingress_text() {
  static const std::string s = ingress_json();
  return s;
}
const std::string& to_yaml_text(const std::string& json) {
  static thread_local std::string cache_in, cache_out;
  if (cache_in != json) {
    cache_in = json;
    cache_out = kop::api::to_yaml(*Object::parse(json));
  }
  return cache_out;
}

// Runs `fn` per iteration and reports allocations per iteration.
template <typename Fn>
void with_alloc_counters(benchmark::State& state, size_t bytes_in, Fn&& fn) {
  uint64_t a0 = g_allocs.load(), b0 = g_bytes.load();
  for (auto _ : state) fn();
  uint64_t a1 = g_allocs.load(), b1 = g_bytes.load();
  double n = static_cast<double>(state.iterations());
  state.counters["allocs/op"] = static_cast<double>(a1 - a0) / n;
  state.counters["bytes/op"] = static_cast<double>(b1 - b0) / n;
  state.counters["input_bytes"] = static_cast<double>(bytes_in);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes_in));
}

// The memory the parsed document occupies in its pool (RapidJSON's DOM, strings included).
void report_dom(benchmark::State& state, Object o) {
  state.counters["dom_bytes"] = static_cast<double>(o.allocator().Size());
  state.counters["pool_bytes"] = static_cast<double>(o.allocator().Capacity());
}

void BM_DecodeIngressJson(benchmark::State& state) {
  const std::string& text = ingress_text();
  with_alloc_counters(state, text.size(), [&] {
    auto o = Object::parse(text);
    benchmark::DoNotOptimize(o);
  });
  report_dom(state, *Object::parse(text));
}
BENCHMARK(BM_DecodeIngressJson);

void BM_DecodePodJson(benchmark::State& state) {
  const std::string& text = pod_text();
  with_alloc_counters(state, text.size(), [&] {
    auto o = Object::parse(text);
    benchmark::DoNotOptimize(o);
  });
  report_dom(state, *Object::parse(text));
}
BENCHMARK(BM_DecodePodJson);

void BM_DecodeIngressYaml(benchmark::State& state) {
  const std::string yaml = to_yaml_text(ingress_text());
  with_alloc_counters(state, yaml.size(), [&] {
    auto o = kop::api::parse_yaml_objects(yaml, "ingress.yaml");
    benchmark::DoNotOptimize(o);
  });
}
BENCHMARK(BM_DecodeIngressYaml);

void BM_DecodePodYaml(benchmark::State& state) {
  const std::string yaml = to_yaml_text(pod_text());
  with_alloc_counters(state, yaml.size(), [&] {
    auto o = kop::api::parse_yaml_objects(yaml, "pod.yaml");
    benchmark::DoNotOptimize(o);
  });
}
BENCHMARK(BM_DecodePodYaml);

void BM_CopyPod(benchmark::State& state) {
  Object pod = *Object::parse(pod_text());
  with_alloc_counters(state, pod_text().size(), [&] {
    Object copy = pod;
    benchmark::DoNotOptimize(copy);
  });
  report_dom(state, Object(pod));
}
BENCHMARK(BM_CopyPod);

void BM_SerializePod(benchmark::State& state) {
  Object pod = *Object::parse(pod_text());
  with_alloc_counters(state, pod_text().size(), [&] {
    std::string s = pod.to_json();
    benchmark::DoNotOptimize(s);
  });
}
BENCHMARK(BM_SerializePod);

void BM_SelectorMatchesPod(benchmark::State& state) {
  Object pod = *Object::parse(pod_text());
  auto sel = *kop::api::LabelSelector::parse("app=web,tier in (frontend,backend),!canary");
  with_alloc_counters(state, 0, [&] {
    bool m = sel.matches(pod);
    benchmark::DoNotOptimize(m);
  });
}
BENCHMARK(BM_SelectorMatchesPod);

void BM_IngressViewRules(benchmark::State& state) {
  Object ing = *Object::parse(ingress_text());
  with_alloc_counters(state, 0, [&] {
    kop::api::IngressView v(ing);
    auto rules = v.rules();
    auto tls = v.tls();
    benchmark::DoNotOptimize(rules);
    benchmark::DoNotOptimize(tls);
  });
}
BENCHMARK(BM_IngressViewRules);

}  // namespace

BENCHMARK_MAIN();
