// A graph's saved state image (vr.save, vr.restore, vr.clone; the format is in
// docs/router-file.md, "State image"): per element its counters by name and what its
// Element::save_state wrote.
#include <algorithm>

#include "graph.h"

namespace pg {

namespace {
constexpr char kMagic[4] = {'P', 'G', 'S', 'T'};
constexpr uint32_t kImageVersion = 1;
}  // namespace

std::string Graph::save_state() {
  StateWriter w;
  w.raw(kMagic, 4);
  w.u32(kImageVersion);
  w.u64(elements_.size());
  for (auto& e : elements_) {
    w.str(e->name());
    w.str(e->class_name());
    const auto& names = e->counter_names();
    w.u32(uint32_t(names.size()));
    for (size_t j = 0; j < names.size(); j++) {
      w.str(names[j]);
      w.u64(counters_->sum(e->counter_base_ + uint32_t(j)));
    }
    // The element's state, behind its length (filled in once written).
    const size_t at = w.data().size();
    w.u64(0);
    e->save_state(w);
    const uint64_t len = w.data().size() - at - 8;
    std::memcpy(&w.data()[at], &len, 8);
  }
  return std::move(w.data());
}

void Graph::read_image(const std::string& image) {
  try {
    StateReader r(reinterpret_cast<const uint8_t*>(image.data()), image.size());
    if (std::memcmp(r.take(4, "the image's magic"), kMagic, 4) != 0) throw StateError("it does not begin with PGST");
    const uint32_t v = r.u32("the image's version");
    if (v != kImageVersion)
      throw StateError("it is version " + std::to_string(v) + " and this engine reads version " + std::to_string(kImageVersion));
    const size_t n = r.count("the element count", 16);
    for (size_t i = 0; i < n; i++) {
      auto s = std::make_unique<SavedElement>();
      const std::string name = r.str("an element's name");
      s->cls = r.str("an element's class");
      const uint32_t nc = r.u32("a counter count");
      for (uint32_t j = 0; j < nc; j++) {
        std::string cn = r.str("a counter's name");
        s->counters.emplace_back(std::move(cn), r.u64("a counter's value"));
      }
      s->state_len = r.count("an element's state length", 1);
      s->state = r.take(s->state_len, "an element's state");
      if (!saved_.emplace(name, std::move(s)).second) throw StateError("element '" + name + "' is in it twice");
    }
    if (r.left()) throw StateError(std::to_string(r.left()) + " bytes follow its last element");
  } catch (const StateError& e) {
    throw PlanError(std::string("the saved state image is malformed: ") + e.what());
  }
}

bool Graph::restoring(const std::string& element, const std::string& cls) const {
  const auto it = saved_.find(element);
  return it != saved_.end() && it->second->cls == cls;
}

// Counters go to the other threads' row (no worker writes it), as a replacement's do.
void Graph::restore_states() {
  if (saved_.empty()) return;
  uint64_t* row = counters_->row(counters_->rows - 1);
  for (auto& e : elements_) {
    if (!e->restoring_) continue;
    const SavedElement& s = *saved_.at(e->name());
    const auto& names = e->counter_names();
    for (const auto& [cn, value] : s.counters) {
      if (!restore_counters_) break;
      const auto it = std::find(names.begin(), names.end(), cn);
      if (it != names.end()) row[e->counter_base_ + uint32_t(it - names.begin())] += value;
    }
    StateReader r(s.state, s.state_len);
    try {
      if (s.state_len) e->restore_state(r);
      if (r.left()) throw StateError(std::to_string(r.left()) + " bytes of it were not read (saved by another version of the class?)");
    } catch (const std::exception& err) {
      throw PlanError("element '" + e->name() + "' (" + e->class_name() + "): cannot restore its saved state: " + err.what());
    }
  }
  for (auto& e : elements_) e->restoring_ = false;
  saved_.clear();
}

}  // namespace pg
