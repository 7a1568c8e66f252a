// Fuzz target: split_documents(), the manifest loader's cut of a YAML stream at its "---" lines
// (libkop/local/manifest_split.h). The loader trusts the cut when every piece reads alone in its
// place (read_piece()); then the pieces, in order, must be the whole stream's documents with the
// same indices, and nothing but a preamble of blank lines and comments may be left out.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "check.h"
#include "kop/api/json.h"
#include "kop/api/yaml.h"
#include "manifest_split.h"

namespace {

using Documents = std::vector<std::pair<size_t, std::string>>;

std::string describe(const Documents& docs) {
  std::string out;
  for (const auto& [index, json] : docs) out += std::to_string(index) + ": " + json + "\n";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(bytes), size);
  auto pieces = kop::local::split_documents(text);
  if (!pieces) return 0;  // the loader parses the whole stream
  Documents cut;
  size_t end = text.size();
  for (auto it = pieces->rbegin(); it != pieces->rend(); ++it) {
    // Each piece ends where the next begins, and the last at the end of the text.
    if (it->text.data() + it->text.size() != text.data() + end)
      kop::fuzz::fail("pieces are contiguous", std::string(it->text), std::to_string(end));
    end = static_cast<size_t>(it->text.data() - text.data());
  }
  for (const auto& piece : *pieces) {
    bool read = kop::local::read_piece(piece, [&](rapidjson::Document&& doc) {
      cut.emplace_back(piece.index, kop::api::json::to_json(doc));
    });
    if (!read) return 0;  // the loader parses the whole stream
  }
  Documents whole;
  auto read =
      kop::api::for_each_yaml_document(text, "", [&](rapidjson::Document&& doc, size_t index) {
        whole.emplace_back(index, kop::api::json::to_json(doc));
      });
  if (!read.ok())
    kop::fuzz::fail("the whole stream reads when every piece does", describe(cut), read.ToString());
  if (cut != whole)
    kop::fuzz::fail("the pieces are the stream's documents", describe(cut), describe(whole));
  return 0;
}
