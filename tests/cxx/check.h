// A tiny test harness shared by the C++ client tests: CHECK / CHECK_OK
// inside a `bool ok` test function, run() counting results, and the
// closing "N passed, M failed" line.
#ifndef JITMM_TEST_CHECK_H
#define JITMM_TEST_CHECK_H

#include <cstdio>

static int passed = 0, failed = 0;

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

#endif
