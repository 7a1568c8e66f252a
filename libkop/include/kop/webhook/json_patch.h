// kop/webhook/json_patch.h: the RFC 6902 JSON patch that turns one JSON value into another —
// what a mutating webhook answers with after its handler changed a copy of the object.
//
// Objects are compared member by member (add / remove / replace at the member's path, RFC 6901
// escaped: "~0" for '~', "~1" for '/'); arrays of the same length element by element; an array
// whose length changed is replaced whole (always correct, and what a defaulting handler rarely
// does); any other difference is a replace. Applying the patch to `from` gives `to`
// (tests/unit/webhook/json_patch_test.cpp checks it with kop::local's patch code).
//
// Threads: a pure function.
#pragma once

#include <rapidjson/document.h>

#include <string>

namespace kop::webhook {

// The patch as JSON text ("[]" when equal).
std::string json_patch(const rapidjson::Value& from, const rapidjson::Value& to);

}  // namespace kop::webhook
