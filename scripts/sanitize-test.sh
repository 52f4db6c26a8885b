#!/usr/bin/env bash
# Runs tests against a native engine built with AddressSanitizer and UndefinedBehaviorSanitizer.
# The build happens in a scratch copy of the checkout (so the normal build is untouched); any
# sanitizer error aborts the test process, which fails the test.
#   bash scripts/sanitize-test.sh [TEST_FILE ...]     (default: every test that needs no root)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ -d "$root/node_modules" ] || { echo "sanitize-test: run npm install first" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/pktgraph-sanitize-XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$work"
ln -s "$root/node_modules" "$work/node_modules"
cd "$work"
PKTGRAPH_SANITIZE=1 node scripts/build.mjs native
node scripts/build.mjs ts
if [ $# -eq 0 ]; then
  set -- test/basic-elements.test.ts test/classifier.test.ts test/compiler.test.ts test/engine.test.ts \
    test/etherswitch.test.ts test/fib.test.ts test/flowsource.test.ts test/ip-elements.test.ts \
    test/iplookup.test.ts test/pcap.test.ts test/scheduling.test.ts test/standard-elements.test.ts test/strip.test.ts
fi
export LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)"
# Node itself is not instrumented and keeps memory to the end: leak checking would only report it.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
exec node node_modules/tap/dist/esm/run.mjs --timeout 600 "$@"
