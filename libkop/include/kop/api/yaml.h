// kop/api/yaml.h: YAML manifests <-> JSON documents and Objects.
//
// Reads what `kubectl apply -f` reads: multi-document YAML ("---" separated), comments, anchors
// and aliases, merge keys ("<<"), block and flow styles; empty documents are skipped and a
// `kind: List` document is expanded into its items. Parsing goes straight from yaml-cpp's
// event stream into RapidJSON (no intermediate node tree).
//
// This is kop's one YAML reader (manifests, kop-local's YAML bodies, kop-ingress --manifests,
// the tests). Its rule: a document means the JSON kubectl would send for it. kubectl reads YAML
// with sigs.k8s.io/yaml, i.e. go-yaml v2 (YAML 1.1 scalars), then encodes JSON with Go's
// encoding/json. Checked against kubectl v1.32 and a real API server (docs/api.md has the table):
//   - quoted scalars are strings ("80", 'yes'); so are unknown tags (`!thing 5` is "5");
//   - booleans are exactly y Y yes Yes YES on On ON true True TRUE and n N no No NO off Off OFF
//     false False FALSE: `enabled: yes` is true (an annotation needs `"yes"`); `oN` is a string;
//   - null is ~, null, Null, NULL or an empty value;
//   - integers use Go's syntax after dropping underscores: 0x1F is 31, 0o17 and 017 are 15,
//     0b1010 is 10, 1_000 is 1000, +12 is 12; 08 (not octal) reads as the float 8;
//   - floats ([-+]?(.d+|d+(.d*)?)([eE][-+]?d+)?) with no fraction become integers, as Go prints
//     them: 1e3 is 1000, 1.10 is 1.1, -1.0 is -1; integers past int64 become floats;
//     1e400 (out of range) is the string "1e400"; .inf, -.Inf and .nan are errors (no JSON form);
//   - timestamps (2002-12-14, 2001-12-14t21:59:43.10-05:00) stay their text; 12:30 is a string;
//   - explicit tags: !!str 80 is "80", !!int "5" is 5, !!float 1 is 1, !!bool yes is true,
//     !!binary is base64-decoded (bytes that are not UTF-8 become U+FFFD); a tag that does not
//     fit the text (!!int 1.5, !!null foo) is an error, as in kubectl;
//   - mapping keys are resolved the same way, then printed: `yes:` is "true", `0x10:` is "16",
//     `1e6:` is "1e+06", `1.5:` is "1.5"; a null key is an error. Beware flow maps:
//     `{x: 1, y: 2}` has the keys "x" and "true";
//   - merge keys ("<<") set the source's keys where they stand, over what is already there
//     (`{z: 3, <<: {z: 2}}` has z 2); in a list of sources the first wins;
//   - one deliberate difference: a key given twice in a mapping is an error naming its line
//     (kubectl silently keeps the last value, which hides mistakes);
//   - the text is UTF-8 (a byte order mark is skipped) or UTF-16 opening with its byte order
//     mark; bytes that are not UTF-8 and characters outside YAML's printable set (tab, LF, CR,
//     0x20-0x7E, U+0085, U+00A0-U+D7FF, U+E000-U+FFFD, U+10000 and up: so no NUL, C0/C1
//     control, DEL, U+FFFE or U+FFFF) are errors wherever they stand, quoted or in a comment, as
//     kubectl refuses them ("control characters are not allowed"). Escapes name any character:
//     "\uFFFF" and "\x01" in double quotes are fine.
//
// Errors (InvalidArgument) read "<source>:<line>:<column>: document index <i>: <what>", with
// 1-based line/column and a 0-based document index counting every document in the file,
// empty ones included, so `sed -n <line>p` finds the spot. With an empty `source` they read
// "line <line> column <column>: document index <i>: <what>". An encoding or character error
// counts its column in characters and ends with "(byte offset <n>)" into the text as given.
//
// No exceptions escape: yaml-cpp's are caught and turned into statuses. Every function is pure
// (no shared state): any thread may call any of them at any time.
#pragma once

#include <absl/status/statusor.h>
#include <rapidjson/document.h>

#include <absl/functional/function_ref.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kop/api/object.h"

namespace kop::api {

// Every non-empty document of `text` as JSON (any root type). `source` names the input in
// errors (a file name, or "<stdin>").
absl::StatusOr<std::vector<rapidjson::Document>> yaml_to_json(std::string_view text,
                                                              std::string_view source = "<input>");

// The first non-empty document (null when there is none), as the API server reads a YAML
// request body; the rest of the stream is still checked for syntax.
absl::StatusOr<rapidjson::Document> yaml_first_document(std::string_view text,
                                                        std::string_view source = "<input>");

// Hands each non-empty document of `text` to `fn` as soon as it is read, with its 0-based index
// among all documents (empty ones count). Only one document is held at a time, so a large
// stream costs the text plus one document. On a syntax error, the documents before it have
// been handed over already; the encoding and the characters are checked for the whole text
// before the first document is handed over.
absl::Status for_each_yaml_document(
    std::string_view text, std::string_view source,
    absl::FunctionRef<void(rapidjson::Document&& doc, size_t index)> fn);

// Every non-empty document as an Object: each root must be a mapping with apiVersion and kind;
// `kind: List` (any apiVersion, with an `items` array) contributes its items instead.
absl::StatusOr<std::vector<Object>> parse_yaml_objects(std::string_view text,
                                                       std::string_view source = "<input>");

// Exactly one object (one non-empty document that is not a List).
absl::StatusOr<Object> parse_yaml_object(std::string_view text,
                                         std::string_view source = "<input>");

// Reads a manifest file: .json files as JSON (one object or a List), anything else as YAML.
// NotFound when the file cannot be opened.
absl::StatusOr<std::vector<Object>> load_manifest_file(const std::string& path);

// YAML text for a JSON value, block style, member order kept, strings quoted whenever a plain
// scalar would read back as another type; multi-line strings ending in one newline use literal
// blocks (certificates stay readable). Strings holding a character the reader above refuses raw
// (controls, U+FFFE/U+FFFF and the other noncharacters, U+0085/U+2028/U+2029, U+FEFF) are
// double-quoted with escapes ("\uFFFF"); keys that may be longer than YAML's 1024-character
// limit on "key: value" are written "? key" / ": value". Strings that are not UTF-8 are
// written with U+FFFD in place of each bad byte, as Go does. parse(to_yaml(v)) == v for
// every v whose strings are UTF-8.
std::string to_yaml(const rapidjson::Value& value);
std::string to_yaml(const Object& obj);
// Objects separated by "---" lines, as kubectl get -o yaml prints a list of files.
std::string to_yaml(std::span<const Object> objects);

}  // namespace kop::api
