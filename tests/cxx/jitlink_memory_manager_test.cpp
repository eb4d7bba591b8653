// The JITLinkMemoryManager interface driven directly with hand-built
// LinkGraphs, in the shapes of LLVM's
// unittests/ExecutionEngine/JITLink/InProcessMemoryManagerTest.cpp, against
// libjitmm.so through the public C++ header.  Every case runs under DualMap
// and Mprotect.  Prints "N passed, M failed".
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <llvm/ExecutionEngine/JITLink/JITLink.h>
#include <llvm/ExecutionEngine/Orc/Shared/AllocationActions.h>
#include <llvm/ExecutionEngine/Orc/Shared/WrapperFunctionUtils.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/Triple.h>

#include "check.h"
#include "compat.h"
#include "jitmm.hpp"

using namespace llvm;
using namespace llvm::jitlink;
using namespace llvm::orc;
using namespace llvm::orc::shared;

static jitmm_strategy strategy = JITMM_STRATEGY_DUALMAP;



static jitmm::Config config() {
  jitmm::Config c{};
  c.strategy = strategy;
  return c;
}

static std::unique_ptr<JITLinkMemoryManager> manager() {
  return jitmm::createJITLinkMemoryManager(config());
}

static std::unique_ptr<LinkGraph> graph(const char *name = "test") {
  return std::make_unique<LinkGraph>(
      JITMM_LINK_GRAPH_ARGS(name, Triple(sys::getProcessTriple()), getGenericEdgeKindName));
}

// The permissions ("r-xp", ...) of the mapping containing addr.
static std::string perms_at(uint64_t addr) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long lo = 0, hi = 0;
    char perms[8] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %7s", &lo, &hi, perms) == 3 && addr >= lo &&
        addr < hi)
      return perms;
  }
  return "";
}

// Machine code of `int f() { return 42; }` for the host, if known.
static std::vector<char> return42() {
#if defined(__x86_64__) || defined(__i386__)
  return {'\xb8', 42, 0, 0, 0, '\xc3'};
#elif defined(__aarch64__)
  const uint32_t words[] = {0x52800540, 0xd65f03c0}; // movz w0, #42; ret
  std::vector<char> code(sizeof(words));
  std::memcpy(code.data(), words, sizeof(words));
  return code;
#else
  return {};
#endif
}

// Content copied into the graph (a block only references its content).
static ArrayRef<char> content(LinkGraph &g, const std::vector<char> &bytes) {
  return g.allocateContent(ArrayRef<char>(bytes));
}

// Host code returning 42, or 16 zero bytes where none is known.
static std::vector<char> some_code() {
  auto code = return42();
  return code.empty() ? std::vector<char>(16, '\0') : code;
}

// ---- Allocation actions that record their calls --------------------------

static std::mutex log_mutex;
static std::vector<std::string> action_log;
static std::string failing_action;

static JITMM_C_WRAPPER_FUNCTION_RESULT record_action(const char *data, size_t size) {
  return WrapperFunction<SPSError(SPSString)>::handle(
             data, size,
             [](std::string name) -> Error {
               std::lock_guard<std::mutex> lock(log_mutex);
               action_log.push_back(name);
               if (name == failing_action)
                 return make_error<StringError>("injected failure in " + name,
                                                inconvertibleErrorCode());
               return Error::success();
             })
      .release();
}

static WrapperFunctionCall action(const std::string &name) {
  return cantFail(
      WrapperFunctionCall::Create<SPSArgList<SPSString>>(ExecutorAddr::fromPtr(&record_action), name));
}

static void add_actions(LinkGraph &g, const std::string &prefix, int n) {
  for (int i = 1; i <= n; ++i)
    g.allocActions().push_back({action(prefix + "F" + std::to_string(i)),
                                action(prefix + "D" + std::to_string(i))});
}

static std::string joined_log() {
  std::lock_guard<std::mutex> lock(log_mutex);
  std::string out;
  for (auto &s : action_log)
    out += (out.empty() ? "" : ",") + s;
  return out;
}

static void clear_log() {
  std::lock_guard<std::mutex> lock(log_mutex);
  action_log.clear();
  failing_action.clear();
}

// Reads the value an action stored for a finalize-lifetime block.
static std::atomic<uint64_t> seen_value{0};

static JITMM_C_WRAPPER_FUNCTION_RESULT read_u64_action(const char *data, size_t size) {
  return WrapperFunction<SPSError(SPSExecutorAddr)>::handle(data, size,
                                                            [](ExecutorAddr a) -> Error {
                                                              seen_value = *a.toPtr<uint64_t *>();
                                                              return Error::success();
                                                            })
      .release();
}

// ---- Cases ----------------------------------------------------------------

static void run(const char *name, bool (*test)()) {
  std::string label = std::string(name) +
                      (strategy == JITMM_STRATEGY_DUALMAP ? " (dualmap)" : " (mprotect)");
  record(label.c_str(), test());
}

// One RW block: allocate, write through working memory, finalize, read at
// the executor address, deallocate; the core's counters return to start.
static bool alloc_finalize_free() {
  bool ok = true;
  auto before = stats();
  auto mm = manager();
  CHECK(mm != nullptr);
  if (!mm)
    return false;
  const char hello[] = "hello, jitlink";
  auto g = graph();
  auto &sec = g->createSection("__data", MemProt::Read | MemProt::Write);
  auto &b = g->createContentBlock(sec, ArrayRef<char>(hello, sizeof(hello)), ExecutorAddr(), 8, 0);
  auto alloc = mm->allocate(nullptr, *g);
  CHECK_OK(alloc.takeError());
  if (!alloc)
    return false;
  CHECK(b.getAddress() != ExecutorAddr());
  CHECK(b.getAddress().getValue() % 8 == 0);
  CHECK(std::memcmp(b.getContent().data(), hello, sizeof(hello)) == 0);
  // Fixups write through the working memory.
  b.getMutableContent(*g)[0] = 'H';
  CHECK(stats().objects_live == before.objects_live + 1);
  auto fa = (*alloc)->finalize();
  CHECK_OK(fa.takeError());
  if (!fa)
    return false;
  CHECK(std::memcmp(b.getAddress().toPtr<char *>(), "Hello, jitlink", sizeof(hello)) == 0);
  CHECK_OK(mm->deallocate(std::vector<JITLinkMemoryManager::FinalizedAlloc>{}));
  std::vector<JITLinkMemoryManager::FinalizedAlloc> allocs;
  allocs.push_back(std::move(*fa));
  CHECK_OK(mm->deallocate(std::move(allocs)));
  auto after = stats();
  CHECK(after.objects_live == before.objects_live);
  CHECK(live_bytes(after) == live_bytes(before));
  return ok;
}

// Code, read-only and read-write segments: each lands in a mapping with its
// final protection, the code runs, and nothing is writable and executable.
static bool several_protections() {
  bool ok = true;
  auto before = stats();
  auto mm = manager();
  auto g = graph();
  auto code = some_code();
  const char ro[] = "read only";
  const char rw[] = "read write";
  auto &text = g->createSection("__text", MemProt::Read | MemProt::Exec);
  auto &rodata = g->createSection("__rodata", MemProt::Read);
  auto &data = g->createSection("__data", MemProt::Read | MemProt::Write);
  auto &tb = g->createContentBlock(text, code, ExecutorAddr(), 16, 0);
  auto &rb = g->createContentBlock(rodata, ArrayRef<char>(ro, sizeof(ro)), ExecutorAddr(), 8, 0);
  auto &db = g->createContentBlock(data, ArrayRef<char>(rw, sizeof(rw)), ExecutorAddr(), 8, 0);
  // A page-aligned block in the same read-only segment.
  auto &pb = g->createContentBlock(rodata, ArrayRef<char>(ro, sizeof(ro)), ExecutorAddr(), 4096, 0);
  auto alloc = mm->allocate(nullptr, *g);
  CHECK_OK(alloc.takeError());
  if (!alloc)
    return false;
  CHECK(pb.getAddress().getValue() % 4096 == 0);
  // All within 2 GiB of each other (the small code model).
  uint64_t lo = std::min({tb.getAddress().getValue(), rb.getAddress().getValue(),
                          db.getAddress().getValue(), pb.getAddress().getValue()});
  uint64_t hi = std::max({tb.getAddress().getValue(), rb.getAddress().getValue(),
                          db.getAddress().getValue(), pb.getAddress().getValue()});
  CHECK(hi - lo < (uint64_t(1) << 31));
  auto fa = (*alloc)->finalize();
  CHECK_OK(fa.takeError());
  if (!fa)
    return false;
  std::string tp = perms_at(tb.getAddress().getValue());
  std::string rp = perms_at(rb.getAddress().getValue());
  std::string dp = perms_at(db.getAddress().getValue());
  CHECK(tp.size() == 4 && tp[0] == 'r' && tp[1] == '-' && tp[2] == 'x');
  CHECK(rp.size() == 4 && rp[0] == 'r' && rp[1] == '-' && rp[2] == '-');
  CHECK(dp.size() == 4 && dp[0] == 'r' && dp[1] == 'w' && dp[2] == '-');
  if (!(ok))
    std::printf("  perms: text %s, rodata %s, data %s\n", tp.c_str(), rp.c_str(), dp.c_str());
  CHECK(std::memcmp(rb.getAddress().toPtr<char *>(), ro, sizeof(ro)) == 0);
  CHECK(std::memcmp(pb.getAddress().toPtr<char *>(), ro, sizeof(ro)) == 0);
  CHECK(std::memcmp(db.getAddress().toPtr<char *>(), rw, sizeof(rw)) == 0);
  db.getAddress().toPtr<char *>()[0] = 'R';
  if (!return42().empty()) {
    auto f = tb.getAddress().toPtr<int (*)()>();
    CHECK(f() == 42);
  }
  CHECK(wx_mappings() == 0);
  CHECK_OK(mm->deallocate(std::move(*fa)));
  CHECK(stats().objects_live == before.objects_live);
  CHECK(live_bytes(stats()) == live_bytes(before));
  return ok;
}

// Zero-fill blocks read as zero even where a previous graph left data, and
// a segment made only of zero-fill gets memory too.
static bool zero_fill_segments() {
  bool ok = true;
  auto mm = manager();
  const size_t size = 3000;
  // Leave non-zero bytes behind.
  {
    auto g = graph("dirty");
    auto &sec = g->createSection("__data", MemProt::Read | MemProt::Write);
    auto &b = g->createMutableContentBlock(sec, size, ExecutorAddr(), 16, 0, false);
    std::memset(b.getMutableContent(*g).data(), 0xAA, size);
    auto alloc = mm->allocate(nullptr, *g);
    CHECK_OK(alloc.takeError());
    if (!alloc)
      return false;
    auto fa = (*alloc)->finalize();
    CHECK_OK(fa.takeError());
    if (!fa)
      return false;
    CHECK(b.getAddress().toPtr<unsigned char *>()[size - 1] == 0xAA);
    CHECK_OK(mm->deallocate(std::move(*fa)));
  }
  auto g = graph("zero");
  const char text[] = "content";
  auto &mixed = g->createSection("__mixed", MemProt::Read | MemProt::Write);
  auto &cb = g->createContentBlock(mixed, ArrayRef<char>(text, sizeof(text)), ExecutorAddr(), 8, 0);
  auto &zb = g->createZeroFillBlock(mixed, size, ExecutorAddr(), 16, 0);
  auto &bss = g->createSection("__bss", MemProt::Read | MemProt::Write);
  auto &zb2 = g->createZeroFillBlock(bss, size, ExecutorAddr(), 16, 0);
  auto &robss = g->createSection("__robss", MemProt::Read);
  auto &zb3 = g->createZeroFillBlock(robss, 100, ExecutorAddr(), 16, 0);
  auto alloc = mm->allocate(nullptr, *g);
  CHECK_OK(alloc.takeError());
  if (!alloc)
    return false;
  auto fa = (*alloc)->finalize();
  CHECK_OK(fa.takeError());
  if (!fa)
    return false;
  CHECK(std::memcmp(cb.getAddress().toPtr<char *>(), text, sizeof(text)) == 0);
  // Zero-fill blocks follow content blocks in their segment.
  CHECK(zb.getAddress() > cb.getAddress());
  for (Block *b : {&zb, &zb2, &zb3}) {
    auto *p = b->getAddress().toPtr<unsigned char *>();
    CHECK(p != nullptr);
    CHECK(std::all_of(p, p + b->getSize(), [](unsigned char c) { return c == 0; }));
  }
  // Zero-fill RW memory is writable.
  zb2.getAddress().toPtr<unsigned char *>()[size - 1] = 1;
  CHECK_OK(mm->deallocate(std::move(*fa)));
  return ok;
}

// Finalize actions run once each, in order, after protections are final;
// dealloc actions run once each, in reverse order, at deallocate; with two
// allocations in one call, the last one's go first.
static bool finalize_and_dealloc_actions() {
  bool ok = true;
  clear_log();
  auto mm = manager();
  auto g1 = graph("one");
  auto &s1 = g1->createSection("__data", MemProt::Read | MemProt::Write);
  g1->createZeroFillBlock(s1, 64, ExecutorAddr(), 8, 0);
  add_actions(*g1, "a", 3);
  auto g2 = graph("two");
  auto &s2 = g2->createSection("__data", MemProt::Read | MemProt::Write);
  g2->createZeroFillBlock(s2, 64, ExecutorAddr(), 8, 0);
  add_actions(*g2, "b", 2);
  // A finalize-only pair and a dealloc-only pair.
  g2->allocActions().push_back({action("bF3"), WrapperFunctionCall()});
  g2->allocActions().push_back({WrapperFunctionCall(), action("bD4")});

  auto a1 = mm->allocate(nullptr, *g1);
  auto a2 = mm->allocate(nullptr, *g2);
  CHECK_OK(a1.takeError());
  CHECK_OK(a2.takeError());
  if (!a1 || !a2)
    return false;
  CHECK(joined_log().empty());
  auto f1 = (*a1)->finalize();
  CHECK_OK(f1.takeError());
  CHECK(joined_log() == "aF1,aF2,aF3");
  auto f2 = (*a2)->finalize();
  CHECK_OK(f2.takeError());
  if (!f1 || !f2)
    return false;
  CHECK(joined_log() == "aF1,aF2,aF3,bF1,bF2,bF3");
  CHECK(g1->allocActions().empty());
  std::vector<JITLinkMemoryManager::FinalizedAlloc> allocs;
  allocs.push_back(std::move(*f1));
  allocs.push_back(std::move(*f2));
  CHECK_OK(mm->deallocate(std::move(allocs)));
  std::string log = joined_log();
  CHECK(log == "aF1,aF2,aF3,bF1,bF2,bF3,bD4,bD2,bD1,aD3,aD2,aD1");
  if (!ok)
    std::printf("  log: %s\n", log.c_str());
  return ok;
}

// A failing finalize action: finalize reports it, the dealloc actions of the
// actions before it run (in reverse), the rest never run, memory is freed.
static bool failing_finalize_action() {
  bool ok = true;
  clear_log();
  auto before = stats();
  auto mm = manager();
  auto g = graph();
  auto &text = g->createSection("__text", MemProt::Read | MemProt::Exec);
  g->createContentBlock(text, content(*g, some_code()), ExecutorAddr(), 16, 0);
  add_actions(*g, "", 4);
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    failing_action = "F3";
  }
  auto alloc = mm->allocate(nullptr, *g);
  CHECK_OK(alloc.takeError());
  if (!alloc)
    return false;
  auto fa = (*alloc)->finalize();
  CHECK(!fa);
  if (!fa) {
    std::string message = toString(fa.takeError());
    CHECK(message.find("injected failure in F3") != std::string::npos);
  }
  CHECK(joined_log() == "F1,F2,F3,D2,D1");
  CHECK(stats().objects_live == before.objects_live);
  CHECK(live_bytes(stats()) == live_bytes(before));
  clear_log();
  return ok;
}

// A failing dealloc action is reported, the others still run, memory is
// still freed.
static bool failing_dealloc_action() {
  bool ok = true;
  clear_log();
  auto before = stats();
  auto mm = manager();
  auto g = graph();
  auto &sec = g->createSection("__data", MemProt::Read | MemProt::Write);
  g->createZeroFillBlock(sec, 16, ExecutorAddr(), 8, 0);
  add_actions(*g, "", 3);
  auto alloc = mm->allocate(nullptr, *g);
  CHECK_OK(alloc.takeError());
  if (!alloc)
    return false;
  auto fa = (*alloc)->finalize();
  CHECK_OK(fa.takeError());
  if (!fa)
    return false;
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    failing_action = "D2";
  }
  Error err = mm->deallocate(std::move(*fa));
  CHECK(bool(err));
  if (err) {
    std::string message = toString(std::move(err));
    CHECK(message.find("injected failure in D2") != std::string::npos);
  }
  CHECK(joined_log() == "F1,F2,F3,D3,D2,D1");
  CHECK(stats().objects_live == before.objects_live);
  clear_log();
  return ok;
}

// Abandoning an allocation frees it and runs no action.
static bool abandon() {
  bool ok = true;
  clear_log();
  auto before = stats();
  auto mm = manager();
  auto g = graph();
  auto &text = g->createSection("__text", MemProt::Read | MemProt::Exec);
  g->createContentBlock(text, content(*g, std::vector<char>(100, '\xcc')), ExecutorAddr(), 16, 0);
  auto &sec = g->createSection("__data", MemProt::Read | MemProt::Write);
  g->createZeroFillBlock(sec, 5000, ExecutorAddr(), 8, 0);
  add_actions(*g, "", 2);
  auto alloc = mm->allocate(nullptr, *g);
  CHECK_OK(alloc.takeError());
  if (!alloc)
    return false;
  CHECK(stats().objects_live > before.objects_live);
  CHECK(live_bytes(stats()) > live_bytes(before));
  bool called = false;
  (*alloc)->abandon([&](Error err) {
    called = true;
    CHECK_OK(std::move(err));
  });
  CHECK(called);
  CHECK(joined_log().empty());
  CHECK(stats().objects_live == before.objects_live);
  CHECK(live_bytes(stats()) == live_bytes(before));
  // Destroying an allocation without finalize or abandon frees it as well.
  auto g2 = graph();
  auto &s2 = g2->createSection("__data", MemProt::Read | MemProt::Write);
  g2->createZeroFillBlock(s2, 64, ExecutorAddr(), 8, 0);
  {
    auto a2 = mm->allocate(nullptr, *g2);
    CHECK_OK(a2.takeError());
  }
  CHECK(stats().objects_live == before.objects_live);
  return ok;
}

// Finalize-lifetime segments are readable while the finalize actions run
// and freed right after; standard segments stay until deallocate.
static bool finalize_lifetime_segments() {
  bool ok = true;
  auto before = stats();
  auto mm = manager();
  auto g = graph();
  auto &keep = g->createSection("__data", MemProt::Read | MemProt::Write);
  g->createZeroFillBlock(keep, 64, ExecutorAddr(), 8, 0);
  auto &transient = g->createSection("__init_data", MemProt::Read);
  transient.setMemLifetime(MemLifetime::Finalize);
  const uint64_t value = 0x1122334455667788ULL;
  auto &tb = g->createContentBlock(transient,
                                   ArrayRef<char>(reinterpret_cast<const char *>(&value), 8),
                                   ExecutorAddr(), 8, 0);
  auto &skipped = g->createSection("__debug_info", MemProt::Read);
  skipped.setMemLifetime(MemLifetime::NoAlloc);
  auto &nb = g->createContentBlock(skipped, ArrayRef<char>("x", 1), ExecutorAddr(0x1000), 1, 0);
  auto alloc = mm->allocate(nullptr, *g);
  CHECK_OK(alloc.takeError());
  if (!alloc)
    return false;
  CHECK(nb.getAddress() == ExecutorAddr(0x1000));
  CHECK(stats().objects_live == before.objects_live + 2);
  seen_value = 0;
  g->allocActions().push_back(
      {cantFail(WrapperFunctionCall::Create<SPSArgList<SPSExecutorAddr>>(
           ExecutorAddr::fromPtr(&read_u64_action), tb.getAddress())),
       WrapperFunctionCall()});
  auto fa = (*alloc)->finalize();
  CHECK_OK(fa.takeError());
  if (!fa)
    return false;
  CHECK(seen_value == value);
  CHECK(stats().objects_live == before.objects_live + 1);
  CHECK_OK(mm->deallocate(std::move(*fa)));
  CHECK(stats().objects_live == before.objects_live);
  CHECK(live_bytes(stats()) == live_bytes(before));
  return ok;
}

// Graphs that cannot be placed get an llvm::Error (never an abort) and leave
// nothing behind: a segment larger than the arena, one that would be
// writable and executable, an alignment above a page.
static bool unplaceable_graphs() {
  bool ok = true;
  jitmm::Config c = config();
  c.private_arena = 1;
  c.reservation_size = 8 << 20;
  auto mm = jitmm::createJITLinkMemoryManager(c);
  CHECK(mm != nullptr);
  if (!mm)
    return false;
  auto before = stats();
  auto expect_error = [&](LinkGraph &g, const char *needle) {
    auto alloc = mm->allocate(nullptr, g);
    if (alloc) {
      std::printf("  %s: allocated\n", needle);
      ok = false;
      (*alloc)->abandon([](Error e) { consumeError(std::move(e)); });
      return;
    }
    std::string message = toString(alloc.takeError());
    if (message.find(needle) == std::string::npos) {
      std::printf("  unexpected message: %s\n", message.c_str());
      ok = false;
    }
  };
  {
    auto g = graph("huge");
    auto &text = g->createSection("__text", MemProt::Read | MemProt::Exec);
    g->createContentBlock(text, content(*g, std::vector<char>(16, '\xc3')), ExecutorAddr(), 16, 0);
    auto &bss = g->createSection("__bss", MemProt::Read | MemProt::Write);
    g->createZeroFillBlock(bss, uint64_t(64) << 20, ExecutorAddr(), 16, 0);
    expect_error(*g, "jitmm: graph huge: cannot place");
  }
  {
    auto g = graph("rwx");
    auto &sec = g->createSection("__rwx", MemProt::Read | MemProt::Write | MemProt::Exec);
    g->createContentBlock(sec, content(*g, std::vector<char>(16, '\xc3')), ExecutorAddr(), 16, 0);
    expect_error(*g, "writable and executable");
  }
  {
    auto g = graph("aligned");
    auto &sec = g->createSection("__data", MemProt::Read | MemProt::Write);
    g->createZeroFillBlock(sec, 16, ExecutorAddr(), 1 << 20, 0);
    expect_error(*g, "cannot place");
  }
  CHECK(stats().objects_live == before.objects_live);
  CHECK(live_bytes(stats()) == live_bytes(before));
  // The manager still works afterwards.
  auto g = graph();
  auto &sec = g->createSection("__data", MemProt::Read | MemProt::Write);
  g->createZeroFillBlock(sec, 16, ExecutorAddr(), 8, 0);
  auto alloc = mm->allocate(nullptr, *g);
  CHECK_OK(alloc.takeError());
  if (alloc) {
    auto fa = (*alloc)->finalize();
    CHECK_OK(fa.takeError());
    if (fa)
      CHECK_OK(mm->deallocate(std::move(*fa)));
  }
  return ok;
}

// Several threads allocating, finalizing and deallocating through one
// manager at once.
static bool concurrent_graphs() {
  bool ok = true;
  auto before = stats();
  auto mm = manager();
  std::atomic<int> errors{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto g = graph();
        auto code = return42();
        auto &text = g->createSection("__text", MemProt::Read | MemProt::Exec);
        auto &tb = g->createContentBlock(text, content(*g, some_code()), ExecutorAddr(), 16, 0);
        auto &data = g->createSection("__data", MemProt::Read | MemProt::Write);
        auto &db = g->createMutableContentBlock(data, 8, ExecutorAddr(), 8, 0);
        uint64_t tag = uint64_t(t) << 32 | i;
        std::memcpy(db.getMutableContent(*g).data(), &tag, 8);
        auto alloc = mm->allocate(nullptr, *g);
        if (!alloc) {
          consumeError(alloc.takeError());
          ++errors;
          continue;
        }
        auto fa = (*alloc)->finalize();
        if (!fa) {
          consumeError(fa.takeError());
          ++errors;
          continue;
        }
        if (*db.getAddress().toPtr<uint64_t *>() != tag)
          ++wrong;
        if (!code.empty() && tb.getAddress().toPtr<int (*)()>()() != 42)
          ++wrong;
        if (Error e = mm->deallocate(std::move(*fa))) {
          consumeError(std::move(e));
          ++errors;
        }
      }
    });
  }
  for (auto &t : threads)
    t.join();
  CHECK(errors == 0);
  CHECK(wrong == 0);
  CHECK(stats().objects_live == before.objects_live);
  CHECK(live_bytes(stats()) == live_bytes(before));
  return ok;
}

int main() {
  // Keep what was printed if a case crashes.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  for (jitmm_strategy s : test_strategies()) {
    strategy = s;
    run("alloc_finalize_free", alloc_finalize_free);
    run("several_protections", several_protections);
    run("zero_fill_segments", zero_fill_segments);
    run("finalize_and_dealloc_actions", finalize_and_dealloc_actions);
    run("failing_finalize_action", failing_finalize_action);
    run("failing_dealloc_action", failing_dealloc_action);
    run("abandon", abandon);
    run("finalize_lifetime_segments", finalize_lifetime_segments);
    run("unplaceable_graphs", unplaceable_graphs);
    run("concurrent_graphs", concurrent_graphs);
  }
  return summary();
}
