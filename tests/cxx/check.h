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
static inline int wx_mappings() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(maps, line)) {
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%*lx-%*lx %7s", perms) == 1 && std::strchr(perms, 'w') &&
        std::strchr(perms, 'x')) {
      std::printf("W+X mapping: %s\n", line.c_str());
      ++n;
    }
  }
  return n;
}

#endif
