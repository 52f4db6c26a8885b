#include "plugin.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <stdexcept>

namespace pg {

namespace {

std::mutex plugins_mutex;
std::map<std::string, void*> loaded;              // real path -> handle (never closed: elements may live)
std::map<std::string, std::string> class_library;  // class -> real path of its plugin

constexpr char kMarker[] = "pktgraph-element-api-version=";
const std::string kRebuild = "rebuild it against this pktgraph (`npm rebuild` in its package, which runs `pktgraph plugin-build`)";

// The element API version text the plugin's element.h put in it (element.h, PG_PLUGIN), read
// from the file so that a plugin of another version never runs: -1 when there is none.
long api_version_in(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read plugin " + path + ": " + std::strerror(errno));
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = bytes.find(kMarker);
  if (at == std::string::npos) return -1;
  size_t i = at + sizeof kMarker - 1;
  long v = 0;
  bool digits = false;
  while (i < bytes.size() && bytes[i] >= '0' && bytes[i] <= '9' && v < 1000000) v = v * 10 + (bytes[i++] - '0'), digits = true;
  return digits && i < bytes.size() && bytes[i] == ';' ? v : -1;
}

// Node loads an addon with RTLD_LOCAL, so its symbols (the element API plugins link against:
// pg::Element's vtable and typeinfo, Config's getters, register_element, tls_worker) are not
// visible to libraries loaded later. Reopening the addon with RTLD_NOLOAD | RTLD_GLOBAL
// promotes them to the global scope once, before the first plugin loads. An engine linked into
// a program that exports them (-rdynamic: test/native/plan_runner.cc) has them there already,
// and RTLD_NOLOAD finds no library of the program's name.
void export_engine_symbols() {
  static bool done = false;
  if (done) return;
  Dl_info info{};
  void* self = reinterpret_cast<void*>(&register_element);
  if (!dladdr(self, &info) || !info.dli_fname)
    throw std::runtime_error("cannot find the engine's own library to export the element API to plugins");
  // dlsym on the program's handle searches the global scope only (RTLD_DEFAULT would search the
  // caller's own local scope too, and so always find it).
  void* program = dlopen(nullptr, RTLD_NOW);
  const bool global = info.dli_sname && program && dlsym(program, info.dli_sname) == self;
  if (!global && !dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL)) {
    const char* why = dlerror();  // null when RTLD_NOLOAD found nothing
    throw std::runtime_error(std::string("cannot export the element API to plugins from ") + info.dli_fname + ": " +
                             (why ? why : "no library of that name is loaded"));
  }
  done = true;
}

}  // namespace

void load_plugin(const std::string& path) {
  std::lock_guard<std::mutex> lock(plugins_mutex);
  char real[PATH_MAX];
  if (!realpath(path.c_str(), real))
    throw std::runtime_error("plugin library " + path + " does not exist (" + std::strerror(errno) +
                             "); build its package (`npm install` in it)");
  const std::string file = real;
  if (loaded.count(file)) return;
  const long version = api_version_in(file);
  if (version < 0)
    throw std::runtime_error(file + " is not a pktgraph element plugin (it carries no element API version); build it with `pktgraph plugin-build` in its package");
  if (version != PG_ELEMENT_API_VERSION)
    throw std::runtime_error("plugin " + file + " was built against element API version " + std::to_string(version) +
                             " but this engine has version " + std::to_string(PG_ELEMENT_API_VERSION) + "; " + kRebuild);
  export_engine_symbols();

  std::vector<std::pair<std::string, ElementFactory>> classes;
  tls_registration_capture = &classes;
  dlerror();
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  tls_registration_capture = nullptr;
  if (!handle) {
    const char* why = dlerror();
    throw std::runtime_error("cannot load plugin " + file + ": " + (why ? why : "unknown error") + "; " + kRebuild);
  }
  if (classes.empty()) {
    dlclose(handle);
    throw std::runtime_error("plugin " + file + " registers no element class (end each element's .cc with PG_ELEMENT(Name))");
  }
  if (std::string clash = register_elements(classes); !clash.empty()) {
    dlclose(handle);
    auto other = class_library.find(clash);
    throw std::runtime_error("plugin " + file + " defines element class '" + clash + "', which " +
                             (other == class_library.end() ? std::string("is built into the engine") : "plugin " + other->second + " already defines") +
                             "; rename the class in the plugin (its descriptor and PG_ELEMENT)");
  }
  for (auto& [name, f] : classes) class_library[name] = file;
  loaded[file] = handle;
}

std::string plugin_of(const std::string& class_name) {
  std::lock_guard<std::mutex> lock(plugins_mutex);
  auto it = class_library.find(class_name);
  return it == class_library.end() ? "" : it->second;
}

}  // namespace pg
