// kop-ingress' CustomResourceDefinitions, built into the binary, and their installation into
// the in-process API store of --manifests (so a manifests directory holds only the user's own
// objects). The files are crds/*.yaml as listed in operators/ingress/cmd/meson.build, embedded
// by embed_files.py at build time.
//
// Threading: builtin_crd_files() is constant data; install_builtin_crds() calls the client from
// the calling thread.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>
#include "kop/client/client.h"

namespace kop::ingress {

struct EmbeddedFile {
  std::string_view name;  // the file's base name, e.g. "ingressroutes.ingress.kop.dev.yaml"
  std::string_view text;  // its content
};

// The embedded CRD files (generated source).
std::span<const EmbeddedFile> builtin_crd_files();

// Applies every object of `files` through `client` (server-side apply, field manager
// "kop-ingress", forced: the shipped definition wins). Returns the names applied; an error
// names the file and the object.
absl::StatusOr<std::vector<std::string>> install_builtin_crds(
    client::Client& client, std::span<const EmbeddedFile> files = builtin_crd_files());

}  // namespace kop::ingress
