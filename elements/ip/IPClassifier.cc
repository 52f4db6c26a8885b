// IPClassifier: sends each packet to the output of the first tcpdump expression it
// matches. Documentation: IPClassifier.ts; the program it runs: filter_program.h.
#include "filter_program.h"

namespace pg {

class IPClassifier final : public filter::FilterElement {};

PG_ELEMENT(IPClassifier);

}  // namespace pg
