// The document diff of the manifest loader: a changed file is cut at its `---` lines, each
// document's text compared by hash with the last read, and only the documents whose text changed
// parsed into objects (manifest_state.h says how the loader's files share the work).
#include "manifest_documents.h"

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <filesystem>

#include "file_read.h"
#include "kop/api/yaml.h"
#include "kop/client/errors.h"
#include "manifest_split.h"
#include "manifest_state.h"

namespace kop::local {

namespace manifest {

Resolved resolve(JsonDoc& obj, const std::string& file, int document, const Store& store,
                 const std::string& default_namespace) {
  Resolved out;
  auto t = store.type_of(obj);
  if (!t.ok() || !*t) {
    std::string av(json::string_or_empty(&obj, "apiVersion")),
        kind(json::string_or_empty(&obj, "kind"));
    out.problems.push_back(
        {file, document, "",
         !t.ok() && client::is_bad_request(t.status())
             ? std::string(t.status().message())
             : "no matches for kind \"" + kind + "\" in version \"" + av + "\""});
    return out;
  }
  const ResourceType& type = **t;
  std::string name(json::path_string(obj, {"metadata", "name"}));
  if (name.empty()) {
    out.problems.push_back(
        {file, document, "metadata.name", "Required value: name is required in a manifest"});
    return out;
  }
  std::string ns;
  if (type.namespaced) {
    ns = std::string(json::path_string(obj, {"metadata", "namespace"}));
    if (ns.empty()) {
      ns = default_namespace;
      json::set_string(json::ensure_object(obj, "metadata", obj.GetAllocator()), "namespace", ns,
                       obj.GetAllocator());
    }
  }
  out.key = ManifestLoader::Key{type.group, type.resource, ns, name};
  return out;
}

}  // namespace manifest

namespace {

namespace fs = std::filesystem;
using manifest::Resolved;

int rank_of(std::string_view kind) {
  return kind == "Namespace" ? 0 : kind == "CustomResourceDefinition" ? 1 : 2;
}

// A parsed document before it joins the loader's state: its objects as JSON with their keys.
struct ParsedObject {
  int rank = 2;
  Resolved resolved;
};
struct ParsedDoc {
  int document = 0;
  uint64_t text_hash = 0;
  std::vector<ManifestProblem> problems;
  std::vector<ParsedObject> objects;
};

// Turns document `doc` (index `document`) into `out`'s objects (a List's items each).
void take_document(JsonDoc&& doc, int document, const std::string& file, const Store& store,
                   const std::string& default_namespace, ParsedDoc& out) {
  auto add = [&](JsonDoc obj) {
    ParsedObject o;
    o.rank = rank_of(json::string_or_empty(&obj, "kind"));
    o.resolved = manifest::resolve(obj, file, document, store, default_namespace);
    o.resolved.body = json::to_json(obj);  // resolved again once the kind is known
    out.objects.push_back(std::move(o));
  };
  if (!doc.IsObject()) {
    out.problems.push_back({file, document, "", "not an object"});
    return;
  }
  if (json::string_or_empty(&doc, "kind") == "List") {
    if (const JsonValue* items = json::find(doc, "items"); items && items->IsArray()) {
      for (auto& item : items->GetArray()) add(json::clone(item));
    }
    return;
  }
  add(std::move(doc));
}

// One piece of split_documents() parsed alone (read_piece()); false when the caller must parse
// the whole file, whose errors name the file's lines.
bool parse_piece(const DocumentText& piece, const std::string& file, const Store& store,
                 const std::string& default_namespace, ParsedDoc& out) {
  out.document = static_cast<int>(piece.index);
  return read_piece(piece, [&](JsonDoc&& doc) {
    take_document(std::move(doc), out.document, file, store, default_namespace, out);
  });
}

// The whole file at once: every document, or the file's YAML error.
absl::StatusOr<std::vector<ParsedDoc>> parse_whole(std::string_view text, const std::string& file,
                                                   const Store& store,
                                                   const std::string& default_namespace) {
  std::vector<ParsedDoc> out;
  // Each document becomes its objects (JSON strings) as soon as it is read: a 15 MB file never
  // exists as 30,000 parsed documents at once.
  auto read = api::for_each_yaml_document(text, "", [&](JsonDoc&& doc, size_t index) {
    ParsedDoc d;
    d.document = static_cast<int>(index);
    take_document(std::move(doc), d.document, file, store, default_namespace, d);
    out.push_back(std::move(d));
  });
  if (!read.ok()) return read;
  return out;
}

// A document's text hash, without its bare "---" line: the first document of a file often has
// none, and it is the same document when another comes before it. Never 0 (see Doc).
uint64_t text_hash(std::string_view text) {
  for (std::string_view marker : {"---\n", "---\r\n"}) {
    if (text.substr(0, marker.size()) == marker) {
      text.remove_prefix(marker.size());
      break;
    }
  }
  return content_hash(text) | 1;
}

// A kept document's new index (a document before it came or went).
void set_document(ManifestLoader::Doc& d, int document) {
  d.document = document;
  for (auto& p : d.problems) p.document = document;
  for (auto& e : d.entries) {
    for (auto& p : e.problems) p.document = document;
  }
}

}  // namespace

// Makes `state`'s documents those of `text`: documents whose text is unchanged are kept as
// they are (their objects not looked at again), the others parsed; a YAML error keeps the old
// documents and marks the file broken.
void ManifestLoader::update_documents(FileState& state, std::string_view text, Sync& s) {
  const std::string& file = *state.path;
  s.touch(&state);
  struct Place {
    int fresh = -1;  // index in `fresh`, or -1 for a kept document
    int old = -1;    // index in state.docs of a kept document
    int document = 0;
  };
  std::vector<ParsedDoc> fresh;  // parsed at this read
  std::vector<Place> order;      // the file's documents in order
  bool whole = true;
  if (auto pieces = split_documents(text)) {
    whole = false;
    // Old documents are found at their old place, one further (a document was removed before)
    // or one nearer (one was added), so an edit, an insert or a removal costs no index; the
    // index by text hash is made when many are elsewhere (documents reordered). Reuse only
    // saves parsing: a document parsed again applies nothing when its object is unchanged.
    absl::flat_hash_map<uint64_t, std::vector<int>> old_by_hash;
    bool indexed = false;
    int misplaced = 0;
    long shift = 0;  // where the old documents are against the new ones
    std::vector<bool> taken(state.docs.size(), false);
    auto at = [&](long j, uint64_t h) {
      return j >= 0 && j < static_cast<long>(state.docs.size()) && !taken[static_cast<size_t>(j)] &&
             state.doc_hashes[static_cast<size_t>(j)] == h;
    };
    for (size_t i = 0; i < pieces->size(); ++i) {
      const DocumentText& p = (*pieces)[i];
      uint64_t h = text_hash(p.text);
      int old = -1;
      long j = static_cast<long>(i) + shift;
      if (at(j, h)) {
        old = static_cast<int>(j);
      } else if (at(j + 1, h)) {
        old = static_cast<int>(j + 1);
        ++shift;
      } else if (at(j - 1, h)) {
        old = static_cast<int>(j - 1);
        --shift;
      } else if (++misplaced > 16) {
        if (!indexed) {
          for (size_t k = 0; k < state.docs.size(); ++k) {
            if (state.doc_hashes[k] != 0)
              old_by_hash[state.doc_hashes[k]].push_back(static_cast<int>(k));
          }
          indexed = true;
        }
        if (auto f = old_by_hash.find(h); f != old_by_hash.end()) {
          auto& v = f->second;
          auto k = std::find_if(v.begin(), v.end(), [&](int x) { return !taken[x]; });
          if (k != v.end()) old = *k;
        }
      }
      Place place{-1, old, static_cast<int>(p.index)};
      if (old >= 0) {
        taken[old] = true;
        order.push_back(place);
        continue;
      }
      ParsedDoc d;
      d.text_hash = h;
      if (!parse_piece(p, file, *store_, opts_.default_namespace, d)) {
        whole = true;
        break;
      }
      s.parsed_bytes += p.text.size();
      s.rep.documents_parsed++;
      place.fresh = static_cast<int>(fresh.size());
      order.push_back(place);
      fresh.push_back(std::move(d));
    }
  }
  if (whole) {
    s.parsed_bytes += text.size();
    auto all = parse_whole(text, file, *store_, opts_.default_namespace);
    if (!all.ok()) {
      state.broken = true;
      state.problems = {{file, -1, "", std::string(all.status().message())}};
      return;  // its objects stay as they were
    }
    fresh = std::move(*all);
    s.rep.documents_parsed += static_cast<int>(fresh.size());
    order.clear();
    for (size_t i = 0; i < fresh.size(); ++i)
      order.push_back({static_cast<int>(i), -1, fresh[i].document});
  }
  state.broken = false;
  state.problems.clear();
  std::vector<std::unique_ptr<Doc>> docs;
  docs.reserve(order.size());
  std::vector<uint64_t> hashes;
  hashes.reserve(order.size());
  std::vector<bool> kept(state.docs.size(), false);
  for (const Place& p : order) {
    if (p.old >= 0) {
      kept[static_cast<size_t>(p.old)] = true;
      hashes.push_back(state.doc_hashes[static_cast<size_t>(p.old)]);
      docs.push_back(std::move(state.docs[static_cast<size_t>(p.old)]));
      if (docs.back()->document != p.document) set_document(*docs.back(), p.document);
      continue;
    }
    ParsedDoc& f = fresh[static_cast<size_t>(p.fresh)];
    auto d = std::make_unique<Doc>();
    d->file = &state;
    d->text_hash = whole ? 0 : f.text_hash;
    d->document = p.document;
    d->problems = std::move(f.problems);
    d->entries.resize(f.objects.size());
    hashes.push_back(d->text_hash);
    docs.push_back(std::move(d));
  }
  // Gone documents leave first, so an object moved between documents keeps its definers right.
  for (size_t j = 0; j < state.docs.size(); ++j) {
    if (kept[j]) continue;
    for (Entry& e : state.docs[j]->entries) unlink(e);
  }
  state.docs = std::move(docs);
  state.doc_hashes = std::move(hashes);
  for (size_t i = 0; i < order.size(); ++i) {
    Doc& d = *state.docs[i];
    if (order[i].old >= 0) {
      for (Entry& e : d.entries) {
        // Its place among its object's definers may have changed (documents moved).
        if (e.object && e.object->second.definers.size() > 1) queue(*e.object);
      }
      continue;
    }
    ParsedDoc& f = fresh[static_cast<size_t>(order[i].fresh)];
    for (size_t k = 0; k < f.objects.size(); ++k) {
      Entry& e = d.entries[k];
      ParsedObject& o = f.objects[k];
      e.doc = &d;
      e.item = static_cast<int>(k);
      e.rank = o.rank;
      e.body = std::move(o.resolved.body);
      e.problems = std::move(o.resolved.problems);
      if (!o.resolved.key) {
        pending_.insert(&e);
        continue;
      }
      e.body_hash = content_hash(e.body);
      e.object = &*objects_.try_emplace(std::move(*o.resolved.key)).first;
      link(e);
    }
  }
}

bool ManifestLoader::ensure_body(Entry& e) {
  FileState& state = *e.doc->file;
  FileRead read = read_file(fs::path(opts_.dir) / *state.path);
  const std::optional<std::string>& text = read.text;
  // Changed since it was parsed (or unreadable now): the next sync looks at it again.
  if (!text || content_hash(*text) != state.content_hash) return false;
  std::vector<ParsedDoc> again;
  auto pieces = e.doc->text_hash != 0 ? split_documents(*text) : std::nullopt;
  bool found = false;
  if (pieces) {
    // By its text (a broken file's other documents may have moved it).
    for (const DocumentText& p : *pieces) {
      if (text_hash(p.text) != e.doc->text_hash) continue;
      ParsedDoc d;
      found = parse_piece(p, *state.path, *store_, opts_.default_namespace, d);
      d.document = e.doc->document;
      if (found) again.push_back(std::move(d));
      break;
    }
  }
  if (!found) {
    auto all = parse_whole(*text, *state.path, *store_, opts_.default_namespace);
    if (!all.ok()) return false;
    again = std::move(*all);
  }
  for (ParsedDoc& d : again) {
    if (d.document != e.doc->document || d.objects.size() != e.doc->entries.size()) continue;
    for (size_t k = 0; k < d.objects.size(); ++k) {
      Entry& mine = e.doc->entries[k];
      if (mine.object && mine.body.empty() &&
          content_hash(d.objects[k].resolved.body) == mine.body_hash)
        mine.body = std::move(d.objects[k].resolved.body);
    }
  }
  return !e.body.empty();
}

}  // namespace kop::local
