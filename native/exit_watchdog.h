// The exit watchdog of `pktgraph run`: Ctrl-C, SIGTERM and --duration end a run within a
// second even while the JavaScript thread is inside a long native call (a read handler
// formatting a whole routing table takes up to about a second), when Node cannot run its
// signal handlers or timers. A thread of its own waits for the signals (a handler chained in
// front of Node's, which still runs) and for the duration's end; when the JavaScript side has
// not ended the process by the deadline, the watchdog removes the control socket and ends it
// with `_exit`: 128 + the signal's number after a signal (at once after a second one), 1 after
// --duration, with one line on stderr saying why the summary is missing. The JavaScript side
// ends the process itself well before the deadline whenever it can, summary printed.
#pragma once

#include <cstdint>
#include <string>

namespace pg::exit_watchdog {

struct Options {
  int64_t grace_ms = 1000;     // after the first signal (or the duration's end) before acting
  int64_t duration_ms = -1;    // the run's --duration from now; -1: none
  std::string socket_path;     // removed before exiting when it is still this inode's; '' for none
};

// Install the signal handlers (call after Node's own are installed: process.on('SIGINT'))
// and start the watchdog, or change its options when it already runs.
void arm(const Options& o);
// Stop acting (the run ended in-process, say a test calling the command); signals pass to
// Node's handlers alone again.
void disarm();

}  // namespace pg::exit_watchdog
