// The RTDyldMemoryManager interface driven directly, in the shapes of LLVM's
// unittests/ExecutionEngine/MCJIT/MCJITMemoryManagerTest.cpp, against
// libjitmm.so through the public C++ header.  Prints "N passed, M failed".
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "jitmm.hpp"


static jitmm::Config config(jitmm_strategy strategy) {
  jitmm::Config c{};
  c.strategy = strategy;
  return c;
}

static std::unique_ptr<llvm::RTDyldMemoryManager> mprotect_manager() {
  return jitmm::createRTDyldMemoryManager(config(JITMM_STRATEGY_MPROTECT));
}

static void run(const char *name, bool (*test)()) { record(name, test()); }

static bool basic_allocations() {
  bool ok = true;
  auto mm = mprotect_manager();
  CHECK(mm != nullptr);
  uint8_t *code1 = mm->allocateCodeSection(256, 0, 1, "");
  uint8_t *data1 = mm->allocateDataSection(256, 0, 2, "", true);
  uint8_t *code2 = mm->allocateCodeSection(256, 0, 3, "");
  uint8_t *data2 = mm->allocateDataSection(256, 0, 4, "", false);
  CHECK(code1 && code2 && data1 && data2);
  for (int i = 0; i < 256; ++i) {
    code1[i] = 1;
    code2[i] = 2;
    data1[i] = 3;
    data2[i] = 4;
  }
  for (int i = 0; i < 256; ++i) {
    CHECK(code1[i] == 1);
    CHECK(code2[i] == 2);
    CHECK(data1[i] == 3);
    CHECK(data2[i] == 4);
  }
  std::string error;
  CHECK(!mm->finalizeMemory(&error));
  // Finalizing again with nothing new is a no-op.
  CHECK(!mm->finalizeMemory(&error));
  for (int i = 0; i < 256; ++i)
    CHECK(code1[i] == 1 && data1[i] == 3);
  return ok;
}

static bool large_allocations() {
  bool ok = true;
  auto mm = mprotect_manager();
  uint8_t *code1 = mm->allocateCodeSection(0x100000, 0, 1, "");
  uint8_t *data1 = mm->allocateDataSection(0x100000, 0, 2, "", true);
  uint8_t *code2 = mm->allocateCodeSection(0x100000, 0, 3, "");
  uint8_t *data2 = mm->allocateDataSection(0x100000, 0, 4, "", false);
  CHECK(code1 && code2 && data1 && data2);
  std::memset(code1, 1, 0x100000);
  std::memset(code2, 2, 0x100000);
  std::memset(data1, 3, 0x100000);
  std::memset(data2, 4, 0x100000);
  for (int i = 0; i < 0x100000; i += 4093) {
    CHECK(code1[i] == 1);
    CHECK(code2[i] == 2);
    CHECK(data1[i] == 3);
    CHECK(data2[i] == 4);
  }
  CHECK(!mm->finalizeMemory(nullptr));
  return ok;
}

static bool many_allocations() {
  bool ok = true;
  auto mm = mprotect_manager();
  const int n = 10000;
  std::vector<uint8_t *> code(n), data(n);
  for (int i = 0; i < n; ++i) {
    code[i] = mm->allocateCodeSection(32, 0, 1, "");
    data[i] = mm->allocateDataSection(32, 0, 2, "", i % 2);
    CHECK(code[i] && data[i]);
    std::memset(code[i], i & 0xff, 32);
    std::memset(data[i], (i + 1) & 0xff, 32);
  }
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < 32; ++j) {
      CHECK(code[i][j] == (i & 0xff));
      CHECK(data[i][j] == ((i + 1) & 0xff));
    }
  CHECK(!mm->finalizeMemory(nullptr));
  return ok;
}

static bool many_varied_allocations() {
  bool ok = true;
  auto mm = mprotect_manager();
  std::mt19937 rng(1234);
  struct Block {
    uint8_t *p;
    size_t size;
    uint8_t fill;
  };
  std::vector<Block> blocks;
  for (int i = 0; i < 4000; ++i) {
    size_t size = 1 + rng() % 1024;
    unsigned align = 1u << (rng() % 8);
    uint8_t *p = (i % 3 == 0) ? mm->allocateCodeSection(size, align, i, "")
                              : mm->allocateDataSection(size, align, i, "", i % 3 == 1);
    CHECK(p != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(p) % align == 0);
    std::memset(p, i & 0xff, size);
    blocks.push_back({p, size, uint8_t(i & 0xff)});
  }
  for (const Block &b : blocks)
    for (size_t j = 0; j < b.size; ++j)
      if (b.p[j] != b.fill) {
        CHECK(b.p[j] == b.fill);
        break;
      }
  CHECK(!mm->finalizeMemory(nullptr));
  return ok;
}

static bool reserved_space_is_contiguous() {
  bool ok = true;
  auto mm = mprotect_manager();
  CHECK(mm->needsToReserveAllocationSpace());
  mm->reserveAllocationSpace(3 * 64, llvm::Align(16), 2 * 64, llvm::Align(16), 2 * 64,
                             llvm::Align(16));
  uint8_t *c1 = mm->allocateCodeSection(64, 16, 1, ".text");
  uint8_t *c2 = mm->allocateCodeSection(64, 16, 2, ".text.b");
  uint8_t *c3 = mm->allocateCodeSection(64, 16, 3, ".text.c");
  uint8_t *r1 = mm->allocateDataSection(64, 16, 4, ".rodata", true);
  uint8_t *r2 = mm->allocateDataSection(64, 16, 5, ".rodata.b", true);
  uint8_t *w1 = mm->allocateDataSection(64, 16, 6, ".data", false);
  uint8_t *w2 = mm->allocateDataSection(64, 16, 7, ".bss", false);
  CHECK(c2 == c1 + 64 && c3 == c2 + 64);
  CHECK(r2 == r1 + 64);
  CHECK(w2 == w1 + 64);
  CHECK(!mm->finalizeMemory(nullptr));
  return ok;
}

// mov eax, 42; ret (x86-64) / movz w0,#42; ret (AArch64)
static bool finalized_code_runs_in_place() {
  bool ok = true;
#if defined(__x86_64__) || defined(__aarch64__)
  auto mm = mprotect_manager();
  uint8_t *code = mm->allocateCodeSection(16, 16, 1, ".text");
#if defined(__x86_64__)
  const uint8_t bytes[] = {0xb8, 42, 0, 0, 0, 0xc3};
#else
  const uint8_t bytes[] = {0x40, 0x05, 0x80, 0x52, 0xc0, 0x03, 0x5f, 0xd6};
#endif
  std::memcpy(code, bytes, sizeof bytes);
  std::string error;
  CHECK(!mm->finalizeMemory(&error));
  auto fn = reinterpret_cast<int (*)()>(code);
  CHECK(fn() == 42);
#endif
  return ok;
}

static bool dual_map_without_mapping_is_an_error() {
  bool ok = true;
  auto mm = jitmm::createRTDyldMemoryManager(config(JITMM_STRATEGY_DUALMAP));
  CHECK(mm != nullptr);
  uint8_t *code = mm->allocateCodeSection(16, 16, 1, ".text");
  CHECK(code != nullptr);
  std::string error;
  CHECK(mm->finalizeMemory(&error));
  CHECK(error.find("notifyObjectLoaded") != std::string::npos);
  return ok;
}

static bool bad_input_is_refused() {
  bool ok = true;
  auto mm = mprotect_manager();
  CHECK(mm->allocateCodeSection(64, 3, 1, "") == nullptr); // not a power of two
  CHECK(std::strstr(jitmm_last_error(), "alignment") != nullptr);
  // Half the address space, on 32-bit targets too.
  CHECK(mm->allocateDataSection(~uintptr_t(0) / 2, 16, 2, "", false) == nullptr);
  CHECK(std::strlen(jitmm_last_error()) > 0);
  jitmm::Config bad{};
  bad.strategy = static_cast<jitmm_strategy>(7);
  CHECK(jitmm::createRTDyldMemoryManager(bad) == nullptr);
  CHECK(std::strstr(jitmm_last_error(), "strategy") != nullptr);
  CHECK(jitmm_stats_get(nullptr) == -1);
  return ok;
}

int main() {
  jitmm_stats before = stats();
  run("basic_allocations", basic_allocations);
  run("large_allocations", large_allocations);
  run("many_allocations", many_allocations);
  run("many_varied_allocations", many_varied_allocations);
  run("reserved_space_is_contiguous", reserved_space_is_contiguous);
  run("finalized_code_runs_in_place", finalized_code_runs_in_place);
  run("dual_map_without_mapping_is_an_error", dual_map_without_mapping_is_an_error);
  run("bad_input_is_refused", bad_input_is_refused);
  jitmm_stats after = stats();
  bool ok = after.objects_live == before.objects_live && live_bytes(after) == 0;
  std::printf("objects_live %llu, bytes_live_code %llu\n", (unsigned long long)after.objects_live,
              (unsigned long long)after.bytes_live_code);
  record("everything_freed", ok);
  return summary();
}
