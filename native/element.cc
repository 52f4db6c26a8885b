#include "element.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <cerrno>
#include <map>
#include <mutex>

namespace pg {

// ---- Config ----

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

std::string FieldSpec::range_text() const {
  const bool lo = minimum > -kMaxExact || exclusive_min, hi = maximum < kMaxExact || exclusive_max;
  const std::string a = format_number(minimum), b = format_number(maximum);
  if (!exclusive_min && !exclusive_max) return lo && hi ? "from " + a + " to " + b : lo ? "at least " + a : hi ? "at most " + b : "any number";
  std::string t = lo ? (exclusive_min ? "more than " : "at least ") + a : "";
  if (hi) t += (lo ? " and " : "") + std::string(exclusive_max ? "less than " : "at most ") + b;
  return t;
}

const FieldSpec& ClassFacts::field(const std::string& key) const {
  auto it = fields.find(key);
  if (it == fields.end())
    throw ConfigError("config field '" + key + "' is not declared by class " + name +
                      "'s descriptor (the plan's classes." + name + ".fields); declare it in " + name + ".ts");
  return it->second;
}

const json::Value& Config::need(const char* key) const {
  const json::Value* v = obj_ ? obj_->find(key) : nullptr;
  if (!v) throw ConfigError(std::string("config field '") + key + "' is missing");
  return *v;
}

bool Config::has(const char* key) const {
  const json::Value* v = obj_ ? obj_->find(key) : nullptr;
  return v && !v->is_null();
}

// Integers are also bounded by the exact range of a double, so the cast below is exact.
int64_t Config::integer(const char* key) const {
  const FieldSpec& f = facts_->field(key);
  const json::Value& v = need(key);
  if (!v.is_number() || v.as_number() != std::floor(v.as_number()))
    throw ConfigError(std::string("config field '") + key + "' must be an integer, got " + v.dump());
  const double d = v.as_number();
  if (std::fabs(d) > FieldSpec::kMaxExact)
    throw ConfigError(std::string("config field '") + key + "' must be an exact integer, at most 2^53 - 1 in size, got " + v.dump());
  if (!f.in_range(d)) throw ConfigError(std::string("config field '") + key + "' must be " + f.range_text() + ", got " + v.dump());
  return int64_t(d);
}

int64_t Config::bounded(const char* key, int64_t native_max) const {
  const int64_t v = integer(key);
  if (v > native_max)
    throw ConfigError(std::string("config field '") + key + "' must be at most " + std::to_string(native_max) +
                      " (the engine's limit), got " + std::to_string(v));
  return v;
}

double Config::number(const char* key) const {
  const FieldSpec& f = facts_->field(key);
  const json::Value& v = need(key);
  if (!v.is_number()) throw ConfigError(std::string("config field '") + key + "' must be a number, got " + v.dump());
  const double d = v.as_number();
  if (!f.in_range(d)) throw ConfigError(std::string("config field '") + key + "' must be " + f.range_text() + ", got " + v.dump());
  return d;
}

bool Config::boolean(const char* key) const {
  facts_->field(key);
  const json::Value& v = need(key);
  if (!v.is_bool()) throw ConfigError(std::string("config field '") + key + "' must be true or false, got " + v.dump());
  return v.as_bool();
}

std::string Config::string(const char* key) const {
  const FieldSpec& f = facts_->field(key);
  const json::Value& v = need(key);
  if (!v.is_string()) throw ConfigError(std::string("config field '") + key + "' must be a string, got " + v.dump());
  if (!f.values.empty() && std::find(f.values.begin(), f.values.end(), v.as_string()) == f.values.end()) {
    std::string list;  // "a", "b" or "c"
    for (size_t i = 0; i < f.values.size(); i++)
      list += std::string(i == 0 ? "" : i + 1 == f.values.size() ? " or " : ", ") + "\"" + f.values[i] + "\"";
    throw ConfigError(std::string("config field '") + key + "' must be " + list + ", got " + v.dump());
  }
  return v.as_string();
}

const json::Value& Config::value(const char* key) const {
  facts_->field(key);
  return need(key);
}

namespace {
// An integer item of an array field, checked against the item spec (may be null).
int64_t array_integer(const json::Value& v, const FieldSpec* item, const std::string& what, int64_t native_max) {
  if (!v.is_number() || v.as_number() != std::floor(v.as_number()) || std::fabs(v.as_number()) > FieldSpec::kMaxExact)
    throw ConfigError(what + " must be an integer, got " + v.dump());
  const double d = v.as_number();
  if (item && !item->in_range(d)) throw ConfigError(what + " must be " + item->range_text() + ", got " + v.dump());
  if (d > double(native_max)) throw ConfigError(what + " must be at most " + std::to_string(native_max) + " (the engine's limit), got " + v.dump());
  return int64_t(d);
}

// The items of an array field, their count checked against the spec.
const std::vector<json::Value>& array_items(const json::Value& v, const FieldSpec& f, const std::string& what) {
  if (!v.is_array()) throw ConfigError(what + " must be an array, got " + v.dump());
  const double n = double(v.as_array().size());
  if (n < f.min_items || n > f.max_items) {
    const FieldSpec count{f.min_items, f.max_items};
    throw ConfigError(what + " must have " + count.range_text() + " items, got " + std::to_string(v.as_array().size()));
  }
  return v.as_array();
}

bool has_type(const json::Value& v, const std::string& t) {
  if (t == "any") return true;
  if (t == "integer") return v.is_number() && v.as_number() == std::floor(v.as_number()) && std::fabs(v.as_number()) <= FieldSpec::kMaxExact;
  if (t == "number") return v.is_number();
  if (t == "string") return v.is_string();
  if (t == "boolean") return v.is_bool();
  if (t == "array") return v.is_array();
  if (t == "object") return v.is_object();
  return t == "null" && v.is_null();
}

// A whole value against its facts, recursively (Config::checked).
void check_value(const json::Value& v, const FieldSpec& f, const std::string& what) {
  if (!f.types.empty() && std::none_of(f.types.begin(), f.types.end(), [&](const std::string& t) { return has_type(v, t); })) {
    std::string list;
    for (size_t i = 0; i < f.types.size(); i++) list += (i ? " or " : "") + f.types[i];
    throw ConfigError(what + " must be of type " + list + ", got " + v.dump());
  }
  if (v.is_number() && !f.in_range(v.as_number())) throw ConfigError(what + " must be " + f.range_text() + ", got " + v.dump());
  if (v.is_string() && !f.values.empty() && std::find(f.values.begin(), f.values.end(), v.as_string()) == f.values.end())
    throw ConfigError(what + " must be one of its declared values, got " + v.dump());
  if (v.is_array()) {
    size_t i = 0;
    for (const json::Value& x : array_items(v, f, what))
      if (f.items) check_value(x, *f.items, what + " item " + std::to_string(i++));
  }
  if (v.is_object() && !f.properties.empty())
    for (const auto& [k, x] : v.as_object()) {
      auto p = f.properties.find(k);
      if (p == f.properties.end()) throw ConfigError(what + " has '" + k + "', which its descriptor does not declare");
      check_value(x, *p->second, what + "." + k);
    }
}
}  // namespace

const json::Value& Config::checked(const char* key) const {
  const json::Value& v = need(key);
  check_value(v, facts_->field(key), std::string("config field '") + key + "'");
  return v;
}

std::vector<int64_t> Config::integers(const char* key, int64_t native_max) const {
  const FieldSpec& f = facts_->field(key);
  const std::string what = std::string("config field '") + key + "'";
  std::vector<int64_t> out;
  size_t i = 0;
  for (const json::Value& v : array_items(need(key), f, what))
    out.push_back(array_integer(v, f.items.get(), what + " item " + std::to_string(i++), native_max));
  return out;
}

std::vector<std::vector<int64_t>> Config::integer_lists(const char* key, int64_t native_max) const {
  const FieldSpec& f = facts_->field(key);
  const std::string what = std::string("config field '") + key + "'";
  const FieldSpec* item = f.items.get();
  std::vector<std::vector<int64_t>> out;
  for (const json::Value& v : array_items(need(key), f, what)) {
    const std::string w = what + " item " + std::to_string(out.size());
    std::vector<int64_t>& list = out.emplace_back();
    if (!v.is_array()) {
      list.push_back(array_integer(v, item, w, native_max));
      continue;
    }
    if (!item || !item->items) throw ConfigError(w + " must be an integer, got " + v.dump());
    size_t j = 0;
    for (const json::Value& x : array_items(v, *item, w)) list.push_back(array_integer(x, item->items.get(), w + " item " + std::to_string(j++), native_max));
  }
  return out;
}

std::vector<uint8_t> parse_hex(const std::string& text, const std::string& what) {
  std::vector<uint8_t> out;
  int nibble = -1;
  for (char c : text) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else if (c == ' ' || c == ':' || c == '\n' || c == '\t') continue;
    else throw ConfigError(what + " must be hex digits, found '" + std::string(1, c) + "'");
    if (nibble < 0) {
      nibble = d;
    } else {
      out.push_back(uint8_t(nibble << 4 | d));
      nibble = -1;
    }
  }
  if (nibble >= 0) throw ConfigError(what + " has an odd number of hex digits");
  return out;
}

// ---- typed addresses ----

namespace {
const char* kind_text(const std::string& kind) {
  return kind == "ipv4" ? "an IPv4 address" : kind == "ipv6" ? "an IPv6 address" : kind == "ip" ? "an IPv4 or IPv6 address"
       : kind == "mac" ? "an Ethernet address" : kind == "ipv4prefix" ? "an IPv4 prefix" : "an address";
}
const char* kind_helper(const std::string& kind) {
  return kind == "ipv4" ? "ipv4Address()" : kind == "ipv6" ? "ipv6Address()" : kind == "ip" ? "ipAddress()"
       : kind == "mac" ? "etherAddress()" : "ipv4Prefix()";
}
// n bytes as an array of integers 0-255, or false.
bool typed_bytes(const json::Value& v, size_t n, uint8_t* out) {
  if (!v.is_array() || v.as_array().size() != n) return false;
  for (size_t i = 0; i < n; i++) {
    const json::Value& b = v.as_array()[i];
    if (!b.is_number() || b.as_number() != std::floor(b.as_number()) || b.as_number() < 0 || b.as_number() > 255) return false;
    out[i] = uint8_t(b.as_number());
  }
  return true;
}
bool typed_v4(const json::Value& v, uint32_t& out) {
  if (!v.is_number() || v.as_number() != std::floor(v.as_number()) || v.as_number() < 0 || v.as_number() > 4294967295.0) return false;
  out = htonl(uint32_t(v.as_number()));
  return true;
}
}  // namespace

uint32_t typed_ipv4(const json::Value& v, const std::string& what) {
  uint32_t a;
  if (!typed_v4(v, a)) throw ConfigError(what + " must be an IPv4 address (typed: a whole number from 0 to 4294967295), got " + v.dump());
  return a;
}
void typed_ipv6(const json::Value& v, const std::string& what, uint8_t out[16]) {
  if (!typed_bytes(v, 16, out)) throw ConfigError(what + " must be an IPv6 address (typed: an array of 16 bytes), got " + v.dump());
}
void typed_mac(const json::Value& v, const std::string& what, uint8_t out[6]) {
  if (!typed_bytes(v, 6, out)) throw ConfigError(what + " must be an Ethernet address (typed: an array of 6 bytes), got " + v.dump());
}

// The field's value, once its declared kind is the one read.
const json::Value& Config::address(const char* key, const char* kind) const {
  const FieldSpec& f = facts_->field(key);
  if (f.kind != kind)
    throw ConfigError(std::string("config field '") + key + "' is read as " + kind_text(kind) + " but class " + facts_->name +
                      "'s descriptor declares " + (f.kind.empty() ? std::string("no address kind") : "kind '" + f.kind + "'") +
                      " for it (the plan's classes." + facts_->name + ".fields." + key + ".kind); declare it with " +
                      kind_helper(kind) + " in " + facts_->name + ".ts");
  return need(key);
}

static std::string field_text(const char* key) { return std::string("config field '") + key + "'"; }

uint32_t Config::ipv4(const char* key) const { return typed_ipv4(address(key, "ipv4"), field_text(key)); }
void Config::ipv6(const char* key, uint8_t out[16]) const { typed_ipv6(address(key, "ipv6"), field_text(key), out); }
void Config::mac(const char* key, uint8_t out[6]) const { typed_mac(address(key, "mac"), field_text(key), out); }

int Config::ip(const char* key, uint8_t out[16]) const {
  const json::Value& v = address(key, "ip");
  uint32_t a;
  if (typed_v4(v, a)) {
    std::memcpy(out, &a, 4);
    return 4;
  }
  if (typed_bytes(v, 16, out)) return 16;
  throw ConfigError(field_text(key) + " must be an IPv4 or IPv6 address (typed: a whole number from 0 to 4294967295, or an array of 16 bytes), got " + v.dump());
}

uint32_t Config::ipv4_prefix(const char* key, int& len) const { return typed_ipv4_prefix(address(key, "ipv4prefix"), field_text(key), len); }

uint32_t typed_ipv4_prefix(const json::Value& v, const std::string& what, int& len) {
  const json::Value* a = v.is_object() ? v.find("addr") : nullptr;
  const json::Value* l = v.is_object() ? v.find("len") : nullptr;
  uint32_t out;
  if (!a || !l || !typed_v4(*a, out) || !l->is_number() || l->as_number() != std::floor(l->as_number()) || l->as_number() < 0 || l->as_number() > 32)
    throw ConfigError(what + " must be an IPv4 prefix (typed: {\"addr\": a whole number from 0 to 4294967295, \"len\": 0 to 32}), got " + v.dump());
  len = int(l->as_number());
  return out;
}

std::vector<uint32_t> Config::ipv4_list(const char* key) const {
  const json::Value& v = address(key, "ipv4");
  if (!v.is_array()) throw ConfigError(field_text(key) + " must be an array of IPv4 addresses, got " + v.dump());
  std::vector<uint32_t> out;
  for (size_t i = 0; i < v.as_array().size(); i++) out.push_back(typed_ipv4(v.as_array()[i], field_text((std::string(key) + "." + std::to_string(i)).c_str())));
  return out;
}

std::vector<uint8_t> Config::hex_bytes(const char* key) const {
  return parse_hex(string(key), std::string("config field '") + key + "'");
}

// ---- default packet-path behaviour: the compiler never lets these run ----

void Element::push(int port, Batch& batch) { drop(batch); }
uint32_t Element::pull(int port, Batch& batch, uint32_t max) { return 0; }

// ---- counters ----

uint32_t Element::counter(const std::string& name) const {
  const std::vector<std::string>& names = facts_->counters;
  auto it = std::find(names.begin(), names.end(), name);
  if (it != names.end()) return uint32_t(it - names.begin());
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  throw ConfigError("counter '" + name + "' is not declared by class " + class_name_ + "'s descriptor (it declares: " +
                    (list.empty() ? "none" : list) + "); declare it in " + class_name_ + ".ts's counters");
}

// ---- write handlers that set a config field: the field's declared range ----

int64_t parse_field_integer(const ClassFacts& facts, const std::string& s, const char* field, const char* what) {
  const FieldSpec& f = facts.field(field);
  if (!what) what = field;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno) throw HandlerError(std::string(what) + " must be a whole number, got '" + s + "'");
  if (!f.in_range(double(v))) throw HandlerError(std::string(what) + " must be " + f.range_text() + ", got " + s);
  return v;
}

double parse_field_number(const ClassFacts& facts, const std::string& s, const char* field, const char* what) {
  const FieldSpec& f = facts.field(field);
  if (!what) what = field;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v)) throw HandlerError(std::string(what) + " must be a number, got '" + s + "'");
  if (!f.in_range(v)) throw HandlerError(std::string(what) + " must be " + f.range_text() + ", got " + s);
  return v;
}

CounterArena::CounterArena(uint32_t rows_, uint32_t slots_) : rows(rows_), slots(slots_) {
  stride = (slots + 7) & ~7u;
  if (stride == 0) stride = 8;
  bytes = size_t(rows) * stride * sizeof(uint64_t);
  // In the graph's hot state when made as it loads (Graph::make_counters), so the worker's
  // prefetch of that state brings the rows in with the elements that count into them.
  data = static_cast<uint64_t*>(state_alloc(bytes, 64, StateKind::Hot));
  std::memset(data, 0, bytes);
}
CounterArena::~CounterArena() { state_free(data); }

uint64_t CounterArena::sum(uint32_t slot) const {
  uint64_t s = 0;
  for (uint32_t r = 0; r < rows; r++) s += std::atomic_ref<uint64_t>(data[size_t(r) * stride + slot]).load(std::memory_order_relaxed);
  return s;
}

void CounterArena::zero(uint32_t first, uint32_t n) {
  for (uint32_t r = 0; r < rows; r++)
    for (uint32_t i = 0; i < n; i++) std::atomic_ref<uint64_t>(data[size_t(r) * stride + first + i]).store(0, std::memory_order_relaxed);
}

// ---- registry ----

static std::map<std::string, ElementFactory>& registry() {
  static std::map<std::string, ElementFactory> r;
  return r;
}
static std::mutex registry_mutex;

// While a plugin loads (native/plugin.cc), its static registrations are collected here instead,
// so a plugin refused after dlopen has registered nothing.
thread_local std::vector<std::pair<std::string, ElementFactory>>* tls_registration_capture = nullptr;

void register_element(const char* class_name, ElementFactory factory) {
  if (tls_registration_capture) {
    tls_registration_capture->emplace_back(class_name, factory);
    return;
  }
  std::lock_guard<std::mutex> lock(registry_mutex);
  registry()[class_name] = factory;
}

std::string register_elements(const std::vector<std::pair<std::string, ElementFactory>>& classes) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  for (auto& [name, f] : classes)
    if (registry().count(name)) return name;
  for (auto& [name, f] : classes) registry()[name] = f;
  return "";
}

ElementFactory find_element(const std::string& class_name) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto it = registry().find(class_name);
  return it == registry().end() ? nullptr : it->second;
}

std::vector<std::string> element_classes() {
  std::lock_guard<std::mutex> lock(registry_mutex);
  std::vector<std::string> names;
  for (auto& [k, v] : registry()) names.push_back(k);
  return names;
}

// ---- handler value helpers ----

std::string to_string_u64(uint64_t v) { return std::to_string(v); }

uint64_t parse_u64(const std::string& s, uint64_t min, uint64_t max, const char* what) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (s.empty() || s[0] == '-' || *end != '\0' || errno)
    throw HandlerError(std::string(what) + " must be a whole number, got '" + s + "'");
  if (v < min || v > max)
    throw HandlerError(std::string(what) + " must be from " + std::to_string(min) + " to " + std::to_string(max) +
                       ", got " + s);
  return v;
}

double parse_double(const std::string& s, double min, double max, const char* what) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v))
    throw HandlerError(std::string(what) + " must be a number, got '" + s + "'");
  if (v < min || v > max)
    throw HandlerError(std::string(what) + " must be from " + format_number(min) + " to " + format_number(max) +
                       ", got " + s);
  return v;
}

bool parse_bool(const std::string& s, const char* what) {
  if (s == "true" || s == "1" || s == "yes") return true;
  if (s == "false" || s == "0" || s == "no") return false;
  throw HandlerError(std::string(what) + " must be true or false, got '" + s + "'");
}

}  // namespace pg
