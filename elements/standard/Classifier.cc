// Classifier: sends each packet to the output of the first pattern it matches.
// Documentation (pattern syntax and semantics): Classifier.ts, which also parses the patterns:
// the plan carries each pattern's clauses as bytes (`clauses`), never text to parse here.
//
// The patterns compile into a decision tree. Every clause becomes tests of the aligned
// 32-bit words it covers, each `len >= minlen && (load32(off) & mask) == value`, where
// minlen is the clause's end (a clause needs every byte it names, wildcards included);
// positive tests of one word in one pattern merge into one. The tree is built by walking
// the patterns in order and remembering what each test on the path proved, so a test
// whose outcome is already known is skipped (once 12/0806 held, 12/0800 is known false).
// Identical subtrees are shared (states memoised, nodes hash-consed). When the full-
// knowledge tree would exceed a state budget, the builder retries remembering facts only
// within a pattern, then not at all (a tree with one node per test).
#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "batch_split.h"
#include "element.h"

namespace pg {
namespace {

constexpr uint32_t kMaxWordTests = 16384;  // the same limit as CLASSIFIER_MAX_WORD_TESTS in Classifier.ts

// mask and value hold the word's bytes in memory order (as memcpy loads them).
struct WordTest {
  uint32_t off = 0, mask = 0, value = 0, minlen = 0;
  bool operator==(const WordTest&) const = default;
};

// A positive condition is one test that must hold; a negated one is a clause's tests, at
// least one of which must fail.
struct Cond {
  bool negated = false;
  std::vector<WordTest> tests;
};

struct Pattern {
  std::string text;
  bool any = false;    // '-'
  bool never = false;  // two clauses demand different bits of one byte
  std::vector<Cond> conds;
};

// The word tests of one clause covering bytes [offset, offset + value.size()).
std::vector<WordTest> clause_tests(uint32_t offset, const std::vector<uint8_t>& value, const std::vector<uint8_t>& mask) {
  const uint32_t end = offset + uint32_t(value.size());
  std::vector<WordTest> out;
  for (uint32_t w = offset & ~3u; w < end; w += 4) {
    uint8_t mb[4] = {0, 0, 0, 0}, vb[4] = {0, 0, 0, 0};
    for (uint32_t b = 0; b < 4; b++) {
      uint32_t a = w + b;
      if (a >= offset && a < end) {
        mb[b] = mask[a - offset];
        vb[b] = uint8_t(value[a - offset] & mb[b]);
      }
    }
    WordTest t;
    t.off = w;
    t.minlen = end;
    std::memcpy(&t.mask, mb, 4);
    std::memcpy(&t.value, vb, 4);
    if (t.mask) out.push_back(t);
  }
  if (out.empty()) {  // every bit is a wildcard: only the length matters
    WordTest t;
    t.off = (end - 1) & ~3u;
    t.minlen = end;
    out.push_back(t);
  }
  return out;
}

// Builds one pattern from its clauses as the compiler parsed them (Classifier.ts: each clause
// { offset, value, mask, not }, bytes; no clauses: '-'). Returns the problem with the plan or "".
std::string build_pattern(const json::Value& clauses, size_t index, Pattern& pat, uint32_t& words) {
  const std::string where = "config field 'clauses' item " + std::to_string(index);
  if (clauses.as_array().empty()) {
    pat.any = true;
    return "";
  }
  std::vector<WordTest> positive;  // merged per word, in order of first appearance
  size_t j = 0;
  for (const json::Value& cl : clauses.as_array()) {
    const std::string what = where + " clause " + std::to_string(j++);
    // Types and ranges (offset, bytes, counts) were checked against the class facts
    // (Config::checked); they do not say which properties are required.
    const json::Value* off = cl.find("offset");
    const json::Value* val = cl.find("value");
    const json::Value* msk = cl.find("mask");
    const json::Value* neg = cl.find("not");
    if (!off || !val || !msk || !neg) return what + " must be { offset, value, mask, not }";
    const size_t n = val->as_array().size();
    if (msk->as_array().size() != n) return what + ": value and mask must be the same number of bytes";
    const uint32_t offset = uint32_t(off->as_number());
    const uint32_t last = offset + uint32_t(n) - 1;
    if (last > 65535) return what + ": reaches beyond byte 65535";
    std::vector<uint8_t> value(n), mask(n);
    for (size_t i = 0; i < n; i++) {
      mask[i] = uint8_t(msk->as_array()[i].as_number());
      value[i] = uint8_t(uint8_t(val->as_array()[i].as_number()) & mask[i]);
    }
    words += (last >> 2) - (offset >> 2) + 1;
    const bool negated = neg->as_bool();

    std::vector<WordTest> tests = clause_tests(offset, value, mask);
    if (negated) {
      pat.conds.push_back(Cond{true, std::move(tests)});
      continue;
    }
    for (const WordTest& t : tests) {
      auto same = std::find_if(pat.conds.begin(), pat.conds.end(),
                               [&](const Cond& c) { return !c.negated && c.tests[0].off == t.off; });
      if (same == pat.conds.end()) {
        pat.conds.push_back(Cond{false, {t}});
        continue;
      }
      WordTest& m = same->tests[0];
      if ((m.mask & t.mask) & (m.value ^ t.value)) pat.never = true;
      m.mask |= t.mask;
      m.value |= t.value;
      m.minlen = std::max(m.minlen, t.minlen);
    }
  }
  // A positive length-only test (all wildcards) folds into another positive test.
  uint32_t need = 0;
  size_t keep = SIZE_MAX;
  for (size_t i = 0; i < pat.conds.size(); i++) {
    const Cond& c = pat.conds[i];
    if (c.negated) continue;
    if (c.tests[0].mask == 0) need = std::max(need, c.tests[0].minlen);
    else if (keep == SIZE_MAX) keep = i;
  }
  if (need) {
    std::vector<Cond> conds;
    bool placed = false;
    for (size_t i = 0; i < pat.conds.size(); i++) {
      Cond c = pat.conds[i];
      if (!c.negated && c.tests[0].mask == 0) {
        if (keep != SIZE_MAX || placed) continue;
        c.tests[0].minlen = need;  // no masked test: keep one length test
        placed = true;
      } else if (i == keep) {
        c.tests[0].minlen = std::max(c.tests[0].minlen, need);
      }
      conds.push_back(std::move(c));
    }
    pat.conds = std::move(conds);
  }
  return "";
}

// ---- the tree builder ----

struct TreeNode {
  WordTest t;
  int32_t yes, no;  // >= 0: node index; < 0: -(output + 1), output == npatterns is drop
};

class TreeBuilder {
 public:
  enum Tier { FullKnowledge = 0, PatternKnowledge = 1, NoKnowledge = 2 };

  explicit TreeBuilder(const std::vector<Pattern>& pats) : pats_(pats) {
    // Number the tests; for each test and outcome, find the last pattern with a test that
    // fact alone decides. A fact matters to a state only while that pattern is ahead.
    std::vector<std::vector<std::pair<uint32_t, uint32_t>>> by_word(65536 / 4);  // (id, pattern)
    for (size_t i = 0; i < pats.size(); i++) {
      ids_.emplace_back();
      for (const Cond& c : pats[i].conds) {
        ids_.back().emplace_back();
        for (const WordTest& t : c.tests) {
          ids_.back().back().push_back(uint32_t(tests_.size()));
          by_word[t.off / 4].push_back({uint32_t(tests_.size()), uint32_t(i)});
          tests_.push_back(t);
        }
      }
    }
    last_decided_.assign(tests_.size() * 2, -1);
    for (const auto& group : by_word) {
      if (group.size() > 2048) {  // too many to compare pairwise: assume the last use
        for (const auto& [id, pat] : group) last_decided_[2 * id] = last_decided_[2 * id + 1] = int32_t(group.back().second);
        continue;
      }
      for (const auto& [id, pat] : group)
        for (int holds = 0; holds < 2; holds++)
          for (auto q = group.rbegin(); q != group.rend() && q->second >= pat; ++q)
            if (decide(Fact{tests_[id], uint32_t(id), bool(holds)}, tests_[q->first]) >= 0) {
              last_decided_[2 * id + holds] = int32_t(q->second);
              break;
            }
    }
  }

  // Builds the tree; false if the tier needs more than `budget` states.
  bool build(Tier tier, size_t budget) {
    tier_ = tier;
    budget_ = budget;
    states_ = 0;
    nodes.clear();
    memo_.clear();
    unique_.clear();
    facts_.clear();
    try {
      root = walk(0, 0, 0);
      return true;
    } catch (const OverBudget&) {
      nodes.clear();
      memo_.clear();
      unique_.clear();
      facts_.clear();
      return false;
    }
  }

  std::vector<TreeNode> nodes;
  int32_t root = 0;

 private:
  struct OverBudget {};
  struct Fact {
    WordTest t;
    uint32_t id;  // the test's number
    bool holds;
  };

  int32_t out_code(size_t i) const { return -int32_t(i) - 1; }

  // What one fact says about test q: 1 holds, 0 fails, -1 unknown.
  static int decide(const Fact& fact, const WordTest& q) {
    const WordTest& f = fact.t;
    if (f.off != q.off) return -1;
    if (fact.holds) {
      if ((q.mask & ~f.mask) == 0) {
        if ((f.value & q.mask) != q.value) return 0;
        if (q.minlen <= f.minlen) return 1;
      } else if ((f.value ^ q.value) & f.mask & q.mask) {
        return 0;
      }
    } else if (q.minlen >= f.minlen && (f.mask & ~q.mask) == 0 && (q.value & f.mask) == f.value) {
      return 0;  // q holding would make f hold
    }
    return -1;
  }

  // What the facts on the path say about q.
  int infer(const WordTest& q) const {
    for (auto it = facts_.rbegin(); it != facts_.rend(); ++it)
      if (int r = decide(*it, q); r >= 0) return r;
    return -1;
  }

  // Pattern i onwards with no knowledge carried over (PatternKnowledge tier).
  int32_t fresh(size_t i) {
    std::vector<Fact> saved;
    saved.swap(facts_);
    int32_t r = walk(i, 0, 0);
    saved.swap(facts_);
    return r;
  }

  // Where a failed pattern i leads.
  int32_t fail(size_t i) { return tier_ == PatternKnowledge ? fresh(i + 1) : walk(i + 1, 0, 0); }

  // The subtree from position (pattern i, condition j, test k of a negated condition).
  int32_t walk(size_t i, size_t j, size_t k) {
    // Steps decided by the facts need no node.
    for (;;) {
      if (i >= pats_.size()) return out_code(pats_.size());
      const Pattern& p = pats_[i];
      if (p.any) return out_code(i);
      if (p.never) {
        if (tier_ == PatternKnowledge) return fresh(i + 1);
        i++, j = k = 0;
        continue;
      }
      if (j == p.conds.size()) return out_code(i);
      const Cond& c = p.conds[j];
      int r = tier_ == NoKnowledge ? -1 : infer(c.tests[k]);
      if (r < 0) break;
      if (r == int(c.negated)) {  // positive failed, or every test of a negated clause held
        if (c.negated && k + 1 < c.tests.size()) {
          k++;
          continue;
        }
        if (tier_ == PatternKnowledge) return fresh(i + 1);
        i++, j = k = 0;
      } else {
        j++, k = 0;
      }
    }
    std::string key = state_key(i, j, k);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    if (++states_ > budget_) throw OverBudget{};

    const Cond& c = pats_[i].conds[j];
    const WordTest t = c.tests[k];
    int32_t yes, no;
    if (tier_ != NoKnowledge) facts_.push_back({t, ids_[i][j][k], true});
    if (!c.negated) yes = walk(i, j + 1, 0);
    else yes = k + 1 < c.tests.size() ? walk(i, j, k + 1) : fail(i);
    if (tier_ != NoKnowledge) facts_.back().holds = false;
    if (!c.negated) no = fail(i);
    else no = walk(i, j + 1, 0);
    if (tier_ != NoKnowledge) facts_.pop_back();

    int32_t id = make_node(t, yes, no);
    memo_.emplace(std::move(key), id);
    return id;
  }

  static void put32(std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }

  // The position plus the facts that can still decide a test ahead. (Facts that contradict
  // each other mark a path no packet takes, so their order does not matter.)
  std::string state_key(size_t i, size_t j, size_t k) const {
    std::string key;
    put32(key, uint32_t(i));
    put32(key, uint32_t(j));
    put32(key, uint32_t(k));
    if (facts_.empty()) return key;
    std::vector<WordTest> rel;
    for (const Fact& f : facts_)
      if (last_decided_[2 * f.id + f.holds] >= int32_t(i)) {
        WordTest w = f.t;
        w.minlen = w.minlen << 1 | uint32_t(f.holds);
        rel.push_back(w);
      }
    std::sort(rel.begin(), rel.end(), [](const WordTest& a, const WordTest& b) {
      if (a.off != b.off) return a.off < b.off;
      if (a.mask != b.mask) return a.mask < b.mask;
      if (a.value != b.value) return a.value < b.value;
      return a.minlen < b.minlen;
    });
    rel.erase(std::unique(rel.begin(), rel.end()), rel.end());
    for (const WordTest& w : rel) {
      put32(key, w.off);
      put32(key, w.mask);
      put32(key, w.value);
      put32(key, w.minlen);
    }
    return key;
  }

  int32_t make_node(const WordTest& t, int32_t yes, int32_t no) {
    if (yes == no) return yes;
    std::string key;
    put32(key, t.off);
    put32(key, t.mask);
    put32(key, t.value);
    put32(key, t.minlen);
    put32(key, uint32_t(yes));
    put32(key, uint32_t(no));
    if (auto it = unique_.find(key); it != unique_.end()) return it->second;
    int32_t id = int32_t(nodes.size());
    nodes.push_back({t, yes, no});
    unique_.emplace(std::move(key), id);
    return id;
  }

  const std::vector<Pattern>& pats_;
  std::vector<std::vector<std::vector<uint32_t>>> ids_;  // [pattern][condition][test] -> test number
  std::vector<WordTest> tests_;                          // by number
  std::vector<int32_t> last_decided_;                    // [2 * number + holds] -> pattern, or -1
  Tier tier_ = FullKnowledge;
  size_t budget_ = 0, states_ = 0;
  std::vector<Fact> facts_;
  std::unordered_map<std::string, int32_t> memo_, unique_;
};

const char* tier_name(int tier) {
  return tier == 0 ? "knowledge shared across patterns" : tier == 1 ? "knowledge shared within each pattern" : "no shared knowledge";
}

}  // namespace

class Classifier final : public Element {
 public:
  void configure(const Config& conf) override {
    // The compiler parsed the patterns into `clauses`; their text is kept only to print them.
    const json::Value& list = conf.checked("clauses");  // 1 to 4096 patterns: the class facts
    const json::Value& texts = conf.value("patterns");
    if (!texts.is_array() || texts.as_array().size() != list.as_array().size())
      throw ConfigError("config fields 'patterns' and 'clauses' must have one item per pattern each");
    std::vector<Pattern> pats(list.as_array().size());
    uint32_t words = 0;
    for (size_t i = 0; i < pats.size(); i++) {
      const json::Value& t = texts.as_array()[i];
      pats[i].text = t.is_string() ? t.as_string() : t.dump();
      std::string err = build_pattern(list.as_array()[i], i, pats[i], words);
      if (!err.empty()) throw ConfigError(err);
    }
    if (words > kMaxWordTests)
      throw ConfigError("the patterns need " + std::to_string(words) + " word tests; at most " + std::to_string(kMaxWordTests) +
                        " are supported");
    if (int(pats.size()) != noutputs())
      throw ConfigError("has " + std::to_string(pats.size()) + " pattern(s) but " + std::to_string(noutputs()) +
                        " output(s): give one pattern per output");
    npatterns_ = uint32_t(pats.size());

    // The state budget bounds the tree (and the time and memory spent building it).
    size_t tests = 0;
    for (const Pattern& p : pats)
      for (const Cond& c : p.conds) tests += c.tests.size();
    const size_t budget = std::min<size_t>(65536, 1024 + 8 * tests);
    TreeBuilder tb(pats);
    tier_ = 0;
    while (!tb.build(TreeBuilder::Tier(tier_), tier_ == 2 ? SIZE_MAX : budget)) tier_++;
    flatten(tb);
    texts_.clear();
    for (const Pattern& p : pats) texts_.push_back(p.text);

    c_packets_ = counter("packets");
    c_no_match_ = counter("drops_no_match");
  }

  void push(int, Batch& b) override {
    const uint32_t n = b.count;
    if (n == 0) return;
    uint32_t out[kMaxBatch];
    uint32_t nomatch = 0;
    for (uint32_t i = 0; i < n; i++) {
      out[i] = classify(b.pkts[i]);
      nomatch += out[i] == npatterns_;
    }
    count(c_packets_, n);
    if (nomatch) count(c_no_match_, nomatch);
    split(b, out);
  }

  void add_handlers(std::vector<Handler>& h) override {
    h.push_back({"program", [this] { return program(); }, nullptr});
  }

 private:
  // Evaluation form of a node: `fast` = max(minlen, off + 4), the length from which the
  // whole word can be loaded; between minlen and fast the word is read partly (the
  // missing bytes are zero and outside the mask).
  struct Node {
    uint32_t off, fast, minlen, mask, value;
    int32_t yes, no;
    uint32_t pad;
  };
  static_assert(sizeof(Node) == 32);

  uint32_t classify(const Packet* p) const {
    const uint8_t* d = p->data();
    const uint32_t len = p->length();
    const Node* nodes = nodes_.data();
    int32_t c = root_;
    while (c >= 0) {
      const Node& nd = nodes[c];
      uint32_t w = 0;
      bool ok;
      if (len >= nd.fast) {
        std::memcpy(&w, d + nd.off, 4);
        ok = (w & nd.mask) == nd.value;
      } else if (len >= nd.minlen) {
        std::memcpy(&w, d + nd.off, len - nd.off);  // 1..3 bytes: minlen > off
        ok = (w & nd.mask) == nd.value;
      } else {
        ok = false;
      }
      c = ok ? nd.yes : nd.no;
    }
    return uint32_t(-c - 1);
  }

  // One sub-batch per output that receives packets, in arrival order; no-match packets
  // (the pseudo-output after the last pattern) are freed.
  void split(Batch& b, const uint32_t* out) {
    split_push(b, out, npatterns_ + 1, [this](uint32_t o, Batch& sub) {
      if (o == npatterns_) drop(sub);
      else output_push(int(o), sub);
    });
  }

  // Lays the tree out in depth-first order from the root (node 0), yes branches first.
  void flatten(const TreeBuilder& tb) {
    nodes_.clear();
    if (tb.root < 0) {
      root_ = tb.root;
      return;
    }
    std::vector<int32_t> order(tb.nodes.size(), -1);
    std::vector<int32_t> seq, stack{tb.root};
    while (!stack.empty()) {
      int32_t id = stack.back();
      stack.pop_back();
      if (order[size_t(id)] >= 0) continue;
      order[size_t(id)] = int32_t(seq.size());
      seq.push_back(id);
      const TreeNode& t = tb.nodes[size_t(id)];
      if (t.no >= 0) stack.push_back(t.no);
      if (t.yes >= 0) stack.push_back(t.yes);
    }
    auto map = [&](int32_t c) { return c < 0 ? c : order[size_t(c)]; };
    for (int32_t id : seq) {
      const TreeNode& t = tb.nodes[size_t(id)];
      nodes_.push_back({t.t.off, std::max(t.t.minlen, t.t.off + 4), t.t.minlen, t.t.mask, t.t.value, map(t.yes), map(t.no), 0});
    }
    root_ = 0;
  }

  std::string target(int32_t c) const {
    if (c >= 0) return std::to_string(c);
    uint32_t o = uint32_t(-c - 1);
    if (o == npatterns_) return "drop";
    std::string s = "[";
    s += std::to_string(o);
    s += ']';
    return s;
  }

  static std::string word_text(const Node& n) {
    static const char* hx = "0123456789abcdef";
    uint8_t m[4], v[4];
    std::memcpy(m, &n.mask, 4);
    std::memcpy(v, &n.value, 4);
    std::string value, mask;
    bool partial = false;
    for (int b = 0; b < 4; b++)
      for (int s = 4; s >= 0; s -= 4) {
        int mn = (m[b] >> s) & 0xf, vn = (v[b] >> s) & 0xf;
        partial |= mn != 0 && mn != 0xf;
        value += mn == 0 ? '?' : hx[vn];
        mask += hx[mn];
      }
    if (partial) {
      value.clear();
      for (int b = 0; b < 4; b++) value += {hx[v[b] >> 4], hx[v[b] & 0xf]};
      return std::to_string(n.off) + "/" + value + "%" + mask;
    }
    return std::to_string(n.off) + "/" + value;
  }

  std::string program() const {
    std::string s = "patterns:\n";
    for (size_t i = 0; i < texts_.size(); i++) s += "  [" + std::to_string(i) + "] " + texts_[i] + "\n";
    s += "tree: " + std::to_string(nodes_.size()) + " node(s), " + tier_name(tier_) + "\n";
    if (nodes_.empty()) return s + "  every packet -> " + target(root_) + "\n";
    for (size_t i = 0; i < nodes_.size(); i++) {
      const Node& n = nodes_[i];
      std::string line = "  " + std::to_string(i) + ": " + word_text(n);
      line.resize(std::max<size_t>(line.size() + 2, 24), ' ');
      line += "len>=" + std::to_string(n.minlen);
      line.resize(std::max<size_t>(line.size() + 2, 36), ' ');
      s += line + "yes->" + target(n.yes) + "  no->" + target(n.no) + "\n";
    }
    return s;
  }

  std::vector<Node> nodes_;
  int32_t root_ = -1;
  uint32_t npatterns_ = 0;
  int tier_ = 0;
  std::vector<std::string> texts_;
  uint32_t c_packets_ = 0, c_no_match_ = 0;
};

PG_ELEMENT(Classifier);

}  // namespace pg
