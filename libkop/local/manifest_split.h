// Cuts a YAML stream into the texts of its documents at the "---" lines, without parsing, so
// that the manifest loader parses only the documents whose text changed (a 14 MB file of
// 30,000 objects with one of them edited parses one document, not 30,000). Internal to
// kop::local. Pure functions, any thread.
//
// YAML forbids "---" at the start of a line inside a document's content, so each cut is a
// document boundary; what a cut cannot see (a directive, a "..." end marker, another encoding
// than UTF-8) makes the whole split give up, and the caller parses the whole stream instead.
// A piece that does not parse alone as exactly one document sends the caller to the whole
// stream too (its errors then name the stream's lines).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace kop::local {

struct DocumentText {
  std::string_view text;  // from its "---" line (when it has one) up to the next one
  size_t index = 0;       // among all documents, empty ones counted (as the YAML reader counts)
};

// Every document of `text` in order; the text before the first "---" line is a document only
// when it holds more than blank lines and comments. nullopt when the text cannot be cut safely.
std::optional<std::vector<DocumentText>> split_documents(std::string_view text);

}  // namespace kop::local
