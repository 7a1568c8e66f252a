// A manifest document's object, once its kind is known: its key in the loader's object map and
// its final JSON (the default namespace filled in), or why not. The rest of the document diff
// (ManifestLoader::update_documents, ensure_body: manifest_documents.cpp) is reached through
// the loader's members. Internal to kop::local; pure functions of their arguments.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kop/api/json.h"
#include "kop/local/manifest_loader.h"
#include "kop/local/store.h"

namespace kop::local::manifest {

// What resolve() finds out about a document: the key and final body, or why not.
struct Resolved {
  std::optional<ManifestLoader::Key> key;
  std::string body;
  std::vector<ManifestProblem> problems;
};

// Document `document` of `file` as `store` knows its kind; `obj` gets the default namespace.
Resolved resolve(JsonDoc& obj, const std::string& file, int document, const Store& store,
                 const std::string& default_namespace);

}  // namespace kop::local::manifest
