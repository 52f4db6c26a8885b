// IPFilter: allow/deny/output rules over tcpdump expressions, the first matching rule
// deciding. Documentation: IPFilter.ts; the program it runs: filter_program.h.
#include "filter_program.h"

namespace pg {

class IPFilter final : public filter::FilterElement {
 protected:
  bool counts_rule_drops() const override { return true; }
};

PG_ELEMENT(IPFilter);

}  // namespace pg
