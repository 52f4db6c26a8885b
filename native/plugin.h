// Out-of-tree C++ elements (plugins): a shared library built against the element API headers
// that ship in the pktgraph package (native/plugin.gypi; docs/writing-elements.md). A plan's
// class that names a library (classes.C.library) has it loaded before the graph is built.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "element.h"

namespace pg {

// Loads the plugin at `path` once per process (later calls with the same file return at once)
// and registers its element classes. Throws std::runtime_error with one sentence when the file
// is missing, is not a plugin, was built against another element API version (then nothing of
// it runs: the version is read from the file before loading), fails to load, registers no
// class, or registers a class that already exists.
void load_plugin(const std::string& path);

// Which library registered `class_name`: "" for a built-in class or an unknown one.
std::string plugin_of(const std::string& class_name);

// element.cc: registrations made while this is set are collected in it (a loading plugin's);
// register_elements adds them all, or none and returns the first name already registered.
extern thread_local std::vector<std::pair<std::string, ElementFactory>>* tls_registration_capture;
std::string register_elements(const std::vector<std::pair<std::string, ElementFactory>>& classes);

}  // namespace pg
