// A tiny test harness shared by the C++ client tests: CHECK / CHECK_OK
// inside a `bool ok` test function, record() counting results, the closing
// "N passed, M failed" line, and the jitmm checks every test makes.
#ifndef JITMM_TEST_CHECK_H
#define JITMM_TEST_CHECK_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "jitmm.h"

static int passed = 0, failed = 0;

// The strategies a test runs its cases under: JITMM_TEST_STRATEGIES (comma
// list of dualmap, mprotect), both by default, as for the Rust tests
// (tests/common/llvm.rs).
static std::vector<jitmm_strategy> test_strategies() {
  const char *env = std::getenv("JITMM_TEST_STRATEGIES");
  std::stringstream list(env ? env : "dualmap,mprotect");
  std::vector<jitmm_strategy> strategies;
  for (std::string name; std::getline(list, name, ',');) {
    if (name == "dualmap")
      strategies.push_back(JITMM_STRATEGY_DUALMAP);
    else if (name == "mprotect")
      strategies.push_back(JITMM_STRATEGY_MPROTECT);
    else
      std::fprintf(stderr, "JITMM_TEST_STRATEGIES: unknown strategy %s\n", name.c_str());
  }
  return strategies;
}

#define CHECK(cond)                                                                            \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                             \
      ok = false;                                                                              \
    }                                                                                          \
  } while (0)

// Checks that an llvm::Error is a success, printing its message if not.
#define CHECK_OK(err)                                                                          \
  do {                                                                                         \
    if (llvm::Error e_ = (err)) {                                                              \
      std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__,                                     \
                  llvm::toString(std::move(e_)).c_str());                                      \
      ok = false;                                                                              \
    }                                                                                          \
  } while (0)

// Counts one test's result (`ok`) and prints it.
static inline void record(const char *name, bool ok) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", name);
  (ok ? passed : failed)++;
}

// The closing line; the process exit code.
static inline int summary() {
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

// jitmm's process-wide counters now.
static inline jitmm_stats stats() {
  jitmm_stats s = JITMM_STATS_INIT;
  jitmm_stats_get(&s);
  return s;
}

static inline uint64_t live_bytes(const jitmm_stats &s) {
  return s.bytes_live_code + s.bytes_live_rodata + s.bytes_live_rwdata;
}

// Mappings of the process that are writable and executable at once
// (printed); jitmm must never make one.
// Stacks are left out when the loader made them executable because a library
// asked for it (PT_GNU_STACK RWE, e.g. Debian's mips64el libLLVM.so.19.1): the
// main stack is then rwx, and so is every thread stack (an anonymous mapping
// right above glibc's one-page ---p guard), as in tests/common/mod.rs.
static inline int wx_mappings() {
  struct Mapping {
    unsigned long lo, hi;
    std::string perms, line;
    bool anonymous;
  };
  std::vector<Mapping> maps;
  std::ifstream file("/proc/self/maps");
  bool stacks_executable = false;
  for (std::string line; std::getline(file, line);) {
    Mapping m{0, 0, "", line, false};
    char perms[8] = {};
    int end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx %7s %*s %*s %*s%n", &m.lo, &m.hi, perms, &end) < 3)
      continue;
    m.perms = perms;
    m.anonymous = line.find_first_not_of(' ', end) == std::string::npos;
    bool wx = m.perms.find('w') != std::string::npos && m.perms.find('x') != std::string::npos;
    if (wx && line.size() >= 7 && line.compare(line.size() - 7, 7, "[stack]") == 0)
      stacks_executable = true;
    maps.push_back(m);
  }
  long page = sysconf(_SC_PAGESIZE);
  int n = 0;
  for (size_t i = 0; i < maps.size(); ++i) {
    const Mapping &m = maps[i];
    if (m.perms.find('w') == std::string::npos || m.perms.find('x') == std::string::npos)
      continue;
    bool stack = m.line.find("[stack]") != std::string::npos ||
                 (m.anonymous && i > 0 && maps[i - 1].perms == "---p" &&
                  maps[i - 1].hi == m.lo && maps[i - 1].hi - maps[i - 1].lo == (unsigned long)page);
    if (stacks_executable && stack)
      continue;
    std::printf("W+X mapping: %s\n", m.line.c_str());
    ++n;
  }
  return n;
}

#endif
