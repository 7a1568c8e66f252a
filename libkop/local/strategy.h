// Per-kind create/update strategies (what k8s.io/kubernetes/pkg/registry/*/strategy.go and the
// apiextensions custom resource strategy do before validation): status reset on create, status
// and spec separation on update, defaults the API server fills in. Internal to kop::local.
#pragma once

#include "kop/local/names.h"
#include "kop/local/resource.h"

namespace kop::local::strategy {

// Built-in defaults and create-time resets for kinds with the status subresource: a built-in
// kind gets its empty status, a custom resource none (the API server drops it).
void prepare_create(const ResourceType& t, JsonDoc& obj);
// Main-resource update: keeps the old status when the kind has the subresource, and the fields
// the kind does not let an update change (Namespace spec.finalizers, Service clusterIP, ...).
void prepare_update(const ResourceType& t, const JsonValue& old, JsonDoc& obj);
// Status update: everything but status (and managedFields) comes from the old object.
void prepare_status_update(const ResourceType& t, const JsonValue& old, JsonDoc& obj);
// True when anything other than metadata and status differs (bumps metadata.generation).
bool spec_changed(const JsonValue& old, const JsonValue& obj);
// Defaults applied to every write of a kind (create and update), e.g. Service port protocol.
void apply_defaults(const ResourceType& t, JsonDoc& obj);

}  // namespace kop::local::strategy
