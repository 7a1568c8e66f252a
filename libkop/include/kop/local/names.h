// kop::local's short names for kop/api's JSON types and helpers (no helpers of its own):
// `json::` is kop/api/json.h, JsonDoc/JsonValue/JsonAlloc its Document/Value/Allocator, and
// stored objects are kop::api::Object, shared immutably as ObjectPtr (kop::api::share).
#pragma once

#include "kop/api/json.h"
#include "kop/api/object.h"

namespace kop::local {

namespace json = kop::api::json;
using JsonDoc = json::Document;
using JsonValue = json::Value;
using JsonAlloc = json::Allocator;
using ObjectPtr = kop::api::ObjectPtr;

}  // namespace kop::local
