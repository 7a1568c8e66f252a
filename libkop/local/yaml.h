// YAML -> JSON for manifests and apply-patch+yaml bodies, with the typing rules of
// sigs.k8s.io/yaml (go-yaml v2, YAML 1.1: yes/no/on/off are booleans, 0777 is octal...).
// Internal to kop::local.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "kop/local/json.h"

namespace kop::local::yaml {

struct Document {
  JsonDoc doc;    // null when the document was empty
  int index = 0;  // 0-based position in the stream
  int line = 0;   // 1-based first line
};

// Parses a multi-document stream. On a syntax error returns false with `error` naming the line
// (and leaves `out` as it was).
bool parse_all(std::string_view text, std::vector<Document>& out, std::string& error);
// The same, handing each document to `fn` as soon as it is converted, so that a large stream
// (a 15 MB manifest file) never holds more than a batch of about 256 KiB of documents in
// yaml-cpp's form and one document in JSON form. On a syntax error, the documents before the
// batch that holds it have been handed over already.
bool parse_each(std::string_view text, const std::function<void(Document&&)>& fn,
                std::string& error);
// One document (JSON is YAML).
bool parse_one(std::string_view text, JsonDoc& out, std::string& error);

}  // namespace kop::local::yaml
