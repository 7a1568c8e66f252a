// The object map of the manifest loader: every object some file defines or the store holds from
// the files, with the entries defining it (the first in path and document order wins); only the
// objects a sync queued are evaluated, applied or deleted (manifest_state.h says how the
// loader's files share the work).
#include <algorithm>

#include "kop/client/errors.h"
#include "manifest_documents.h"
#include "manifest_state.h"

namespace kop::local {

namespace {

using Entry = ManifestLoader::Entry;

bool before(const Entry* a, const Entry* b) {
  if (a->doc->file != b->doc->file) return *a->doc->file->path < *b->doc->file->path;
  if (a->doc->document != b->doc->document) return a->doc->document < b->doc->document;
  return a->item < b->item;
}

}  // namespace

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

// Entries whose kind was unknown get a key when it is known now; the objects queued by this
// sync are evaluated, Namespaces, then CRDs, then the rest (each rank may make the next one's
// kinds known); objects no file defines any more are deleted.
void ManifestLoader::evaluate_changed(Sync& s) {
  for (Objects::value_type* o : undeleted_) queue(*o);
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
      manifest::Resolved r = manifest::resolve(*obj, *e->doc->file->path, e->doc->document, *store_,
                                               opts_.default_namespace);
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

}  // namespace kop::local
