// Side-by-side benchmark of jitmm (DualMap, Mprotect) and LLVM's own
// memory managers (SectionMemoryManager, jitlink::InProcessMemoryManager),
// all driven through LLVM's C++ interfaces in the same process.
//
// Built and run by benches/compare.rs, which turns the `R key value` lines
// printed here into one markdown table.
//
//   mm_bench main <small> <medium> <large> <modules> <thread-modules>
//       1. manager work per object, 2. syscalls per object,
//       4. end-to-end JIT, 5. threads
//   mm_bench live <rtdyld|jitlink> <smm|ipmm|dualmap|mprotect> <objects>
//       3. many small objects live, then all freed (one process per case)
//   mm_bench micro <rtdyld|jitlink> <manager> <small|medium|large> <objects>
//       one steady-state loop of 1. alone (e.g. to run it under strace)
//   mm_bench scale <mcjit_one|mcjit|orc_rtdyld|orc_jitlink> <manager> <n1,n2,...>
//       6. and 7. cost per module with n1, n2, ... modules loaded and kept
//       in one JIT, then freed (one process per case)
//
// Syscalls are counted for every manager the same way: this program defines
// mmap, mprotect, munmap, madvise, fallocate and mremap itself (exported with
// -rdynamic, so libLLVM's and libjitmm's calls bind to them) and forwards
// them to the kernel with syscall(2).  glibc's malloc uses internal entry
// points and is not counted.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <malloc.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include <llvm/ExecutionEngine/ExecutionEngine.h>
#include <llvm/ExecutionEngine/JITEventListener.h>
#include <llvm/ExecutionEngine/JITLink/JITLink.h>
#include <llvm/ExecutionEngine/JITLink/JITLinkMemoryManager.h>
#include <llvm/ExecutionEngine/MCJIT.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/ExecutionEngine/Orc/RTDyldObjectLinkingLayer.h>
#include <llvm/ExecutionEngine/RuntimeDyld.h>
#include <llvm/ExecutionEngine/SectionMemoryManager.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IRReader/IRReader.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Object/ObjectFile.h>
#include <llvm/Support/ErrorHandling.h>
#include <llvm/Support/Memory.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/SourceMgr.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/Triple.h>

#include "compat.h"
#include "jitmm.hpp"

using namespace llvm;
using namespace llvm::orc;

// ---- Syscall counting by interposition ----------------------------------------

enum { SYS_MMAP_I, SYS_MPROTECT_I, SYS_MUNMAP_I, SYS_MADVISE_I, SYS_FALLOCATE_I, SYS_MREMAP_I, SYS_N };
static std::atomic<bool> g_counting{false};
static std::atomic<uint64_t> g_sys[SYS_N];

static inline void count_sys(int which) {
  if (g_counting.load(std::memory_order_relaxed))
    g_sys[which].fetch_add(1, std::memory_order_relaxed);
}

extern "C" {
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) noexcept {
  count_sys(SYS_MMAP_I);
  return reinterpret_cast<void *>(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
}
void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) noexcept {
  count_sys(SYS_MMAP_I);
  return reinterpret_cast<void *>(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
}
int mprotect(void *addr, size_t len, int prot) noexcept {
  count_sys(SYS_MPROTECT_I);
  return static_cast<int>(syscall(SYS_mprotect, addr, len, prot));
}
int munmap(void *addr, size_t len) noexcept {
  count_sys(SYS_MUNMAP_I);
  return static_cast<int>(syscall(SYS_munmap, addr, len));
}
int madvise(void *addr, size_t len, int advice) noexcept {
  count_sys(SYS_MADVISE_I);
  return static_cast<int>(syscall(SYS_madvise, addr, len, advice));
}
int fallocate(int fd, int mode, off_t off, off_t len) {
  count_sys(SYS_FALLOCATE_I);
  return static_cast<int>(syscall(SYS_fallocate, fd, mode, off, len));
}
int fallocate64(int fd, int mode, off_t off, off_t len) {
  count_sys(SYS_FALLOCATE_I);
  return static_cast<int>(syscall(SYS_fallocate, fd, mode, off, len));
}
void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...) noexcept {
  count_sys(SYS_MREMAP_I);
  void *new_addr = nullptr;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    new_addr = va_arg(ap, void *);
    va_end(ap);
  }
  return reinterpret_cast<void *>(syscall(SYS_mremap, old, old_len, new_len, flags, new_addr));
}
}

static uint64_t sys_total() {
  uint64_t n = 0;
  for (auto &c : g_sys)
    n += c.load();
  return n;
}

static void sys_reset() {
  for (auto &c : g_sys)
    c.store(0);
}

// ---- Output ------------------------------------------------------------------

static void emit(const std::string &key, double value) {
  std::printf("R %s %.6g\n", key.c_str(), value);
  std::fflush(stdout);
}

static void emit_text(const std::string &key, const std::string &value) {
  std::printf("T %s %s\n", key.c_str(), value.c_str());
  std::fflush(stdout);
}

[[noreturn]] static void die(const std::string &what) {
  std::fprintf(stderr, "mm_bench: %s\n", what.c_str());
  std::exit(2);
}

template <typename T> static T check(Expected<T> value, const char *what) {
  if (!value)
    die(std::string(what) + ": " + toString(value.takeError()));
  return std::move(*value);
}

static void check(Error err, const char *what) {
  if (err)
    die(std::string(what) + ": " + toString(std::move(err)));
}

// ---- Clock ---------------------------------------------------------------------

// Ticks of a cheap cycle counter (TSC on x86), converted with a factor
// calibrated against steady_clock.
static inline uint64_t ticks() {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
#endif
}

static double g_ns_per_tick = 1.0;
// Ticks one timed region costs by itself (two reads and an atomic add).
static double g_region_overhead = 0.0;

// CPU time of the calling thread: end-to-end rates per CPU-second hold up
// on a loaded machine, where wall time does not.
static uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

static uint64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Time spent inside a memory manager, summed over threads.
struct ManagerTime {
  std::atomic<uint64_t> ticks{0};
  std::atomic<uint64_t> regions{0};
  std::atomic<uint64_t> requested{0};
  void reset() {
    ticks = 0;
    regions = 0;
    requested = 0;
  }
  double ns() const {
    double t = double(ticks.load()) - g_region_overhead * double(regions.load());
    return (t > 0 ? t : 0) * g_ns_per_tick;
  }
};

struct Region {
  ManagerTime *mt;
  uint64_t t0;
  explicit Region(ManagerTime *m) : mt(m), t0(ticks()) {}
  ~Region() {
    mt->ticks.fetch_add(ticks() - t0, std::memory_order_relaxed);
    mt->regions.fetch_add(1, std::memory_order_relaxed);
  }
};

static void calibrate() {
  uint64_t w0 = wall_ns(), t0 = ticks();
  while (wall_ns() - w0 < 20000000) {
  }
  uint64_t w1 = wall_ns(), t1 = ticks();
  g_ns_per_tick = double(w1 - w0) / double(t1 - t0);
  ManagerTime mt;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    Region r(&mt);
  }
  g_region_overhead = double(mt.ticks.load()) / n;
}

// ---- /proc ----------------------------------------------------------------------

struct Mapping {
  uint64_t start, end, offset, inode;
  std::string perms, path;
};

static std::vector<Mapping> read_maps() {
  std::vector<Mapping> maps;
  std::ifstream in("/proc/self/maps");
  std::string line;
  while (std::getline(in, line)) {
    Mapping m{};
    char perms[8] = {};
    unsigned long long lo, hi, off, inode;
    unsigned dev_major, dev_minor;
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %x:%x %llu %n", &lo, &hi, perms, &off,
                    &dev_major, &dev_minor, &inode, &path_at) < 7)
      continue;
    m.start = lo;
    m.end = hi;
    m.offset = off;
    m.inode = inode;
    m.perms = perms;
    m.path = path_at > 0 && size_t(path_at) <= line.size() ? line.substr(path_at) : "";
    maps.push_back(m);
  }
  return maps;
}

static long vm_max_map_count() {
  std::ifstream in("/proc/sys/vm/max_map_count");
  long n = 65530;
  in >> n;
  return n;
}

static uint64_t rss_bytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * uint64_t(sysconf(_SC_PAGESIZE));
}

// Accessible bytes mapped in `after` that were not mapped in `before`;
// memory mapped twice (a memfd's two views) counts once.
static uint64_t new_mapped_bytes(const std::vector<Mapping> &before,
                                 const std::vector<Mapping> &after) {
  uint64_t anon = 0;
  std::map<uint64_t, std::vector<std::pair<uint64_t, uint64_t>>> file_ranges;
  for (const Mapping &m : after) {
    if (m.perms.compare(0, 3, "---") == 0 || m.path == "[heap]" || m.path == "[stack]")
      continue;
    // Subtract what was already mapped (before is sorted and disjoint).
    std::vector<std::pair<uint64_t, uint64_t>> pieces{{m.start, m.end}};
    for (const Mapping &b : before) {
      if (b.end <= m.start || b.start >= m.end)
        continue;
      std::vector<std::pair<uint64_t, uint64_t>> next;
      for (auto [s, e] : pieces) {
        if (b.end <= s || b.start >= e) {
          next.push_back({s, e});
          continue;
        }
        if (s < b.start)
          next.push_back({s, b.start});
        if (b.end < e)
          next.push_back({b.end, e});
      }
      pieces.swap(next);
    }
    for (auto [s, e] : pieces) {
      if (m.inode == 0)
        anon += e - s;
      else
        file_ranges[m.inode].push_back({m.offset + (s - m.start), m.offset + (e - m.start)});
    }
  }
  uint64_t file = 0;
  for (auto &[inode, ranges] : file_ranges) {
    std::sort(ranges.begin(), ranges.end());
    uint64_t cur_s = 0, cur_e = 0;
    bool open = false;
    for (auto [s, e] : ranges) {
      if (open && s <= cur_e) {
        cur_e = std::max(cur_e, e);
        continue;
      }
      if (open)
        file += cur_e - cur_s;
      cur_s = s;
      cur_e = e;
      open = true;
    }
    if (open)
      file += cur_e - cur_s;
  }
  return anon + file;
}

// Resident bytes of mappings that did not exist in `before` ([heap] excluded):
// what the manager itself still holds, apart from the malloc heap.
static uint64_t rss_in_new_mappings(const std::vector<Mapping> &before) {
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool counting = false;
  uint64_t total = 0;
  while (std::getline(in, line)) {
    unsigned long long lo, hi;
    char perms[8];
    if (std::sscanf(line.c_str(), "%llx-%llx %7s", &lo, &hi, perms) == 3 &&
        line.find(':') > line.find(' ')) {
      counting = line.find("[heap]") == std::string::npos;
      for (const Mapping &b : before)
        if (b.start <= lo && hi <= b.end)
          counting = false;
      continue;
    }
    unsigned long long kb;
    if (counting && std::sscanf(line.c_str(), "Rss: %llu kB", &kb) == 1)
      total += kb * 1024;
  }
  return total;
}

static jitmm_stats jstats() {
  jitmm_stats s = JITMM_STATS_INIT;
  jitmm_stats_get(&s);
  return s;
}

static uint64_t jitmm_syscalls(const jitmm_stats &s) {
  return s.mmap_calls + s.mprotect_calls + s.munmap_calls + s.madvise_calls + s.fallocate_calls;
}

// ---- Managers ----------------------------------------------------------------------

// DualMapDebug: DualMap with GDB registration and the perf map on, the two
// services that keep a record per live object.
enum class Kind { SMM, IPMM, DualMap, Mprotect, DualMapDebug, Floor };

// The least any RTDyldMemoryManager can do, as a reference for the cost of
// the callbacks themselves (caches cold from compiling, libgcc's EH-frame
// registration): sections bumped out of one RWX mapping, no protections,
// no W^X, nothing freed before the end, no cross-thread step.  Not a
// usable manager.
class FloorManager final : public RTDyldMemoryManager {
public:
  FloorManager() {
    void *p = mmap(nullptr, kSize, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
      die("floor manager: no RWX mapping here");
    base_ = next_ = flushed_ = static_cast<uint8_t *>(p);
  }
  ~FloorManager() override {
    deregisterEHFrames();
    munmap(base_, kSize);
  }
  uint8_t *allocateCodeSection(uintptr_t Size, unsigned Alignment, unsigned, StringRef) override {
    return bump(Size, Alignment);
  }
  uint8_t *allocateDataSection(uintptr_t Size, unsigned Alignment, unsigned, StringRef,
                               bool) override {
    return bump(Size, Alignment);
  }
  bool finalizeMemory(std::string *) override {
    sys::Memory::InvalidateInstructionCache(flushed_, next_ - flushed_); // nothing on x86
    flushed_ = next_;
    return false;
  }

private:
  static constexpr size_t kSize = size_t(1) << 30;
  uint8_t *bump(uintptr_t size, unsigned align) {
    uintptr_t a = align ? align : 16;
    next_ = reinterpret_cast<uint8_t *>((reinterpret_cast<uintptr_t>(next_) + a - 1) & ~(a - 1));
    if (next_ + size > base_ + kSize)
      return nullptr;
    uint8_t *p = next_;
    next_ += size;
    return p;
  }
  uint8_t *base_, *next_, *flushed_;
};

static const char *kind_name(Kind k) {
  switch (k) {
  case Kind::SMM:
    return "smm";
  case Kind::IPMM:
    return "ipmm";
  case Kind::DualMap:
    return "dualmap";
  case Kind::Mprotect:
    return "mprotect";
  case Kind::DualMapDebug:
    return "dualmap_debug";
  case Kind::Floor:
    return "floor";
  }
  return "?";
}

static Kind parse_kind(const std::string &s) {
  if (s == "smm")
    return Kind::SMM;
  if (s == "ipmm")
    return Kind::IPMM;
  if (s == "dualmap")
    return Kind::DualMap;
  if (s == "mprotect")
    return Kind::Mprotect;
  if (s == "dualmap_debug")
    return Kind::DualMapDebug;
  if (s == "floor")
    return Kind::Floor;
  die("unknown manager " + s);
}

static jitmm::Config jconfig(Kind k) {
  jitmm::Config c{};
  c.strategy = k == Kind::Mprotect ? JITMM_STRATEGY_MPROTECT : JITMM_STRATEGY_DUALMAP;
  c.debugger = c.perf_map = k == Kind::DualMapDebug;
  return c;
}

static std::unique_ptr<RTDyldMemoryManager> make_rtdyld(Kind k) {
  if (k == Kind::SMM)
    return std::make_unique<SectionMemoryManager>();
  if (k == Kind::Floor)
    return std::make_unique<FloorManager>();
  auto mm = jitmm::createRTDyldMemoryManager(jconfig(k));
  if (!mm)
    die(std::string("jitmm: ") + jitmm_last_error());
  return mm;
}

static std::unique_ptr<jitlink::JITLinkMemoryManager> make_jitlink(Kind k) {
  if (k == Kind::IPMM)
    return check(jitlink::InProcessMemoryManager::Create(), "InProcessMemoryManager");
  auto mm = jitmm::createJITLinkMemoryManager(jconfig(k));
  if (!mm)
    die(std::string("jitmm: ") + jitmm_last_error());
  return mm;
}

// Forwards every call to a manager, timing the calls that do memory work
// (construction and destruction included).
class TimedRTDyld final : public RTDyldMemoryManager {
public:
  TimedRTDyld(Kind kind, ManagerTime *mt) : mt_(mt) {
    Region r(mt_);
    inner_ = make_rtdyld(kind);
  }
  ~TimedRTDyld() override {
    Region r(mt_);
    inner_.reset();
  }
  uint8_t *allocateCodeSection(uintptr_t Size, unsigned Alignment, unsigned SectionID,
                               StringRef SectionName) override {
    mt_->requested.fetch_add(Size, std::memory_order_relaxed);
    Region r(mt_);
    return inner_->allocateCodeSection(Size, Alignment, SectionID, SectionName);
  }
  uint8_t *allocateDataSection(uintptr_t Size, unsigned Alignment, unsigned SectionID,
                               StringRef SectionName, bool IsReadOnly) override {
    mt_->requested.fetch_add(Size, std::memory_order_relaxed);
    Region r(mt_);
    return inner_->allocateDataSection(Size, Alignment, SectionID, SectionName, IsReadOnly);
  }
  bool needsToReserveAllocationSpace() override { return inner_->needsToReserveAllocationSpace(); }
  void reserveAllocationSpace(uintptr_t CodeSize, Align CodeAlign, uintptr_t RODataSize,
                              Align RODataAlign, uintptr_t RWDataSize, Align RWDataAlign) override {
    Region r(mt_);
    inner_->reserveAllocationSpace(CodeSize, CodeAlign, RODataSize, RODataAlign, RWDataSize,
                                   RWDataAlign);
  }
  bool allowStubAllocation() const override { return inner_->allowStubAllocation(); }
  void registerEHFrames(uint8_t *Addr, uint64_t LoadAddr, size_t Size) override {
    Region r(mt_);
    inner_->registerEHFrames(Addr, LoadAddr, Size);
  }
  void deregisterEHFrames() override {
    Region r(mt_);
    inner_->deregisterEHFrames();
  }
  bool finalizeMemory(std::string *ErrMsg) override {
    Region r(mt_);
    return inner_->finalizeMemory(ErrMsg);
  }
  void notifyObjectLoaded(RuntimeDyld &RTDyld, const object::ObjectFile &Obj) override {
    Region r(mt_);
    inner_->notifyObjectLoaded(RTDyld, Obj);
  }
  void notifyObjectLoaded(ExecutionEngine *EE, const object::ObjectFile &Obj) override {
    Region r(mt_);
    inner_->notifyObjectLoaded(EE, Obj);
  }
  uint64_t getSymbolAddress(const std::string &Name) override {
    return inner_->getSymbolAddress(Name);
  }
  JITSymbol findSymbol(const std::string &Name) override { return inner_->findSymbol(Name); }
  uint64_t getSymbolAddressInLogicalDylib(const std::string &Name) override {
    return inner_->getSymbolAddressInLogicalDylib(Name);
  }
  JITSymbol findSymbolInLogicalDylib(const std::string &Name) override {
    return inner_->findSymbolInLogicalDylib(Name);
  }
  void *getPointerToNamedFunction(const std::string &Name, bool AbortOnFailure) override {
    return inner_->getPointerToNamedFunction(Name, AbortOnFailure);
  }

private:
  ManagerTime *mt_;
  std::unique_ptr<RTDyldMemoryManager> inner_;
};

static uint64_t graph_bytes(jitlink::LinkGraph &G) {
  uint64_t n = 0;
  for (auto *B : G.blocks())
    n += B->getSize();
  return n;
}

class TimedInFlight final : public jitlink::JITLinkMemoryManager::InFlightAlloc {
public:
  TimedInFlight(std::unique_ptr<InFlightAlloc> inner, ManagerTime *mt)
      : inner_(std::move(inner)), mt_(mt) {}
  void finalize(OnFinalizedFunction OnFinalized) override {
    uint64_t t0 = ticks();
    ManagerTime *mt = mt_;
    inner_->finalize([mt, t0, OnFinalized = std::move(OnFinalized)](
                         Expected<jitlink::JITLinkMemoryManager::FinalizedAlloc> r) mutable {
      mt->ticks.fetch_add(ticks() - t0, std::memory_order_relaxed);
      mt->regions.fetch_add(1, std::memory_order_relaxed);
      OnFinalized(std::move(r));
    });
  }
  void abandon(OnAbandonedFunction OnAbandoned) override {
    inner_->abandon(std::move(OnAbandoned));
  }

private:
  std::unique_ptr<InFlightAlloc> inner_;
  ManagerTime *mt_;
};

// Times allocate (up to the continuation), finalize and deallocate.
class TimedJITLink final : public jitlink::JITLinkMemoryManager {
public:
  TimedJITLink(Kind kind, ManagerTime *mt) : inner_(make_jitlink(kind)), mt_(mt) {}
  using JITLinkMemoryManager::allocate;
  using JITLinkMemoryManager::deallocate;
  void allocate(const jitlink::JITLinkDylib *JD, jitlink::LinkGraph &G,
                OnAllocatedFunction OnAllocated) override {
    mt_->requested.fetch_add(graph_bytes(G), std::memory_order_relaxed);
    uint64_t t0 = ticks();
    ManagerTime *mt = mt_;
    inner_->allocate(JD, G, [mt, t0, OnAllocated = std::move(OnAllocated)](AllocResult r) mutable {
      mt->ticks.fetch_add(ticks() - t0, std::memory_order_relaxed);
      mt->regions.fetch_add(1, std::memory_order_relaxed);
      if (!r)
        return OnAllocated(r.takeError());
      OnAllocated(std::make_unique<TimedInFlight>(std::move(*r), mt));
    });
  }
  void deallocate(std::vector<FinalizedAlloc> Allocs, OnDeallocatedFunction OnDeallocated) override {
    uint64_t t0 = ticks();
    ManagerTime *mt = mt_;
    inner_->deallocate(std::move(Allocs),
                       [mt, t0, OnDeallocated = std::move(OnDeallocated)](Error e) mutable {
                         mt->ticks.fetch_add(ticks() - t0, std::memory_order_relaxed);
                         mt->regions.fetch_add(1, std::memory_order_relaxed);
                         OnDeallocated(std::move(e));
                       });
  }

private:
  std::unique_ptr<jitlink::JITLinkMemoryManager> inner_;
  ManagerTime *mt_;
};

// ---- Objects ----------------------------------------------------------------------

struct Sizes {
  size_t code, ro, rw;
};

enum class SizeClass { Small, Medium, Large };

static const char *size_name(SizeClass s) {
  return s == SizeClass::Small ? "small" : s == SizeClass::Medium ? "medium" : "large";
}

static SizeClass parse_size(const std::string &s) {
  if (s == "small")
    return SizeClass::Small;
  if (s == "medium")
    return SizeClass::Medium;
  if (s == "large")
    return SizeClass::Large;
  die("unknown size " + s);
}

// Small: each section 64-512 bytes (a fixed pseudo-random sequence);
// medium: 16 KiB in all; large: 1 MiB in all.
static std::vector<Sizes> size_table(SizeClass s) {
  if (s == SizeClass::Medium)
    return {{8192, 4096, 4096}};
  if (s == SizeClass::Large)
    return {{512 * 1024, 256 * 1024, 256 * 1024}};
  std::mt19937 rng(42);
  std::vector<Sizes> table;
  for (int i = 0; i < 64; ++i)
    table.push_back({64 + rng() % 449, 64 + rng() % 449, 64 + rng() % 449});
  return table;
}

static std::unique_ptr<TargetMachine> host_tm() {
  Triple triple(sys::getProcessTriple());
  std::string error;
  const Target *target = TargetRegistry::lookupTarget(JITMM_TRIPLE_ARG(triple), error);
  if (!target)
    die(error);
  return std::unique_ptr<TargetMachine>(target->createTargetMachine(
      JITMM_TRIPLE_ARG(triple), "generic", "", TargetOptions(), Reloc::PIC_, CodeModel::Small));
}

// An ELF relocatable object with exactly three allocated sections of the
// given sizes (code, read-only data, read-write data) and relocations
// between them, assembled by LLVM's integrated assembler.
static std::unique_ptr<MemoryBuffer> make_object(TargetMachine &tm, Sizes s, int id) {
  std::string a;
  raw_string_ostream os(a);
#if defined(__x86_64__)
  const size_t code_head = 15;
  os << ".text\n.p2align 4\nf" << id << ":\n  leaq ro" << id << "(%rip), %rax\n  leaq rw" << id
     << "(%rip), %rcx\n  ret\n";
#elif defined(__aarch64__)
  const size_t code_head = 12;
  os << ".text\n.p2align 4\nf" << id << ":\n  adrp x0, ro" << id << "\n  add x0, x0, :lo12:ro"
     << id << "\n  ret\n";
#else
  const size_t code_head = 0;
  os << ".text\n.p2align 4\nf" << id << ":\n";
#endif
  os << "  .fill " << (s.code - code_head) << ", 1, 0\n";
  os << ".section .rodata,\"a\",@progbits\n.p2align 4\nro" << id << ":\n  .fill " << s.ro
     << ", 1, 17\n";
  os << ".data\n.p2align 4\nrw" << id << ":\n  .quad ro" << id << "\n  .fill " << (s.rw - 8)
     << ", 1, 34\n";
  os.flush();
  LLVMContext ctx;
  Module m("obj", ctx);
  m.setTargetTriple(JITMM_TRIPLE_ARG(tm.getTargetTriple()));
  m.setDataLayout(tm.createDataLayout());
  m.setModuleInlineAsm(a);
  SmallVector<char, 0> buf;
  raw_svector_ostream out(buf);
  legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, out, nullptr, CodeGenFileType::ObjectFile))
    die("cannot emit objects");
  pm.run(m);
  return MemoryBuffer::getMemBufferCopy(StringRef(buf.data(), buf.size()), "obj");
}

static std::vector<std::unique_ptr<MemoryBuffer>> make_objects(SizeClass s) {
  auto tm = host_tm();
  std::vector<std::unique_ptr<MemoryBuffer>> objs;
  int id = 0;
  for (Sizes sz : size_table(s))
    objs.push_back(make_object(*tm, sz, id++));
  return objs;
}

class NoSymbols final : public JITSymbolResolver {
public:
  void lookup(const LookupSet &, OnResolvedFunction OnResolved) override {
    OnResolved(LookupResult());
  }
  Expected<LookupSet> getResponsibilitySet(const LookupSet &) override { return LookupSet(); }
};

// Loads one object with RuntimeDyld into a fresh manager (one manager per
// object, as ORC's RTDyldObjectLinkingLayer does) and finalizes it.
static std::unique_ptr<TimedRTDyld> load_rtdyld(Kind k, ManagerTime *mt, MemoryBuffer &obj,
                                                NoSymbols &resolver) {
  auto file = check(object::ObjectFile::createObjectFile(obj.getMemBufferRef()), "object");
  auto mm = std::make_unique<TimedRTDyld>(k, mt);
  RuntimeDyld dyld(*mm, resolver);
  dyld.loadObject(*file);
  if (dyld.hasError())
    die("RuntimeDyld: " + dyld.getErrorString().str());
  dyld.finalizeWithMemoryManagerLocking();
  if (dyld.hasError())
    die("RuntimeDyld: " + dyld.getErrorString().str());
  return mm;
}

static std::vector<char> g_content(1 << 20, '\xcc');

// A LinkGraph with one block in each of a code, a read-only and a
// read-write section.
static std::unique_ptr<jitlink::LinkGraph> make_graph(Sizes s) {
  auto g = std::make_unique<jitlink::LinkGraph>(
      JITMM_LINK_GRAPH_ARGS("g", Triple(sys::getProcessTriple()), jitlink::getGenericEdgeKindName));
  auto &text = g->createSection(".text", MemProt::Read | MemProt::Exec);
  auto &ro = g->createSection(".rodata", MemProt::Read);
  auto &rw = g->createSection(".data", MemProt::Read | MemProt::Write);
  g->createContentBlock(text, ArrayRef<char>(g_content.data(), s.code), ExecutorAddr(), 16, 0);
  g->createContentBlock(ro, ArrayRef<char>(g_content.data(), s.ro), ExecutorAddr(), 16, 0);
  g->createContentBlock(rw, ArrayRef<char>(g_content.data(), s.rw), ExecutorAddr(), 16, 0);
  return g;
}

using FinalizedAlloc = jitlink::JITLinkMemoryManager::FinalizedAlloc;

static FinalizedAlloc alloc_finalize(jitlink::JITLinkMemoryManager &mm, jitlink::LinkGraph &g) {
  std::unique_ptr<jitlink::JITLinkMemoryManager::InFlightAlloc> inflight;
  mm.allocate(nullptr, g, [&](jitlink::JITLinkMemoryManager::AllocResult r) {
    inflight = check(std::move(r), "allocate");
  });
  if (!inflight)
    die("allocate did not complete synchronously");
  FinalizedAlloc fa;
  inflight->finalize([&](Expected<FinalizedAlloc> r) { fa = check(std::move(r), "finalize"); });
  return fa;
}

static void dealloc(jitlink::JITLinkMemoryManager &mm, FinalizedAlloc fa) {
  mm.deallocate(std::move(fa), [](Error e) { check(std::move(e), "deallocate"); });
}

// ---- 1 + 2: manager work and syscalls per object, steady state ------------------------

struct MicroResult {
  double ns_per_object, syscalls_per_object, core_syscalls_per_object;
};

static MicroResult micro(bool rtdyld, Kind k, SizeClass s, int n) {
  int warm = std::max(8, n / 10);
  ManagerTime mt;
  NoSymbols resolver;
  std::vector<std::unique_ptr<MemoryBuffer>> objs;
  std::vector<Sizes> sizes = size_table(s);
  if (rtdyld)
    objs = make_objects(s);
  std::unique_ptr<jitlink::JITLinkMemoryManager> jl;
  if (!rtdyld)
    jl = make_jitlink(k);
  jitmm_stats j0{};
  uint64_t jl_ticks = 0;
  for (int i = 0; i < warm + n; ++i) {
    if (i == warm) {
      mt.reset();
      jl_ticks = 0;
      sys_reset();
      j0 = jstats();
      g_counting = true;
    }
    if (rtdyld) {
      auto mm = load_rtdyld(k, &mt, *objs[i % objs.size()], resolver);
      mm.reset();
    } else {
      auto g = make_graph(sizes[i % sizes.size()]);
      uint64_t t0 = ticks();
      FinalizedAlloc fa = alloc_finalize(*jl, *g);
      dealloc(*jl, std::move(fa));
      jl_ticks += ticks() - t0;
    }
  }
  g_counting = false;
  jitmm_stats j1 = jstats();
  MicroResult r{};
  if (rtdyld)
    r.ns_per_object = mt.ns() / n;
  else
    r.ns_per_object = (double(jl_ticks) - g_region_overhead * n) * g_ns_per_tick / n;
  r.syscalls_per_object = double(sys_total()) / n;
  r.core_syscalls_per_object = double(jitmm_syscalls(j1) - jitmm_syscalls(j0)) / n;
  return r;
}

// ---- 3: many small objects live ---------------------------------------------------------

static void live(bool rtdyld, Kind k, int n) {
  std::string key = std::string("live.") + (rtdyld ? "rtdyld." : "jitlink.") + kind_name(k);
  std::vector<Sizes> sizes = size_table(SizeClass::Small);
  std::vector<std::unique_ptr<MemoryBuffer>> objs;
  if (rtdyld)
    objs = make_objects(SizeClass::Small);
  NoSymbols resolver;
  ManagerTime mt;
  std::unique_ptr<jitlink::JITLinkMemoryManager> jl;
  std::vector<std::unique_ptr<TimedRTDyld>> managers;
  std::vector<FinalizedAlloc> allocs;
  managers.reserve(n);
  allocs.reserve(n);
  uint64_t requested_jl = 0;
  long limit = vm_max_map_count();
  malloc_trim(0);
  auto maps0 = read_maps();
  uint64_t rss0 = rss_bytes();
  jitmm_stats j0 = jstats();
  if (!rtdyld)
    jl = make_jitlink(k);
  int loaded = 0;
  for (int i = 0; i < n; ++i) {
    // LLVM's managers take VMAs per object; stop short of vm.max_map_count,
    // where mmap fails (and RuntimeDyld aborts the process).
    if (i % 500 == 0 && long(read_maps().size()) + 4 * 500 + 1000 > limit)
      break;
    if (rtdyld) {
      managers.push_back(load_rtdyld(k, &mt, *objs[i % objs.size()], resolver));
    } else {
      auto g = make_graph(sizes[i % sizes.size()]);
      requested_jl += graph_bytes(*g);
      allocs.push_back(alloc_finalize(*jl, *g));
    }
    ++loaded;
  }
  auto maps1 = read_maps();
  uint64_t rss1 = rss_bytes();
  jitmm_stats j1 = jstats();
  uint64_t requested = rtdyld ? mt.requested.load() : requested_jl;
  emit(key + ".objects", loaded);
  emit(key + ".vmas", double(maps1.size()) - double(maps0.size()));
  emit(key + ".mapped_ratio", double(new_mapped_bytes(maps0, maps1)) / double(requested));
  emit(key + ".rss_live_mib", double(rss1 - std::min(rss1, rss0)) / 1048576.0);
  emit(key + ".requested_mib", double(requested) / 1048576.0);
  if (k == Kind::DualMap || k == Kind::Mprotect) {
    emit(key + ".core_vmas", double(j1.vmas) - double(j0.vmas));
    // Bytes the core holds for live objects (rounding, reservation slack).
    auto held = [](const jitmm_stats &s) {
      return double(s.bytes_live_code + s.bytes_live_rodata + s.bytes_live_rwdata);
    };
    emit(key + ".core_held_ratio", (held(j1) - held(j0)) / double(requested));
    emit(key + ".core_committed_ratio",
         (double(j1.bytes_committed) - double(j0.bytes_committed)) / double(requested));
  }
  if (rtdyld) {
    managers.clear();
  } else {
    for (auto &fa : allocs)
      dealloc(*jl, std::move(fa));
    allocs.clear();
  }
  // This program's own handle vectors are not the manager's memory.
  std::vector<std::unique_ptr<TimedRTDyld>>().swap(managers);
  std::vector<FinalizedAlloc>().swap(allocs);
  malloc_trim(0);
  auto maps2 = read_maps();
  uint64_t rss2 = rss_bytes();
  emit(key + ".vmas_after_free", double(maps2.size()) - double(maps0.size()));
  emit(key + ".rss_after_free_mib", (double(rss2) - double(rss0)) / 1048576.0);
  emit(key + ".manager_rss_after_free_mib", double(rss_in_new_mappings(maps0)) / 1048576.0);
}

// ---- 4 + 5: end-to-end JIT ------------------------------------------------------------------

// A small module: code, a read-only table and a read-write global.
static std::string module_ir(int id) {
  std::string n = std::to_string(id);
  return "@g" + n + " = global i64 " + n + "\n" + "@t" + n +
         " = private unnamed_addr constant [4 x i64] [i64 1, i64 2, i64 3, i64 " + n + "]\n" +
         "define i64 @f" + n + "(i64 %x) {\n" + "  %i = and i64 %x, 3\n" +
         "  %p = getelementptr [4 x i64], ptr @t" + n + ", i64 0, i64 %i\n" +
         "  %v = load i64, ptr %p\n" + "  %c = load i64, ptr @g" + n + "\n" +
         "  %s = add i64 %v, %c\n" + "  store i64 %s, ptr @g" + n + "\n" + "  ret i64 %s\n}\n";
}

static std::unique_ptr<Module> parse_module(const std::string &ir, LLVMContext &ctx) {
  SMDiagnostic diag;
  auto m = parseIR(MemoryBufferRef(ir, "m"), diag, ctx);
  if (!m)
    die("IR: " + diag.getMessage().str());
  return m;
}

static void expect_result(uint64_t got, int id) {
  if (got != uint64_t(2 * id))
    die("wrong result " + std::to_string(got) + " for module " + std::to_string(id));
}

struct E2E {
  double modules_per_s, manager_share;
};

// The median of one field over rounds.
static double median(const std::vector<E2E> &rounds, double E2E::*field) {
  std::vector<double> values;
  for (const E2E &r : rounds)
    values.push_back(r.*field);
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

static E2E e2e_mcjit(Kind k, int n) {
  ManagerTime mt;
  int warm = std::max(2, n / 10);
  uint64_t t0 = 0, w0 = 0;
  for (int i = 0; i < warm + n; ++i) {
    if (i == warm) {
      mt.reset();
      t0 = ticks();
      w0 = thread_cpu_ns();
    }
    LLVMContext ctx;
    std::string err;
    ExecutionEngine *ee = EngineBuilder(parse_module(module_ir(i), ctx))
                              .setEngineKind(EngineKind::JIT)
                              .setErrorStr(&err)
                              .setMCJITMemoryManager(std::make_unique<TimedRTDyld>(k, &mt))
                              .create();
    if (!ee)
      die("MCJIT: " + err);
    auto f = reinterpret_cast<uint64_t (*)(uint64_t)>(ee->getFunctionAddress("f" + std::to_string(i)));
    if (!f)
      die("MCJIT: no function");
    expect_result(f(3), i);
    delete ee;
  }
  double total_ns = double(ticks() - t0) * g_ns_per_tick;
  double cpu = double(thread_cpu_ns() - w0);
  return {n / (cpu / 1e9), mt.ns() / total_ns};
}

static std::unique_ptr<LLJIT> make_lljit(bool jitlink, Kind k, ManagerTime *mt, bool concurrent) {
  auto jtmb = check(JITTargetMachineBuilder::detectHost(), "detectHost");
  jtmb.setRelocationModel(Reloc::PIC_);
  jtmb.setCodeModel(CodeModel::Small);
  LLJITBuilder builder;
  builder.setJITTargetMachineBuilder(std::move(jtmb));
  builder.setSupportConcurrentCompilation(concurrent);
  if (jitlink) {
    // As LLJIT's default JITLink setup and jitmm_orc_jitlink_layer build it:
    // an ObjectLinkingLayer on the manager, with in-process EH-frame registration.
    builder.setObjectLinkingLayerCreator(
        [k, mt](JITMM_LLJIT_LAYER_CREATOR_PARAMS(es)) -> Expected<std::unique_ptr<ObjectLayer>> {
          auto layer =
              std::make_unique<ObjectLinkingLayer>(es, std::make_unique<TimedJITLink>(k, mt));
          if (Error e = jitmm_compat::addEHFramePlugin(*layer, es))
            return std::move(e);
          if (k == Kind::DualMapDebug)
            layer->addPlugin(jitmm::createGDBPlugin(es));
          return std::move(layer);
        });
  } else {
    // As LLJIT's RuntimeDyld setup and jitmm_orc_rtdyld_layer build it: one
    // manager per object.
    builder.setObjectLinkingLayerCreator(
        [k, mt](JITMM_LLJIT_LAYER_CREATOR_PARAMS(es)) -> Expected<std::unique_ptr<ObjectLayer>> {
          auto layer = std::make_unique<RTDyldObjectLinkingLayer>(
              es, [k, mt](JITMM_RTDYLD_FACTORY_PARAMS) {
                return std::make_unique<TimedRTDyld>(k, mt);
              });
          if (k == Kind::DualMapDebug)
            layer->registerJITEventListener(*JITEventListener::createGDBRegistrationListener());
          return std::move(layer);
        });
  }
  return check(builder.create(), "LLJIT");
}

// Adds, runs and removes modules ids [first, first + n) on one LLJIT.
static void orc_modules(LLJIT &jit, int first, int n) {
  for (int i = first; i < first + n; ++i) {
    auto ctx = std::make_unique<LLVMContext>();
    auto m = parse_module(module_ir(i), *ctx);
    auto rt = jit.getMainJITDylib().createResourceTracker();
    check(jit.addIRModule(rt, ThreadSafeModule(std::move(m), std::move(ctx))), "addIRModule");
    auto addr = check(jit.lookup("f" + std::to_string(i)), "lookup");
    expect_result(addr.toPtr<uint64_t (*)(uint64_t)>()(3), i);
    check(rt->remove(), "remove");
  }
}

static E2E e2e_orc(bool jitlink, Kind k, int n) {
  ManagerTime mt;
  auto jit = make_lljit(jitlink, k, &mt, false);
  int warm = std::max(2, n / 10);
  orc_modules(*jit, 0, warm);
  mt.reset();
  uint64_t t0 = ticks(), w0 = thread_cpu_ns();
  orc_modules(*jit, warm, n);
  double total_ns = double(ticks() - t0) * g_ns_per_tick;
  double cpu = double(thread_cpu_ns() - w0);
  return {n / (cpu / 1e9), mt.ns() / total_ns};
}

static double threads_orc_jitlink(Kind k, int threads, int per_thread) {
  ManagerTime mt;
  auto jit = make_lljit(true, k, &mt, true);
  orc_modules(*jit, 0, 4);
  uint64_t w0 = wall_ns();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] { orc_modules(*jit, 1000 + t * 1000000, per_thread); });
  for (auto &th : pool)
    th.join();
  double wall = double(wall_ns() - w0);
  return threads * per_thread / (wall / 1e9);
}

// ---- 6 + 7: cost per module against modules loaded ---------------------------------------

// A JIT that keeps every module it loads, so that the cost of the next
// module can be measured against how many are loaded.  load() compiles,
// links, looks up and calls module `id`'s function.
class Keeper {
public:
  virtual ~Keeper() = default;
  virtual void load(int id) = 0;
  // Frees every module: the engines, or the ResourceTrackers in load order.
  virtual void free_all() = 0;
};

static void call_loaded(uint64_t addr, int id) {
  if (!addr)
    die("no function in module " + std::to_string(id));
  expect_result(reinterpret_cast<uint64_t (*)(uint64_t)>(addr)(3), id);
}

// MCJIT, one engine (and one memory manager) for every module, as
// LLVMAddModule / inkwell's add_module / a REPL that keeps its engine use it.
class McjitOneEngine final : public Keeper {
public:
  McjitOneEngine(Kind k, ManagerTime *mt) {
    std::string err;
    ee_.reset(EngineBuilder(std::make_unique<Module>("base", ctx_))
                  .setEngineKind(EngineKind::JIT)
                  .setErrorStr(&err)
                  .setMCJITMemoryManager(std::make_unique<TimedRTDyld>(k, mt))
                  .create());
    if (!ee_)
      die("MCJIT: " + err);
  }
  void load(int id) override {
    ee_->addModule(parse_module(module_ir(id), ctx_));
    call_loaded(ee_->getFunctionAddress("f" + std::to_string(id)), id);
  }
  void free_all() override { ee_.reset(); }

private:
  LLVMContext ctx_;
  std::unique_ptr<ExecutionEngine> ee_; // declared after ctx_: destroyed first
};

// MCJIT, an engine per module, every engine kept.
class McjitPerModule final : public Keeper {
public:
  McjitPerModule(Kind k, ManagerTime *mt) : kind_(k), mt_(mt) {}
  void load(int id) override {
    Engine e;
    e.ctx = std::make_unique<LLVMContext>();
    std::string err;
    e.ee.reset(EngineBuilder(parse_module(module_ir(id), *e.ctx))
                   .setEngineKind(EngineKind::JIT)
                   .setErrorStr(&err)
                   .setMCJITMemoryManager(std::make_unique<TimedRTDyld>(kind_, mt_))
                   .create());
    if (!e.ee)
      die("MCJIT: " + err);
    call_loaded(e.ee->getFunctionAddress("f" + std::to_string(id)), id);
    engines_.push_back(std::move(e));
  }
  void free_all() override { engines_.clear(); }

private:
  struct Engine {
    std::unique_ptr<LLVMContext> ctx;
    std::unique_ptr<ExecutionEngine> ee; // destroyed before its context
  };
  Kind kind_;
  ManagerTime *mt_;
  std::vector<Engine> engines_;
};

// ORC LLJIT (RuntimeDyld or JITLink layer), each module under a
// ResourceTracker of its own, every tracker kept.
class OrcKeeper final : public Keeper {
public:
  OrcKeeper(bool jitlink, Kind k, ManagerTime *mt) : jit_(make_lljit(jitlink, k, mt, false)) {}
  ~OrcKeeper() override { free_all(); }
  void load(int id) override {
    auto ctx = std::make_unique<LLVMContext>();
    auto m = parse_module(module_ir(id), *ctx);
    auto rt = jit_->getMainJITDylib().createResourceTracker();
    check(jit_->addIRModule(rt, ThreadSafeModule(std::move(m), std::move(ctx))), "addIRModule");
    call_loaded(check(jit_->lookup("f" + std::to_string(id)), "lookup").getValue(), id);
    trackers_.push_back(std::move(rt));
  }
  void free_all() override {
    for (auto &rt : trackers_)
      check(rt->remove(), "remove");
    trackers_.clear();
  }

private:
  std::unique_ptr<LLJIT> jit_;
  std::vector<ResourceTrackerSP> trackers_;
};

static std::unique_ptr<Keeper> make_keeper(const std::string &path, Kind k, ManagerTime *mt) {
  if (path == "mcjit_one")
    return std::make_unique<McjitOneEngine>(k, mt);
  if (path == "mcjit")
    return std::make_unique<McjitPerModule>(k, mt);
  if (path == "orc_rtdyld" || path == "orc_jitlink")
    return std::make_unique<OrcKeeper>(path == "orc_jitlink", k, mt);
  die("unknown path " + path);
}

// Loads modules into one JIT up to each checkpoint, keeping them all; at
// each, the cost per module over the last modules before it (manager time
// and the JIT thread's CPU time), then the cost per module of freeing them
// all.  LLVM's managers take VMAs per module and stop short of
// vm.max_map_count, where mmap fails and RuntimeDyld aborts.
static void scale(const std::string &path, Kind k, const std::vector<int> &checkpoints) {
  std::string key = "scale." + path + "." + kind_name(k);
  ManagerTime mt;
  auto keeper = make_keeper(path, k, &mt);
  const long limit = vm_max_map_count();
  const size_t vmas0 = read_maps().size();
  int loaded = 0;
  for (int n : checkpoints) {
    if (n <= loaded)
      continue;
    const int window = std::min(500, std::max(1, n / 2));
    const int start = std::max(loaded, n - window);
    bool stopped = false;
    while (loaded < start) {
      if (loaded % 500 == 0 && long(read_maps().size()) + 4 * (500 + window) + 1000 > limit) {
        stopped = true;
        break;
      }
      keeper->load(loaded++);
    }
    if (stopped || long(read_maps().size()) + 4 * window + 1000 > limit)
      break;
    // Manager time is wall-clock: the median of ten slices of the window
    // leaves out the slices in which the thread was descheduled mid-call.
    const int slices = std::min(10, n - start);
    std::vector<double> slice_ns;
    uint64_t cpu0 = thread_cpu_ns();
    for (int i = 0; i < slices; ++i) {
      const int end = start + (n - start) * (i + 1) / slices;
      const int first = loaded;
      mt.reset();
      for (; loaded < end; ++loaded)
        keeper->load(loaded);
      slice_ns.push_back(mt.ns() / std::max(1, end - first));
    }
    double cpu = double(thread_cpu_ns() - cpu0);
    std::sort(slice_ns.begin(), slice_ns.end());
    std::string at = key + "." + std::to_string(n);
    emit(at + ".manager_ns", slice_ns[slice_ns.size() / 2]);
    emit(at + ".modules_per_s", (n - start) / (cpu / 1e9));
    emit(at + ".vmas", double(read_maps().size()) - double(vmas0));
  }
  emit(key + ".loaded", loaded);
  mt.reset();
  uint64_t cpu0 = thread_cpu_ns();
  keeper->free_all();
  double cpu = double(thread_cpu_ns() - cpu0);
  emit(key + ".free_manager_ns", mt.ns() / std::max(1, loaded));
  emit(key + ".free_cpu_ns", cpu / std::max(1, loaded));
  // The perf map jitmm wrote for this process (a line per function) is a
  // by-product of the measurement.
  if (k == Kind::DualMapDebug)
    std::remove(("/tmp/perf-" + std::to_string(getpid()) + ".map").c_str());
}

static std::vector<int> parse_counts(const std::string &list) {
  std::vector<int> counts;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ','))
    counts.push_back(std::atoi(item.c_str()));
  if (counts.empty() || !std::is_sorted(counts.begin(), counts.end()) || counts.front() <= 0)
    die("checkpoints must be ascending positive counts: " + list);
  return counts;
}

// ---- main ----------------------------------------------------------------------------------

// RuntimeDyld aborts when a manager returns no memory; jitmm says why in
// its last error.
static void on_fatal_error(void *, const char *reason, bool) {
  std::fprintf(stderr, "mm_bench: LLVM: %s (jitmm: %s)\n", reason, jitmm_last_error());
  std::fflush(stderr);
  std::_Exit(3);
}

int main(int argc, char **argv) {
  install_fatal_error_handler(on_fatal_error);
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  InitializeNativeTargetAsmParser();
  calibrate();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 4 && args[0] == "live") {
    live(args[1] == "rtdyld", parse_kind(args[2]), std::atoi(args[3].c_str()));
    return 0;
  }
  if (args.size() == 4 && args[0] == "scale") {
    scale(args[1], parse_kind(args[2]), parse_counts(args[3]));
    return 0;
  }
  if (args.size() == 5 && args[0] == "micro") {
    MicroResult r =
        micro(args[1] == "rtdyld", parse_kind(args[2]), parse_size(args[3]), std::atoi(args[4].c_str()));
    emit("micro.ns", r.ns_per_object);
    emit("micro.syscalls", r.syscalls_per_object);
    emit("micro.core_syscalls", r.core_syscalls_per_object);
    return 0;
  }
  if (args.size() != 6 || args[0] != "main")
    die("usage: mm_bench main <small> <medium> <large> <modules> <thread-modules> | live "
        "<rtdyld|jitlink> <manager> <objects> | micro <rtdyld|jitlink> <manager> <size> <objects> | "
        "scale <mcjit_one|mcjit|orc_rtdyld|orc_jitlink> <manager> <n1,n2,...>");
  int counts[3] = {std::atoi(args[1].c_str()), std::atoi(args[2].c_str()),
                   std::atoi(args[3].c_str())};
  int modules = std::atoi(args[4].c_str());
  int thread_modules = std::atoi(args[5].c_str());
  emit("timer.region_overhead_ns", g_region_overhead * g_ns_per_tick);

  // 1 + 2
  for (bool rtdyld : {true, false}) {
    Kind llvm_kind = rtdyld ? Kind::SMM : Kind::IPMM;
    for (SizeClass s : {SizeClass::Small, SizeClass::Medium, SizeClass::Large}) {
      for (Kind k : {llvm_kind, Kind::DualMap, Kind::Mprotect}) {
        MicroResult r = micro(rtdyld, k, s, counts[int(s)]);
        std::string key = std::string("micro.") + (rtdyld ? "rtdyld." : "jitlink.") +
                          size_name(s) + "." + kind_name(k);
        emit(key + ".ns", r.ns_per_object);
        emit(key + ".syscalls", r.syscalls_per_object);
        if (k != llvm_kind)
          emit(key + ".core_syscalls", r.core_syscalls_per_object);
      }
    }
  }
  // 4 + 5: whole-JIT rates, which drift on a shared machine. Each case runs
  // kRounds times, the rounds interleaved across managers so that drift
  // hits every manager alike; the median round is reported.
  struct Case {
    std::string key;
    std::function<E2E()> run;
  };
  std::vector<Case> cases;
  for (Kind k : {Kind::SMM, Kind::DualMap, Kind::Mprotect})
    cases.push_back({std::string("e2e.mcjit.") + kind_name(k), [=] { return e2e_mcjit(k, modules); }});
  for (bool jitlink : {false, true})
    for (Kind k : {jitlink ? Kind::IPMM : Kind::SMM, Kind::DualMap, Kind::Mprotect})
      cases.push_back({std::string("e2e.") + (jitlink ? "orc_jitlink." : "orc_rtdyld.") + kind_name(k),
                       [=] { return e2e_orc(jitlink, k, modules); }});
  for (int threads : {1, 2})
    for (Kind k : {Kind::IPMM, Kind::DualMap, Kind::Mprotect})
      cases.push_back({"threads." + std::to_string(threads) + "." + kind_name(k), [=] {
                         return E2E{threads_orc_jitlink(k, threads, thread_modules / threads), -1};
                       }});
  constexpr int kRounds = 3;
  std::vector<std::vector<E2E>> rounds(cases.size());
  for (int r = 0; r < kRounds; ++r)
    for (size_t i = 0; i < cases.size(); ++i)
      rounds[i].push_back(cases[i].run());
  for (size_t i = 0; i < cases.size(); ++i) {
    emit(cases[i].key + ".modules_per_s", median(rounds[i], &E2E::modules_per_s));
    if (rounds[i][0].manager_share >= 0)
      emit(cases[i].key + ".share", median(rounds[i], &E2E::manager_share));
  }
  return 0;
}
