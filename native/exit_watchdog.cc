// The exit watchdog of `pktgraph run` (see exit_watchdog.h).
#include "exit_watchdog.h"

#include <poll.h>
#include <semaphore.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <mutex>
#include <thread>

#include "clock.h"

namespace pg::exit_watchdog {
namespace {

constexpr int kSignals[2] = {SIGINT, SIGTERM};
struct sigaction g_previous[2];  // Node's handlers, called after ours

// Written by the signal handler: only atomics and sem_post, which are async-signal-safe.
std::atomic<bool> g_armed{false};
std::atomic<int> g_first{0};  // the first signal's number while armed, 0 for none
std::atomic<int> g_count{0};  // signals while armed
sem_t g_wake;

std::mutex g_mu;  // the rest, between arm/disarm and the watchdog thread
bool g_started = false;
Options g_opt;
ino_t g_ino = 0;
int64_t g_duration_end = -1;  // monotonic ns; -1: no --duration
int64_t g_signal_at = -1;     // when the watchdog saw the first signal

void on_signal(int sig, siginfo_t* info, void* ctx) {
  const int saved = errno;
  if (g_armed.load(std::memory_order_relaxed)) {
    int none = 0;
    g_first.compare_exchange_strong(none, sig);
    g_count.fetch_add(1);
    sem_post(&g_wake);
  }
  errno = saved;
  const struct sigaction& p = g_previous[sig == SIGINT ? 0 : 1];
  if (p.sa_flags & SA_SIGINFO) {
    if (p.sa_sigaction) p.sa_sigaction(sig, info, ctx);
  } else if (p.sa_handler != SIG_DFL && p.sa_handler != SIG_IGN) {
    p.sa_handler(sig);
  }
}

// Remove the control socket (unless another's has replaced it), say why, and end the process.
[[noreturn]] void finish(int status, const char* why) {
  struct stat st;
  if (!g_opt.socket_path.empty() && lstat(g_opt.socket_path.c_str(), &st) == 0 && st.st_ino == g_ino)
    unlink(g_opt.socket_path.c_str());
  // Only when stderr has room: a line this short then goes out whole without blocking.
  pollfd pfd{2, POLLOUT, 0};
  if (why && poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT)) {
    ssize_t ignored = ::write(2, why, strlen(why));
    (void)ignored;
  }
  _exit(status);
}

void watch() {
  static char why[256];
  for (;;) {
    int64_t deadline = INT64_MAX;
    int status = 0;
    const char* message = nullptr;
    {
      std::lock_guard<std::mutex> lock(g_mu);
      const int64_t now = int64_t(monotonic_ns());
      const int first = g_first.load();
      if (g_armed.load()) {
        if (first && g_signal_at < 0) g_signal_at = now;
        const int64_t grace = g_opt.grace_ms * 1000000;
        if (first && g_count.load() >= 2) {
          deadline = now;  // a second signal: at once, quietly (as the JavaScript side does)
          status = 128 + first;
        } else if (first) {
          deadline = g_signal_at + grace;
          status = 128 + first;
          snprintf(why, sizeof why, "pktgraph: still busy %lld ms after %s (the JavaScript thread is in a long call); ended without the summary\n",
                   (long long)g_opt.grace_ms, first == SIGINT ? "Ctrl-C" : "SIGTERM");
          message = why;
        }
        if (g_duration_end >= 0 && g_duration_end + grace < deadline) {
          deadline = g_duration_end + grace;
          status = 1;
          snprintf(why, sizeof why, "pktgraph: still busy %lld ms after --duration ended (the JavaScript thread is in a long call); ended without the summary\n",
                   (long long)g_opt.grace_ms);
          message = why;
        }
        if (now >= deadline) finish(status, message);
      }
    }
    if (deadline == INT64_MAX) {
      while (sem_wait(&g_wake) != 0 && errno == EINTR) {
      }
    } else {
      timespec at{time_t(deadline / 1000000000), long(deadline % 1000000000)};
      sem_clockwait(&g_wake, CLOCK_MONOTONIC, &at);
    }
  }
}

}  // namespace

void arm(const Options& o) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_started) {
    sem_init(&g_wake, 0, 0);
    std::thread(watch).detach();
    g_started = true;
  }
  g_opt = o;
  struct stat st;
  g_ino = !o.socket_path.empty() && lstat(o.socket_path.c_str(), &st) == 0 ? st.st_ino : 0;
  if (g_opt.socket_path.empty() || !g_ino) g_opt.socket_path.clear();
  g_duration_end = o.duration_ms >= 0 ? int64_t(monotonic_ns()) + o.duration_ms * 1000000 : -1;
  g_first = 0;
  g_count = 0;
  g_signal_at = -1;
  // In front of Node's handlers (installed again whenever Node has installed its own since).
  for (int i = 0; i < 2; i++) {
    struct sigaction now;
    sigaction(kSignals[i], nullptr, &now);
    if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_signal) continue;
    g_previous[i] = now;
    struct sigaction mine{};
    mine.sa_sigaction = on_signal;
    mine.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&mine.sa_mask);
    sigaction(kSignals[i], &mine, nullptr);
  }
  g_armed = true;
  sem_post(&g_wake);
}

void disarm() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_started) return;
  g_armed = false;
  // Node's handlers alone again, where ours is still in front of them.
  for (int i = 0; i < 2; i++) {
    struct sigaction now;
    sigaction(kSignals[i], nullptr, &now);
    if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_signal) sigaction(kSignals[i], &g_previous[i], nullptr);
  }
  sem_post(&g_wake);
}

}  // namespace pg::exit_watchdog
