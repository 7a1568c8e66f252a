// The Kubernetes protobuf encoding of request and response bodies
// (application/vnd.kubernetes.protobuf), for the built-in kinds in proto_schema.h.
//
// A body is the magic "k8s\0" followed by a runtime.Unknown message: {1: typeMeta {1: apiVersion,
// 2: kind}, 2: raw (the kind's message), 3: contentEncoding, 4: contentType}. decode() turns it
// into the JSON object the API server would marshal from the same Go object (Go's omitempty,
// pointer and inline rules), so everything after the body parser is the JSON path's; encode()
// writes a JSON object of a known kind back as that envelope. Input is untrusted: every length
// and nesting depth is checked, and a field the table does not know is an error naming its
// number. Pure functions, any thread.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <string_view>

#include "kop/local/names.h"

namespace kop::local::proto {

inline constexpr std::string_view kMediaType = "application/vnd.kubernetes.protobuf";

// Whether a Content-Type names the protobuf encoding (parameters ignored).
bool is_protobuf(std::string_view content_type);

// Content negotiation on an Accept header: true when the client takes protobuf and not JSON
// (kubectl sends "application/vnd.kubernetes.protobuf,application/json" and gets JSON).
bool wants_protobuf(std::string_view accept);

// The envelope's body as a JSON object with "kind" and "apiVersion" first. InvalidArgument (the
// REST layer's 400) naming the message and field number when the bytes are not a valid encoding
// of a known kind.
absl::StatusOr<JsonDoc> decode(std::string_view body);

// A JSON object with apiVersion and kind of a known kind as the envelope. InvalidArgument when
// the kind has no table or a value does not fit its field (the caller answers JSON instead).
absl::StatusOr<std::string> encode(const JsonValue& object);

// Whether a kind (apiVersion "v1", "apps/v1", ...) has a table, i.e. travels as protobuf.
bool has_kind(std::string_view api_version, std::string_view kind);

// One frame of a protobuf watch stream: a 4-byte big-endian length, then metav1.WatchEvent
// {1: type, 2: object {1: raw}} with the object as its envelope. An object that cannot be
// encoded becomes an ERROR event carrying a 500 Status that says why.
std::string encode_watch_event(std::string_view type, const JsonValue& object);

}  // namespace kop::local::proto
