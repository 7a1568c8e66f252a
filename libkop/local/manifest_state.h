// The manifest loader's bookkeeping (ManifestLoader's files, documents and objects), shared by
// its three files, one job each: manifest_loader.cpp looks at the files (which changed, read or
// not) and runs the syncs; manifest_documents.cpp turns a changed file's text into its documents
// (only those whose text changed are parsed); manifest_objects.cpp keeps the objects the
// documents define (which definition wins, what is applied, what is deleted). Internal to
// kop::local; everything here is used with the loader's lock held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "file_stamp.h"
#include "kop/local/manifest_loader.h"

namespace kop::local {

// One object of a document. Stays at its address while its document's text is unchanged
// (documents are held by pointer), so the objects' definers can point at it.
struct ManifestLoader::Entry {
  Doc* doc = nullptr;
  int item = 0;                           // its place among a List's items
  int rank = 2;                           // 0 Namespace, 1 CRD, 2 the rest: the order of applying
  Objects::value_type* object = nullptr;  // unset while the store does not know its kind
  uint64_t body_hash = 0;                 // of `body` once `object` is set
  // The JSON to apply. Emptied once the store holds it (the document is read again if it is
  // needed later, e.g. when it takes over an object another file defined too).
  std::string body;
  std::vector<ManifestProblem> problems;  // of the last attempt to apply it
};

struct ManifestLoader::Doc {
  FileState* file = nullptr;
  uint64_t text_hash = 0;  // of its text; 0 when the file could not be cut (never reused)
  int document = 0;        // its index in the file
  std::vector<ManifestProblem> problems;  // "not an object"
  std::vector<Entry> entries;             // one, or a List's items
};

struct ManifestLoader::FileState {
  const std::string* path = nullptr;  // the key of files_
  FileStamp stamp;
  bool stamp_settled = false;  // see settled(): else the bytes are hashed again at the next look
  uint64_t content_hash = 0;
  bool broken = false;  // the last read did not parse: `docs` are those of the read before
  // The last look could not read it (`problems` says why): `docs` are those of the read before,
  // and the next look reads it again, even with the same stat() identity.
  bool unreadable = false;
  std::vector<ManifestProblem> problems;  // of the file itself (a YAML error)
  std::vector<std::unique_ptr<Doc>> docs;
  std::vector<uint64_t> doc_hashes;  // docs[i]->text_hash side by side: compared without a walk
  bool problems_changed = false;     // in Sync::problems_changed: `reported` is rebuilt
  std::vector<ManifestProblem> reported;  // all its problems, in document order
};

struct ManifestLoader::Sync {
  SyncReport rep;
  bool changed = false;  // a file was parsed or removed: objects are evaluated
  size_t parsed_bytes = 0;
  std::vector<FileState*> problems_changed;
  void touch(FileState* f) {
    if (f->problems_changed) return;
    f->problems_changed = true;
    problems_changed.push_back(f);
  }
};

}  // namespace kop::local
