#include "kop/local/manifest_loader.h"

#include <absl/container/flat_hash_map.h>
#include <absl/time/time.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "directory_watch.h"
#include "file_stamp.h"
#include "kop/api/yaml.h"
#include "kop/client/errors.h"
#include "manifest_split.h"

namespace kop::local {

namespace fs = std::filesystem;

std::string ManifestProblem::to_string() const {
  std::string s = file;
  if (document >= 0) s += ": document " + std::to_string(document);
  if (!object.empty()) s += " (" + object + ")";
  if (!field.empty()) s += ": " + field;
  s += ": " + message;
  return s;
}

ManifestLoader::Key::Key(std::string_view group, std::string_view resource, std::string_view ns,
                         std::string_view name) {
  id_.reserve(group.size() + resource.size() + ns.size() + name.size() + 3);
  id_.append(group).append("/").append(resource).append("/").append(ns).append("/").append(name);
}

std::string_view ManifestLoader::Key::part(int index) const {
  std::string_view rest = id_;
  for (int i = 0; i < index; ++i) rest.remove_prefix(std::min(rest.size(), rest.find('/') + 1));
  return rest.substr(0, index == 3 ? rest.size() : rest.find('/'));
}

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

namespace {

using Entry = ManifestLoader::Entry;

int rank_of(std::string_view kind) {
  return kind == "Namespace" ? 0 : kind == "CustomResourceDefinition" ? 1 : 2;
}

bool before(const Entry* a, const Entry* b) {
  if (a->doc->file != b->doc->file) return *a->doc->file->path < *b->doc->file->path;
  if (a->doc->document != b->doc->document) return a->doc->document < b->doc->document;
  return a->item < b->item;
}

// What resolve() finds out about a document: the key and final body, or why not.
struct Resolved {
  std::optional<ManifestLoader::Key> key;
  std::string body;
  std::vector<ManifestProblem> problems;
};

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
    o.resolved = resolve(obj, file, document, store, default_namespace);
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

// One piece of split_documents() parsed alone; false when it is not exactly one document that
// parses (the caller then parses the whole file, whose errors name the file's lines).
bool parse_piece(const DocumentText& piece, const std::string& file, const Store& store,
                 const std::string& default_namespace, ParsedDoc& out) {
  out.document = static_cast<int>(piece.index);
  bool one = true;
  auto read = api::for_each_yaml_document(piece.text, "", [&](JsonDoc&& doc, size_t index) {
    if (index != 0) {
      one = false;
      return;
    }
    take_document(std::move(doc), out.document, file, store, default_namespace, out);
  });
  return read.ok() && one;
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

// A manifest file's bytes, or why they could not be read.
struct FileRead {
  std::optional<std::string> text;
  int error = 0;    // unset `text`: the errno (ENOENT, ENOTDIR: no file there any more), or 0
  std::string why;  // unset `text`: what to report
  bool gone() const { return error == ENOENT || error == ENOTDIR; }
};

FileRead read_error(int error) {
  return {std::nullopt, error, std::error_code(error, std::generic_category()).message()};
}

// Read straight into the string (a 15 MB file is copied once, not through a stream's buffers).
// Opened without blocking and read only when regular: a FIFO named like a manifest has no
// writer to wait for.
FileRead read_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return read_error(errno);
  struct stat st {};
  FileRead refused;
  if (::fstat(fd, &st) != 0)
    refused = read_error(errno);
  else if (S_ISDIR(st.st_mode))
    refused = read_error(EISDIR);
  else if (!S_ISREG(st.st_mode))
    refused.why = "not a regular file";
  if (!refused.why.empty()) {
    ::close(fd);
    return refused;
  }
  size_t size = st.st_size > 0 ? static_cast<size_t>(st.st_size) : 0;
  std::string out(size + 1, '\0');  // one more: a file that grew is read to its end
  size_t got = 0;
  for (;;) {
    if (got == out.size()) out.resize(out.size() * 2 + 4096);
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      FileRead r = read_error(errno);
      ::close(fd);
      return r;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return {std::move(out)};
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

bool is_manifest(const fs::path& p) {
  auto ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
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

ManifestLoader::ManifestLoader(std::shared_ptr<Store> store, ManifestLoaderOptions options)
    : store_(std::move(store)), opts_(std::move(options)) {}

ManifestLoader::~ManifestLoader() {
  stop();
}

void ManifestLoader::queue(Objects::value_type& o) {
  if (o.second.queued) return;
  o.second.queued = true;
  queue_.push_back(&o);
}

void ManifestLoader::link(Entry& e) {
  queue(*e.object);
  e.object->second.definers.push_back(&e);
}

void ManifestLoader::unlink(Entry& e) {
  pending_.erase(&e);
  if (!e.object) return;
  auto& d = e.object->second.definers;
  d.erase(std::remove(d.begin(), d.end(), &e), d.end());
  queue(*e.object);
  e.object = nullptr;
}

void ManifestLoader::remove_file(std::map<std::string, std::unique_ptr<FileState>>::iterator it,
                                 Sync& s) {
  for (auto& d : it->second->docs) {
    for (Entry& e : d->entries) unlink(e);
  }
  problem_files_.erase(it->first);
  s.problems_changed.erase(
      std::remove(s.problems_changed.begin(), s.problems_changed.end(), it->second.get()),
      s.problems_changed.end());
  files_.erase(it);
}

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

void ManifestLoader::look_at(const std::string& file, bool named, Sync& s) {
  fs::path path = fs::path(opts_.dir) / file;
  if (named && !is_manifest(path)) return;
  auto it = files_.find(file);
  int stat_error = 0;
  auto stamp = stamp_of(path.string(), &stat_error);
  if (stamp && it != files_.end() && !named && it->second->stamp == *stamp &&
      it->second->stamp_settled)
    return;
  FileRead read = stamp ? read_file(path) : read_error(stat_error);
  if (read.gone()) {  // its objects go
    if (it != files_.end()) {
      remove_file(it, s);
      s.changed = true;
    }
    return;
  }
  if (!read.text) {
    // A directory that was never a file here is walked for its files, not reported.
    if (it == files_.end() && read.error == EISDIR) return;
    unreadable(it != files_.end() ? *it->second : add_file(file), read.why, s);
    return;
  }
  const std::string& text = *read.text;
  s.rep.files_read++;
  uint64_t hash = content_hash(text);
  bool now_settled = settled(*stamp, realtime_now_ns());
  if (it != files_.end() && !it->second->unreadable && it->second->content_hash == hash) {
    it->second->stamp = *stamp;
    it->second->stamp_settled = now_settled;
    return;
  }
  s.rep.files_parsed++;
  s.changed = true;
  FileState& state = it != files_.end() ? *it->second : add_file(file);
  state.stamp = *stamp;
  state.stamp_settled = now_settled;
  state.content_hash = hash;
  state.unreadable = false;
  update_documents(state, text, s);
}

ManifestLoader::FileState& ManifestLoader::add_file(const std::string& file) {
  auto it = files_.emplace(file, std::make_unique<FileState>()).first;
  it->second->path = &it->first;
  return *it->second;
}

// A file that is there but cannot be read (EACCES, EIO, a directory or a FIFO in its place) is
// reported, not taken for removed: its objects stay as they were until it is read or removed.
void ManifestLoader::unreadable(FileState& state, const std::string& why, Sync& s) {
  state.unreadable = true;
  state.stamp_settled = false;  // read again at every look: an EIO may pass
  state.problems = {{*state.path, -1, "", "cannot read the file: " + why}};
  s.touch(&state);
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

void ManifestLoader::evaluate(Objects::value_type& o, Sync& s) {
  auto& defs = o.second.definers;
  Entry* owner = defs.front();  // sorted by the caller
  const std::string& owner_file = *owner->doc->file->path;
  for (size_t i = 1; i < defs.size(); ++i) {
    Entry* d = defs[i];
    d->problems = {{*d->doc->file->path, d->doc->document, "",
                    "duplicate of an object defined in " + owner_file}};
    pending_.erase(d);
    s.touch(d->doc->file);
  }
  s.touch(owner->doc->file);
  auto& applied = o.second.applied;
  if (applied && applied->file == owner_file && applied->body_hash == owner->body_hash) {
    owner->problems.clear();
    pending_.erase(owner);
    std::string().swap(owner->body);  // what the store holds needs no copy here
    return;
  }
  if (owner->body.empty() && !ensure_body(*owner)) return;
  const Key& key = o.first;
  auto t = store_->registry().any_version(key.group(), key.resource());
  if (!t) return;
  auto was = store_->get(*t, key.ns(), key.name());
  PatchOptions po;
  po.field_manager = opts_.field_manager;
  po.force = true;
  auto r = store_->patch(*t, key.ns(), key.name(), PatchType::kApply, owner->body, po);
  owner->problems.clear();
  if (!r.ok()) {
    std::string object = t->kind + " ";
    if (!key.ns().empty()) object.append(key.ns()).append("/");
    object.append(key.name());
    int document = owner->doc->document;
    auto causes = client::causes_of(r.status());
    if (causes.empty())
      owner->problems.push_back(
          {owner_file, document, "", std::string(r.status().message()), object});
    for (auto& c : causes)
      owner->problems.push_back({owner_file, document, c.field, c.message, object});
    pending_.insert(owner);  // tried again at the next sync
    return;
  }
  pending_.erase(owner);
  if (!applied) held_++;
  applied = Applied{owner_file, owner->body_hash};
  bool same = was.ok() && json::path_string((*was)->doc(), {"metadata", "resourceVersion"}) ==
                              json::path_string((*r)->doc(), {"metadata", "resourceVersion"});
  if (!same) s.rep.applied++;
  std::string().swap(owner->body);
}

// Objects no file defines any more (a broken file still defines what it held) leave the store.
void ManifestLoader::remove_undefined(Sync& s) {
  for (Objects::value_type* o : queue_) {
    o->second.queued = false;
    if (!o->second.definers.empty()) {
      undeleted_.erase(o);
      continue;
    }
    if (o->second.applied) {
      const Key& key = o->first;
      auto t = store_->registry().any_version(key.group(), key.resource());
      // Without its kind (its CRD deleted) its objects are gone with it.
      if (t) {
        auto r = store_->remove(*t, key.ns(), key.name());
        if (r.ok()) s.rep.deleted++;
        if (!r.ok() && !client::is_not_found(r.status())) {
          undeleted_.insert(o);  // tried again at the next sync
          continue;
        }
      }
      held_--;
    }
    undeleted_.erase(o);
    objects_.erase(objects_.find(o->first));
  }
  queue_.clear();
}

SyncReport ManifestLoader::sync() {
  absl::MutexLock l(&mu_);
  return sync_locked(nullptr);
}

SyncReport ManifestLoader::sync(const std::vector<std::string>& changed_files) {
  absl::MutexLock l(&mu_);
  return sync_locked(&changed_files);
}

SyncReport ManifestLoader::sync_locked(const std::vector<std::string>* only) {
  Sync s;
  std::error_code ec;
  if (!fs::is_directory(opts_.dir, ec)) {
    s.rep.problems.push_back({opts_.dir, -1, "", "not a directory"});
    problems_ = s.rep.problems;
    return std::move(s.rep);
  }
  if (only) {
    for (const std::string& f : *only) look_at(f, true, s);
  } else {
    std::vector<std::string> files;
    dirs_ = {opts_.dir};
    for (auto it = fs::recursive_directory_iterator(opts_.dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code type_ec;  // a type that cannot be read lists the entry: look_at() says why
      const bool directory = it->is_directory(type_ec);
      if (directory) dirs_.push_back(it->path().string());
      // Not only regular files: a FIFO named like a manifest is reported, not skipped.
      if (!directory && is_manifest(it->path()))
        files.push_back(fs::relative(it->path(), opts_.dir).string());
    }
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) look_at(f, false, s);
    // A file no longer listed is gone, or something the walk does not list is in its place (a
    // directory), or the walk stopped early (a directory it cannot read): look_at() tells.
    for (auto it = files_.begin(); it != files_.end();) {
      auto next = std::next(it);
      if (!std::binary_search(files.begin(), files.end(), it->first)) look_at(it->first, false, s);
      it = next;
    }
  }

  if (s.changed) {
    for (Objects::value_type* o : undeleted_) queue(*o);
    // Namespaces, then CRDs, then the rest: each rank may make the next one's kinds known.
    for (int rank = 0; rank <= 2; ++rank) {
      std::vector<Entry*> retry(pending_.begin(), pending_.end());
      std::sort(retry.begin(), retry.end(), before);
      for (Entry* e : retry) {
        if (e->rank != rank) continue;
        if (e->object) {  // refused before
          queue(*e->object);
          continue;
        }
        auto obj = json::parse(e->body);  // its kind was unknown
        if (!obj) continue;
        Resolved r =
            resolve(*obj, *e->doc->file->path, e->doc->document, *store_, opts_.default_namespace);
        s.touch(e->doc->file);
        e->problems = std::move(r.problems);
        if (!r.key) continue;
        pending_.erase(e);
        e->body = json::to_json(*obj);
        e->body_hash = content_hash(e->body);
        e->object = &*objects_.try_emplace(std::move(*r.key)).first;
        link(*e);
      }
      std::vector<Objects::value_type*> now;
      for (Objects::value_type* o : queue_) {
        auto& defs = o->second.definers;
        if (defs.empty()) continue;
        std::sort(defs.begin(), defs.end(), before);
        if (defs.front()->rank == rank) now.push_back(o);
      }
      // In path and document order, as a reader of the files expects.
      std::sort(now.begin(), now.end(), [](auto* a, auto* b) {
        return before(a->second.definers.front(), b->second.definers.front());
      });
      for (Objects::value_type* o : now) evaluate(*o, s);
    }
    remove_undefined(s);
  }
  s.rep.unchanged = std::max(0, held_ - s.rep.applied);
  // Parsing a large file frees hundreds of MB in small blocks that glibc would otherwise keep;
  // after a few documents, trimming would cost more than it returns.
  if (s.parsed_bytes >= (size_t{1} << 20)) ::malloc_trim(0);

  for (FileState* f : s.problems_changed) {
    f->problems_changed = false;
    f->reported = f->problems;
    for (auto& d : f->docs) {
      f->reported.insert(f->reported.end(), d->problems.begin(), d->problems.end());
      for (const Entry& e : d->entries)
        f->reported.insert(f->reported.end(), e.problems.begin(), e.problems.end());
    }
    std::stable_sort(
        f->reported.begin(), f->reported.end(),
        [](const ManifestProblem& a, const ManifestProblem& b) { return a.document < b.document; });
    if (f->reported.empty()) {
      problem_files_.erase(*f->path);
    } else {
      problem_files_.insert(*f->path);
    }
  }
  for (const std::string& f : problem_files_) {
    const auto& reported = files_.at(f)->reported;
    s.rep.problems.insert(s.rep.problems.end(), reported.begin(), reported.end());
  }
  if (opts_.on_problem) {
    std::set<std::string> was;
    for (const auto& p : problems_) was.insert(p.to_string());
    for (const auto& p : s.rep.problems) {
      if (!was.count(p.to_string())) opts_.on_problem(p);
    }
  }
  problems_ = s.rep.problems;
  return std::move(s.rep);
}

void ManifestLoader::run_thread() {
  std::unique_ptr<DirectoryWatch> watch =
      opts_.watch_files ? DirectoryWatch::create() : std::unique_ptr<DirectoryWatch>();
  if (watch) {
    absl::MutexLock l(&stop_mu_);
    wake_ = [w = watch.get()] { w->wake(); };
  }
  std::optional<std::vector<std::string>> named;  // unset: look at every file
  for (;;) {
    // Watch before looking, so that a change made while sync() reads is not missed.
    if (watch) watch->add(opts_.dir);
    {
      absl::MutexLock l(&mu_);
      sync_locked(named ? &*named : nullptr);
    }
    bool watching = false;
    if (watch) {
      std::vector<std::string> dirs;
      {
        absl::MutexLock l(&mu_);
        dirs = dirs_;
      }
      watching = watch->add(opts_.dir);
      for (auto& d : dirs) watch->add(d);
    }
    {
      absl::MutexLock l(&stop_mu_);
      if (stopping_) break;
      if (!watching) {
        named.reset();
        if (stop_mu_.AwaitWithTimeout(absl::Condition(&stopping_), opts_.poll)) break;
        continue;
      }
    }
    // A burst of events (an editor's write and rename) settles for 2 ms: one sync, and the
    // latency of a change stays far below the build's.
    DirectoryWatch::Changes changes;
    bool changed = watch->wait(absl::ToChronoMilliseconds(opts_.recheck),
                               std::chrono::milliseconds(2), changes);
    named.reset();
    if (changed && !changes.everything) {
      named.emplace();
      std::error_code ec;
      for (const std::string& p : changes.paths) {
        fs::path path(p);
        if (!is_manifest(path)) {
          // A link swapped (a mounted ConfigMap's "..data") changes files named otherwise.
          if (fs::is_symlink(path, ec)) {
            named.reset();
            break;
          }
          continue;
        }
        named->push_back(fs::relative(path, opts_.dir, ec).string());
      }
      if (named) {
        std::sort(named->begin(), named->end());
        named->erase(std::unique(named->begin(), named->end()), named->end());
      }
    }
    absl::MutexLock l(&stop_mu_);
    if (stopping_) break;
  }
  absl::MutexLock l(&stop_mu_);
  wake_ = nullptr;
}

void ManifestLoader::start() {
  if (thread_.joinable()) return;
  {
    absl::MutexLock l(&stop_mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run_thread(); });
}

void ManifestLoader::stop() {
  {
    absl::MutexLock l(&stop_mu_);
    stopping_ = true;
    if (wake_) wake_();
  }  // unlocking wakes AwaitWithTimeout in run_thread()
  if (thread_.joinable()) thread_.join();
}

std::vector<ManifestProblem> ManifestLoader::problems() const {
  absl::MutexLock l(&mu_);
  return problems_;
}

}  // namespace kop::local
