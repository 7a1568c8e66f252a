#include "strategy.h"

#include <random>

#include <absl/strings/escaping.h>

namespace kop::local::strategy {

namespace {

bool is(const ResourceType& t, std::string_view group, std::string_view resource) {
  return t.group == group && t.resource == resource;
}

JsonValue empty_status(const ResourceType& t, JsonAlloc& a) {
  JsonValue st(rapidjson::kObjectType);
  if (is(t, "", "services") || is(t, "networking.k8s.io", "ingresses")) {
    st.AddMember("loadBalancer", JsonValue(rapidjson::kObjectType), a);
  } else if (is(t, "", "namespaces")) {
    st.AddMember("phase", "Active", a);
  } else if (is(t, "", "pods")) {
    st.AddMember("phase", "Pending", a);
    st.AddMember("qosClass", "BestEffort", a);
  }
  return st;
}

// 10.96.0.0/12 service range, like kubeadm's default; .1 is the kubernetes service.
std::string allocate_cluster_ip() {
  static std::mt19937 rng(std::random_device{}());
  uint32_t off = 2 + rng() % ((1u << 20) - 3);
  uint32_t ip = (10u << 24) | (96u << 16) | off;
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." +
         std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255);
}

std::string base64(std::string_view in) {
  return absl::Base64Escape(absl::string_view(in.data(), in.size()));
}

void copy_member(const JsonValue& from, JsonValue& to, std::string_view key, JsonAlloc& a) {
  if (const JsonValue* v = json::find(from, key)) {
    json::set_member(to, key, json::copy(*v, a), a);
  } else {
    json::remove_member(to, key);
  }
}

}  // namespace

// SetDefaults_PodSpec / SetDefaults_Container (k8s.io/kubernetes/pkg/apis/core/v1/defaults.go).
void pod_spec_defaults(JsonValue& spec, JsonAlloc& a) {
  if (!spec.IsObject()) return;
  auto def = [&](JsonValue& o, std::string_view k, JsonValue v) {
    if (!json::find(o, k)) json::set_member(o, k, std::move(v), a);
  };
  def(spec, "dnsPolicy", json::make_string("ClusterFirst", a));
  def(spec, "restartPolicy", json::make_string("Always", a));
  def(spec, "schedulerName", json::make_string("default-scheduler", a));
  def(spec, "securityContext", JsonValue(rapidjson::kObjectType));
  def(spec, "terminationGracePeriodSeconds", JsonValue(int64_t(30)));
  for (auto list : {"containers", "initContainers"}) {
    JsonValue* cs = json::find(spec, list);
    if (!cs || !cs->IsArray()) continue;
    for (auto& c : cs->GetArray()) {
      if (!c.IsObject()) continue;
      std::string_view image = json::string_or_empty(&c, "image");
      auto slash = image.rfind('/');
      std::string_view last = slash == std::string_view::npos ? image : image.substr(slash + 1);
      bool latest =
          image.find('@') == std::string_view::npos &&
          (last.find(':') == std::string_view::npos || last.substr(last.find(':') + 1) == "latest");
      def(c, "imagePullPolicy", json::make_string(latest ? "Always" : "IfNotPresent", a));
      def(c, "resources", JsonValue(rapidjson::kObjectType));
      def(c, "terminationMessagePath", json::make_string("/dev/termination-log", a));
      def(c, "terminationMessagePolicy", json::make_string("File", a));
      if (JsonValue* ports = json::find(c, "ports"); ports && ports->IsArray()) {
        for (auto& p : ports->GetArray()) {
          if (p.IsObject()) def(p, "protocol", json::make_string("TCP", a));
        }
      }
    }
  }
}

namespace {

// SetDefaults_Pod: a container's request for a resource with a limit and no request is the limit;
// enableServiceLinks is true. (Pods only: pod templates do not get these.)
void pod_defaults(JsonValue& spec, JsonAlloc& a) {
  if (!json::find(spec, "enableServiceLinks"))
    json::set_member(spec, "enableServiceLinks", JsonValue(true), a);
  for (auto list : {"containers", "initContainers"}) {
    JsonValue* cs = json::find(spec, list);
    if (cs == nullptr || !cs->IsArray()) continue;
    for (auto& c : cs->GetArray()) {
      JsonValue* res = c.IsObject() ? json::find(c, "resources") : nullptr;
      const JsonValue* limits = res && res->IsObject() ? json::find(*res, "limits") : nullptr;
      if (limits == nullptr || !limits->IsObject() || limits->MemberCount() == 0) continue;
      JsonValue copy(*limits, a);
      JsonValue& requests = json::ensure_object(*res, "requests", a);
      for (auto& l : copy.GetObject())
        if (!json::find(requests, json::as_string_view(l.name)))
          requests.AddMember(JsonValue(l.name, a), JsonValue(l.value, a), a);
    }
  }
}

// What the API server's default admission plugins add to a created pod: ServiceAccount (the
// "default" account; kop-local does not check that it exists nor mount its token), Priority
// (0, PreemptLowerPriority, without priority classes) and DefaultTolerationSeconds (300 s for
// not-ready and unreachable nodes).
void pod_admission(JsonValue& spec, JsonAlloc& a) {
  if (json::string_or_empty(&spec, "serviceAccountName").empty())
    json::set_string(spec, "serviceAccountName", "default", a);
  // The deprecated field mirrors the name, as the v1 conversion writes it.
  json::set_string(spec, "serviceAccount", json::string_or_empty(&spec, "serviceAccountName"), a);
  if (!json::find(spec, "priority")) json::set_member(spec, "priority", JsonValue(0), a);
  if (!json::find(spec, "preemptionPolicy"))
    json::set_string(spec, "preemptionPolicy", "PreemptLowerPriority", a);
  JsonValue* tols = json::find(spec, "tolerations");
  for (auto key : {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}) {
    bool tolerated = false;
    if (tols && tols->IsArray()) {
      for (auto& t : tols->GetArray()) {
        std::string_view k = json::string_or_empty(&t, "key");
        std::string_view e = json::string_or_empty(&t, "effect");
        bool any_key = k.empty() && json::string_or_empty(&t, "operator") == "Exists";
        tolerated = tolerated || ((k == key || any_key) && (e.empty() || e == "NoExecute"));
      }
    }
    if (tolerated) continue;
    JsonValue t(rapidjson::kObjectType);
    t.AddMember("key", json::ref(key), a);
    t.AddMember("operator", "Exists", a);
    t.AddMember("effect", "NoExecute", a);
    t.AddMember("tolerationSeconds", JsonValue(int64_t(300)), a);
    if (tols == nullptr || !tols->IsArray()) {
      json::set_member(spec, "tolerations", JsonValue(rapidjson::kArrayType), a);
      tols = json::find(spec, "tolerations");
    }
    tols->PushBack(t, a);
  }
}

// v1qos.GetPodQOS over cpu and memory: BestEffort without any request or limit, Guaranteed when
// every container limits both and requests equal limits, Burstable otherwise.
std::string_view pod_qos(const JsonValue& spec) {
  bool any = false;
  bool guaranteed = true;
  for (auto list : {"containers", "initContainers"}) {
    const JsonValue* cs = json::find(spec, list);
    if (cs == nullptr || !cs->IsArray()) continue;
    for (auto& c : cs->GetArray()) {
      const JsonValue* res = c.IsObject() ? json::find(c, "resources") : nullptr;
      const JsonValue* req = res ? json::find(*res, "requests") : nullptr;
      const JsonValue* lim = res ? json::find(*res, "limits") : nullptr;
      for (auto r : {"cpu", "memory"}) {
        const JsonValue* q = req ? json::find(*req, r) : nullptr;
        const JsonValue* l = lim ? json::find(*lim, r) : nullptr;
        any = any || q || l;
        guaranteed = guaranteed && l && q && json::equal(*q, *l);
      }
    }
  }
  return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}

}  // namespace

// Ingresses and IngressClasses have no defaults in networking/v1 (pathType is required).
void apply_defaults(const ResourceType& t, JsonDoc& obj) {
  auto& a = obj.GetAllocator();
  if (is(t, "", "pods")) {
    JsonValue& spec = json::ensure_object(obj, "spec", a);
    pod_spec_defaults(spec, a);
    pod_defaults(spec, a);
  }
  if (is(t, "", "services")) {
    JsonValue& spec = json::ensure_object(obj, "spec", a);
    if (!json::find(spec, "type")) json::set_string(spec, "type", "ClusterIP", a);
    if (!json::find(spec, "sessionAffinity")) json::set_string(spec, "sessionAffinity", "None", a);
    std::string_view type = json::string_or_empty(&spec, "type");
    if (JsonValue* ports = json::find(spec, "ports"); ports && ports->IsArray()) {
      for (auto& p : ports->GetArray()) {
        if (!p.IsObject()) continue;
        if (!json::find(p, "protocol")) json::set_string(p, "protocol", "TCP", a);
        if (!json::find(p, "targetPort") && type != "ExternalName") {
          if (const JsonValue* port = json::find(p, "port"))
            json::set_member(p, "targetPort", json::copy(*port, a), a);
        }
      }
    }
    if ((type == "NodePort" || type == "LoadBalancer") &&
        !json::find(spec, "externalTrafficPolicy")) {
      json::set_string(spec, "externalTrafficPolicy", "Cluster", a);
    }
  } else if (is(t, "", "secrets")) {
    if (json::string_or_empty(&obj, "type").empty()) json::set_string(obj, "type", "Opaque", a);
    // stringData is write-only: merged into data (base64) and dropped, as the API server does.
    if (JsonValue* sd = json::find(obj, "stringData"); sd && sd->IsObject()) {
      JsonValue& data = json::ensure_object(obj, "data", a);
      for (auto& m : sd->GetObject())
        json::set_string(data, json::as_string_view(m.name), base64(json::as_string_view(m.value)),
                         a);
      json::remove_member(obj, "stringData");
    }
  } else if (is(t, "", "endpoints")) {
    // SetDefaults_Endpoints: every subset port's protocol defaults to TCP.
    if (JsonValue* subsets = json::find(obj, "subsets"); subsets && subsets->IsArray()) {
      for (auto& ss : subsets->GetArray()) {
        JsonValue* ports = ss.IsObject() ? json::find(ss, "ports") : nullptr;
        if (ports == nullptr || !ports->IsArray()) continue;
        for (auto& p : ports->GetArray())
          if (p.IsObject() && !json::find(p, "protocol")) json::set_string(p, "protocol", "TCP", a);
      }
    }
  } else if (is(t, "discovery.k8s.io", "endpointslices")) {
    if (JsonValue* ports = json::find(obj, "ports"); ports && ports->IsArray()) {
      for (auto& p : ports->GetArray()) {
        if (p.IsObject() && !json::find(p, "protocol")) json::set_string(p, "protocol", "TCP", a);
      }
    }
    if (JsonValue* eps = json::find(obj, "endpoints"); eps && eps->IsArray()) {
      for (auto& e : eps->GetArray()) {
        if (!e.IsObject()) continue;
        JsonValue& cond = json::ensure_object(e, "conditions", a);
        (void)cond;
      }
    }
  } else if (is(t, "apps", "deployments")) {
    JsonValue& spec = json::ensure_object(obj, "spec", a);
    if (!json::find(spec, "replicas")) json::set_member(spec, "replicas", JsonValue(1), a);
    if (!json::find(spec, "revisionHistoryLimit"))
      json::set_member(spec, "revisionHistoryLimit", JsonValue(10), a);
    if (!json::find(spec, "progressDeadlineSeconds"))
      json::set_member(spec, "progressDeadlineSeconds", JsonValue(600), a);
    if (JsonValue* tmpl = json::find(spec, "template"); tmpl && tmpl->IsObject()) {
      JsonValue& tmeta = json::ensure_object(*tmpl, "metadata", a);
      if (!json::find(tmeta, "creationTimestamp"))
        json::set_member(tmeta, "creationTimestamp", JsonValue(), a);
      pod_spec_defaults(json::ensure_object(*tmpl, "spec", a), a);
    }
    // SetDefaults_Deployment: an empty type is RollingUpdate (a typed client always sends
    // "strategy": {}), whose unset limits are 25%.
    JsonValue& strat = json::ensure_object(spec, "strategy", a);
    if (json::string_or_empty(&strat, "type").empty())
      json::set_string(strat, "type", "RollingUpdate", a);
    if (json::string_or_empty(&strat, "type") == "RollingUpdate") {
      JsonValue& ru = json::ensure_object(strat, "rollingUpdate", a);
      for (auto key : {"maxUnavailable", "maxSurge"})
        if (!json::find(ru, key)) json::set_string(ru, key, "25%", a);
    }
  } else if (is(t, "apiextensions.k8s.io", "customresourcedefinitions")) {
    JsonValue& spec = json::ensure_object(obj, "spec", a);
    if (!json::find(spec, "conversion")) {
      JsonValue conv(rapidjson::kObjectType);
      conv.AddMember("strategy", "None", a);
      json::set_member(spec, "conversion", std::move(conv), a);
    }
    JsonValue& names = json::ensure_object(spec, "names", a);
    if (!json::find(names, "listKind") && !json::string_or_empty(&names, "kind").empty()) {
      json::set_string(names, "listKind",
                       std::string(json::string_or_empty(&names, "kind")) + "List", a);
    }
  }
}

// The API server's Namespace defaulting: every Namespace carries the label
// kubernetes.io/metadata.name with its own name, set on create and again on every update (a
// write that drops or changes it gets it back), so label selectors can pick namespaces by name.
void label_namespace_with_its_name(JsonDoc& obj, JsonAlloc& a) {
  JsonValue& meta = json::ensure_object(obj, "metadata", a);
  std::string name(json::string_or_empty(&meta, "name"));
  if (name.empty()) return;
  json::set_string(json::ensure_object(meta, "labels", a), "kubernetes.io/metadata.name", name, a);
}

void prepare_create(const ResourceType& t, JsonDoc& obj) {
  auto& a = obj.GetAllocator();
  if (t.has_status && t.custom) {
    // apiextensions' PrepareForCreate: a created custom resource has no status at all (its
    // schema may require status fields, e.g. Gateway API's status.parents, that only the
    // controller writes through /status); defaulting may add one back afterwards.
    json::remove_member(obj, "status");
  } else if (t.has_status) {
    json::set_member(obj, "status", empty_status(t, a), a);
  }
  if (is(t, "", "namespaces")) {
    label_namespace_with_its_name(obj, a);
    JsonValue& spec = json::ensure_object(obj, "spec", a);
    JsonValue fin(rapidjson::kArrayType);
    fin.PushBack("kubernetes", a);
    json::set_member(spec, "finalizers", std::move(fin), a);
  }
  if (is(t, "", "services")) {
    JsonValue& spec = json::ensure_object(obj, "spec", a);
    std::string_view type = json::string_or_empty(&spec, "type");
    if (type != "ExternalName") {
      std::string_view ip = json::string_or_empty(&spec, "clusterIP");
      if (ip.empty()) {
        std::string nip = allocate_cluster_ip();
        json::set_string(spec, "clusterIP", nip, a);
        ip = json::string_or_empty(&spec, "clusterIP");
      }
      JsonValue ips(rapidjson::kArrayType);
      ips.PushBack(json::make_string(ip, a), a);
      if (!json::find(spec, "clusterIPs")) json::set_member(spec, "clusterIPs", std::move(ips), a);
      if (!json::find(spec, "ipFamilies") && ip != "None") {
        JsonValue fam(rapidjson::kArrayType);
        fam.PushBack(ip.find(':') == std::string_view::npos ? "IPv4" : "IPv6", a);
        json::set_member(spec, "ipFamilies", std::move(fam), a);
      }
      if (!json::find(spec, "ipFamilyPolicy"))
        json::set_string(spec, "ipFamilyPolicy", "SingleStack", a);
    }
    if (type == "NodePort" || type == "LoadBalancer") {
      static std::mt19937 rng(std::random_device{}());
      if (JsonValue* ports = json::find(spec, "ports"); ports && ports->IsArray()) {
        for (auto& p : ports->GetArray()) {
          if (p.IsObject() && !json::find(p, "nodePort"))
            json::set_member(p, "nodePort", JsonValue(30000 + int(rng() % 2768)), a);
        }
      }
    }
  }
  apply_defaults(t, obj);
  if (is(t, "", "pods")) {
    JsonValue& spec = json::ensure_object(obj, "spec", a);
    pod_admission(spec, a);
    json::set_string(json::ensure_object(obj, "status", a), "qosClass", pod_qos(spec), a);
  }
}

void prepare_update(const ResourceType& t, const JsonValue& old, JsonDoc& obj) {
  auto& a = obj.GetAllocator();
  if (t.has_status) copy_member(old, obj, "status", a);
  if (is(t, "", "namespaces")) {
    label_namespace_with_its_name(obj, a);
    JsonValue& spec = json::ensure_object(obj, "spec", a);
    const JsonValue* ospec = json::find(old, "spec");
    if (ospec) copy_member(*ospec, spec, "finalizers", a);
  }
  if (is(t, "", "services")) {
    // clusterIP is allocated once; an update that leaves it out keeps it (the API server's
    // PrepareForUpdate + the "field is immutable" rule for a changed value).
    JsonValue& spec = json::ensure_object(obj, "spec", a);
    const JsonValue* ospec = json::find(old, "spec");
    if (ospec) {
      for (auto k : {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"}) {
        if (!json::find(spec, k) && json::find(*ospec, k)) copy_member(*ospec, spec, k, a);
      }
    }
  }
  apply_defaults(t, obj);
}

void prepare_status_update(const ResourceType& t, const JsonValue& old, JsonDoc& obj) {
  (void)t;
  JsonDoc out;
  out.CopyFrom(old, out.GetAllocator());
  auto& a = out.GetAllocator();
  copy_member(obj, out, "status", a);
  // managedFields may be sent to reset them; metadata.resourceVersion carries the precondition.
  const JsonValue* meta = json::find(obj, "metadata");
  JsonValue& ometa = json::ensure_object(out, "metadata", a);
  if (meta) {
    if (json::find(*meta, "managedFields")) copy_member(*meta, ometa, "managedFields", a);
    copy_member(*meta, ometa, "resourceVersion", a);
  } else {
    json::remove_member(ometa, "resourceVersion");
  }
  obj.Swap(out);
}

bool spec_changed(const JsonValue& old, const JsonValue& obj) {
  auto count = [](const JsonValue& v) {
    size_t n = 0;
    if (!v.IsObject()) return n;
    for (auto& m : v.GetObject()) {
      std::string_view k = json::as_string_view(m.name);
      if (k != "metadata" && k != "status" && k != "apiVersion" && k != "kind") n++;
    }
    return n;
  };
  if (count(old) != count(obj)) return true;
  if (!obj.IsObject()) return false;
  for (auto& m : obj.GetObject()) {
    std::string_view k = json::as_string_view(m.name);
    if (k == "metadata" || k == "status" || k == "apiVersion" || k == "kind") continue;
    const JsonValue* o = json::find(old, k);
    if (!o || !json::equal(*o, m.value)) return true;
  }
  return false;
}

}  // namespace kop::local::strategy
