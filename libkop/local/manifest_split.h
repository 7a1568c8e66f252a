// The manifest loader's document cut: split_documents() cuts a YAML stream into the texts of its
// documents at the "---" lines, without parsing, and read_piece() reads one of them alone as the
// whole stream would, so that the loader parses only the documents whose text changed (a 14 MB
// file of 30,000 objects with one of them edited parses one document, not 30,000). Internal to
// kop::local. Pure functions, any thread; fuzzed by tests/fuzz/manifest_split.cpp.
//
// YAML forbids "---" at the start of a line inside a document's content, so each cut is a
// document boundary; what a cut cannot see (a directive, a "..." end marker, another encoding
// than UTF-8, a comment before the first "---" with other than printable ASCII, which no piece
// would read) makes the whole split give up, and the caller parses the whole stream instead.
// A piece that does not parse alone as exactly one document sends the caller to the whole
// stream too (its errors then name the stream's lines).
#pragma once

#include <absl/functional/function_ref.h>
#include <rapidjson/document.h>

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace kop::local {

struct DocumentText {
  std::string_view text;  // from its "---" line (when it has one) up to the next one
  size_t index = 0;       // among all documents, empty ones counted (as the YAML reader counts)
  bool blank = false;     // only its "---" line, blank lines and comments: no document
  bool last = false;      // the stream's last piece (read_piece())
};

// Every document of `text` in order; the text before the first "---" line is a document only
// when it holds more than blank lines and comments. nullopt when the text cannot be cut safely.
std::optional<std::vector<DocumentText>> split_documents(std::string_view text);

// Reads `piece` alone as the stream reads it and hands its document to `fn`; false when it does
// not read, or not as exactly one document in its place (none for a blank piece): the caller
// then reads the whole stream. A piece but the last is read followed by a "--- 0" document,
// which must come second: the YAML reader forgives some things at the end of a stream (an
// unclosed quote, a tag or an anchor with no value) that it refuses or reads as one more
// document before a "---".
bool read_piece(const DocumentText& piece, absl::FunctionRef<void(rapidjson::Document&&)> fn);

}  // namespace kop::local
