// C++ exceptions through JIT code on jitmm, under DualMap and Mprotect:
// LLJIT on JITLink (jitmm::createJITLinkMemoryManager in an
// ObjectLinkingLayer, and the C creator jitmm_orc_jitlink_layer), LLJIT on
// RuntimeDyld (the C creator jitmm_orc_rtdyld_layer), and MCJIT
// (EngineBuilder::setMCJITMemoryManager with jitmm::createRTDyldMemoryManager).
//
// Modules call each other and host functions; a C++ exception thrown in
// host code unwinds through JIT-compiled frames (one plain, one with a
// cleanup landing pad) and is caught in host code; the module is then
// removed and a module with a different frame layout is loaded at the
// reused addresses, and unwinding through it is still correct (stale unwind
// info for the old code would send the unwinder astray).  And four threads
// add IR modules to one LLJIT with concurrent compilation.
//
// JITMM_TEST_MEMORY_MANAGER=llvm runs the same cases on LLVM's own managers
// instead, for comparison (once, not per strategy): JITLink on
// jitlink::InProcessMemoryManager, the RuntimeDyld layer and MCJIT on
// SectionMemoryManager.  JITMM_TEST_CASES (comma list) runs only the cases
// whose names contain one of its words (a case that ends the process, e.g.
// by std::terminate, hides the ones after it).
//
// Built with -fexceptions after llvm-config's flags.  Prints
// "N passed, M failed".
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <llvm/ExecutionEngine/ExecutionEngine.h>
#include <llvm/ExecutionEngine/JITLink/JITLinkMemoryManager.h>
#include <llvm/ExecutionEngine/MCJIT.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/ExecutorProcessControl.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/ExecutionEngine/Orc/RTDyldObjectLinkingLayer.h>
// SelfExecutorProcessControl: in ExecutorProcessControl.h up to LLVM 19, in
// a header of its own later.
#if __has_include(<llvm/ExecutionEngine/Orc/SelfExecutorProcessControl.h>)
#include <llvm/ExecutionEngine/Orc/SelfExecutorProcessControl.h>
#endif
#include <llvm/ExecutionEngine/Orc/TaskDispatch.h>
#include <llvm/ExecutionEngine/SectionMemoryManager.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IRReader/IRReader.h>
#include <llvm/Support/SourceMgr.h>
#include <llvm/Support/TargetSelect.h>

#include "check.h"
#include "compat.h"
#include "jitmm.hpp"

using namespace llvm;
using namespace llvm::orc;

// JITMM_TEST_MEMORY_MANAGER=llvm: LLVM's own managers instead of jitmm's.
static bool llvm_managers() {
  const char *env = std::getenv("JITMM_TEST_MEMORY_MANAGER");
  return env && std::strcmp(env, "llvm") == 0;
}

// Whether the case `name` runs (JITMM_TEST_CASES, see the top).
static bool selected(const std::string &name) {
  const char *env = std::getenv("JITMM_TEST_CASES");
  if (!env || !*env)
    return true;
  std::string list(env);
  for (size_t start = 0; start <= list.size();) {
    size_t end = std::min(list.find(',', start), list.size());
    std::string word = list.substr(start, end - start);
    if (!word.empty() && name.find(word) != std::string::npos)
      return true;
    start = end + 1;
  }
  return false;
}

// ---- Host side --------------------------------------------------------------

struct HostError {
  int value;
};

static int cleanups = 0;
static int64_t fills = 0;

extern "C" void host_throw(int value) { throw HostError{value}; }
extern "C" void host_note(int) { ++cleanups; }
extern "C" void host_fill(int64_t *buf, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    buf[i] = i;
  fills += n;
}
extern "C" int64_t host_add(int64_t a, int64_t b) { return a + b; }

// ---- JIT side -----------------------------------------------------------------

// Frames that let the exception pass: a plain one, and one whose cleanup
// landing pad runs (needs the LSDA and the personality) and resumes.
static const char *module_a = R"(
declare void @host_throw(i32)
declare void @host_note(i32)
declare i32 @__gxx_personality_v0(...)

define void @jit_pass(i32 %v) uwtable {
  call void @host_throw(i32 %v)
  ret void
}

define void @jit_cleanup(i32 %v) uwtable personality ptr @__gxx_personality_v0 {
entry:
  invoke void @host_throw(i32 %v) to label %ok unwind label %lp
ok:
  ret void
lp:
  %e = landingpad { ptr, i32 } cleanup
  call void @host_note(i32 %v)
  resume { ptr, i32 } %e
}
)";

// Calls into module A and the host.
static const char *module_b = R"(
declare void @jit_cleanup(i32)
declare i64 @host_add(i64, i64)

define i64 @jit_sum(i64 %a, i64 %b) {
  %s = call i64 @host_add(i64 %a, i64 %b)
  %t = mul i64 %s, 2
  ret i64 %t
}

define void @jit_through_a(i32 %v) uwtable {
  call void @jit_cleanup(i32 %v)
  ret void
}
)";

// Loaded where module A was: a different frame (a large stack buffer, so
// the canonical frame address differs from jit_pass's) and a cleanup.
static const char *module_c = R"(
declare void @host_throw(i32)
declare void @host_note(i32)
declare void @host_fill(ptr, i64)
declare i32 @__gxx_personality_v0(...)

define void @jit_deep(i32 %v) uwtable personality ptr @__gxx_personality_v0 {
entry:
  %buf = alloca [300 x i64], align 16
  call void @host_fill(ptr %buf, i64 300)
  invoke void @host_throw(i32 %v) to label %ok unwind label %lp
ok:
  ret void
lp:
  %e = landingpad { ptr, i32 } cleanup
  call void @host_note(i32 %v)
  resume { ptr, i32 } %e
}

define void @jit_deep_plain(i32 %v) uwtable {
  %buf = alloca [40 x i64], align 16
  call void @host_fill(ptr %buf, i64 40)
  call void @jit_deep(i32 %v)
  ret void
}
)";

static Expected<ThreadSafeModule> parse(const char *ir, const char *name) {
  auto context = std::make_unique<LLVMContext>();
  SMDiagnostic diag;
  auto module = parseIR(MemoryBufferRef(ir, name), diag, *context);
  if (!module)
    return make_error<StringError>(std::string(name) + ": " + diag.getMessage().str(),
                                   inconvertibleErrorCode());
  return ThreadSafeModule(std::move(module), std::move(context));
}

// Parses `ir` and adds it to `jit` under `tracker`.
static Error add(LLJIT &jit, const ResourceTrackerSP &tracker, const char *ir, const char *name) {
  auto tsm = parse(ir, name);
  if (!tsm)
    return tsm.takeError();
  return jit.addIRModule(tracker, std::move(*tsm));
}

enum class Via { CxxManager, CLayer, RTDyldLayer };

static const char *via_name(Via via) {
  if (llvm_managers())
    return via == Via::RTDyldLayer ? "RTDyldObjectLinkingLayer on SectionMemoryManager"
                                   : "ObjectLinkingLayer on InProcessMemoryManager";
  switch (via) {
  case Via::CxxManager:
    return "createJITLinkMemoryManager";
  case Via::CLayer:
    return "jitmm_orc_jitlink_layer";
  case Via::RTDyldLayer:
    return "jitmm_orc_rtdyld_layer";
  }
  return "?";
}

static Expected<std::unique_ptr<LLJIT>> make_jit(Via via, const jitmm::Config *config,
                                                 bool concurrent = false) {
  auto jtmb = JITTargetMachineBuilder::detectHost();
  if (!jtmb)
    return jtmb.takeError();
  // What the jitmm layers expect (LLJIT only picks these for its own layer).
  jtmb->setRelocationModel(jitmm::relocationModel());
  jtmb->setCodeModel(CodeModel::Small);
  LLJITBuilder builder;
  builder.setJITTargetMachineBuilder(std::move(*jtmb));
  // One TargetMachine per compile, so that threads may compile at once.
  builder.setSupportConcurrentCompilation(concurrent);
  if (concurrent) {
    // Tasks run on the thread that starts them, so each module is compiled
    // and linked on the thread that looks it up. Left to itself, LLJIT with
    // concurrent compilation makes a DynamicThreadPoolTaskDispatcher, which
    // starts a detached std::thread for every task (some 490 per
    // four_threads_adding_modules case): that tests LLVM's dispatcher and
    // hundreds of detached threads, not the memory manager.
    auto epc = SelfExecutorProcessControl::Create(nullptr, std::make_unique<InPlaceTaskDispatcher>());
    if (!epc)
      return epc.takeError();
    builder.setExecutorProcessControl(std::move(*epc));
  }
  if (llvm_managers() && via == Via::RTDyldLayer) {
    builder.setObjectLinkingLayerCreator(
        [](JITMM_LLJIT_LAYER_CREATOR_PARAMS(es)) -> Expected<std::unique_ptr<ObjectLayer>> {
          auto layer = std::make_unique<RTDyldObjectLinkingLayer>(
              es, [](JITMM_RTDYLD_FACTORY_PARAMS) { return std::make_unique<SectionMemoryManager>(); });
          // As jitmm_orc_rtdyld_layer does on ELF (DW.ref.__gxx_personality_v0).
          layer->setAutoClaimResponsibilityForObjectSymbols(true);
          return std::move(layer);
        });
  } else if (llvm_managers()) {
    builder.setObjectLinkingLayerCreator(
        [](JITMM_LLJIT_LAYER_CREATOR_PARAMS(es)) -> Expected<std::unique_ptr<ObjectLayer>> {
          auto manager = jitlink::InProcessMemoryManager::Create();
          if (!manager)
            return manager.takeError();
          auto layer = std::make_unique<ObjectLinkingLayer>(es, std::move(*manager));
          if (Error e = jitmm_compat::addEHFramePlugin(*layer, es))
            return std::move(e);
          return std::move(layer);
        });
  } else if (via == Via::CxxManager) {
    builder.setObjectLinkingLayerCreator(
        [config](JITMM_LLJIT_LAYER_CREATOR_PARAMS(es)) -> Expected<std::unique_ptr<ObjectLayer>> {
          auto manager = jitmm::createJITLinkMemoryManager(*config);
          if (!manager)
            return make_error<StringError>(jitmm_last_error(), inconvertibleErrorCode());
          auto layer = std::make_unique<ObjectLinkingLayer>(es, std::move(manager));
          if (Error e = jitmm_compat::addEHFramePlugin(*layer, es))
            return std::move(e);
          return std::move(layer);
        });
  } else {
    auto creator = via == Via::CLayer ? jitmm_orc_jitlink_layer : jitmm_orc_rtdyld_layer;
    builder.setObjectLinkingLayerCreator(
        [config, creator](JITMM_LLJIT_LAYER_CREATOR_PARAMS(es))
            -> Expected<std::unique_ptr<ObjectLayer>> {
          LLVMOrcObjectLayerRef layer = creator(
              const_cast<jitmm::Config *>(config), reinterpret_cast<LLVMOrcExecutionSessionRef>(&es),
              es.getTargetTriple().str().c_str());
          if (!layer)
            return make_error<StringError>(jitmm_last_error(), inconvertibleErrorCode());
          return std::unique_ptr<ObjectLayer>(reinterpret_cast<ObjectLayer *>(layer));
        });
  }
  auto jit = builder.create();
  if (!jit)
    return jit.takeError();
  auto &jd = (*jit)->getMainJITDylib();
  auto &es = (*jit)->getExecutionSession();
  SymbolMap host;
  auto define = [&](const char *name, void *addr) {
    host[(*jit)->mangleAndIntern(name)] = {ExecutorAddr::fromPtr(addr),
                                           JITSymbolFlags::Exported | JITSymbolFlags::Callable};
  };
  define("host_throw", reinterpret_cast<void *>(&host_throw));
  define("host_note", reinterpret_cast<void *>(&host_note));
  define("host_fill", reinterpret_cast<void *>(&host_fill));
  define("host_add", reinterpret_cast<void *>(&host_add));
  if (Error err = jd.define(absoluteSymbols(std::move(host))))
    return std::move(err);
  // The personality routine and the rest of the C++ runtime.
  auto gen = DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!gen)
    return gen.takeError();
  jd.addGenerator(std::move(*gen));
  (void)es;
  return jit;
}

template <typename T> static T lookup(LLJIT &jit, const char *name, bool &ok) {
  auto addr = jit.lookup(name);
  if (!addr) {
    std::printf("FAIL lookup %s: %s\n", name, toString(addr.takeError()).c_str());
    ok = false;
    return nullptr;
  }
  return addr->toPtr<T>();
}

// Calls f(v) and returns the value of the HostError caught, or -1.
static int caught(void (*f)(int), int v) {
  try {
    f(v);
  } catch (const HostError &e) {
    return e.value;
  } catch (...) {
    return -2;
  }
  return -1;
}

// MCJIT: one engine with modules A and B, deleted (its EH frames are
// deregistered, its memory freed), then an engine with module C, whose code
// lands on the freed addresses; unwinding through both is correct.
static bool mcjit_exceptions(jitmm_strategy strategy) {
  bool ok = true;
  jitmm::Config config{};
  config.strategy = strategy;
  auto before = stats();
  auto engine = [&](const char *ir, const char *name) -> std::unique_ptr<ExecutionEngine> {
    auto context = std::make_unique<LLVMContext>();
    SMDiagnostic diag;
    auto module = parseIR(MemoryBufferRef(ir, name), diag, *context);
    if (!module) {
      std::printf("FAIL %s: %s\n", name, diag.getMessage().str().c_str());
      return nullptr;
    }
    std::string error;
    // The engine owns the module; the context must outlive both.
    static std::vector<std::unique_ptr<LLVMContext>> contexts;
    contexts.push_back(std::move(context));
    EngineBuilder builder(std::move(module));
    builder.setEngineKind(EngineKind::JIT).setErrorStr(&error);
    // Without a manager of its own MCJIT makes a SectionMemoryManager.
    if (!llvm_managers())
      builder.setMCJITMemoryManager(jitmm::createRTDyldMemoryManager(config));
    std::unique_ptr<ExecutionEngine> ee(builder.create());
    if (!ee)
      std::printf("FAIL MCJIT: %s\n", error.c_str());
    else
      ee->finalizeObject();
    return ee;
  };
  uintptr_t old_lo = 0, old_hi = 0;
  {
    auto ee = engine(module_a, "a");
    CHECK(ee != nullptr);
    if (!ee)
      return false;
    auto pass = reinterpret_cast<void (*)(int)>(ee->getFunctionAddress("jit_pass"));
    auto cleanup = reinterpret_cast<void (*)(int)>(ee->getFunctionAddress("jit_cleanup"));
    CHECK(pass && cleanup);
    if (!pass || !cleanup)
      return false;
    CHECK(wx_mappings() == 0);
    CHECK(caught(pass, 3) == 3);
    cleanups = 0;
    CHECK(caught(cleanup, 4) == 4);
    CHECK(cleanups == 1);
    old_lo = std::min(reinterpret_cast<uintptr_t>(pass), reinterpret_cast<uintptr_t>(cleanup));
    old_hi = std::max(reinterpret_cast<uintptr_t>(pass), reinterpret_cast<uintptr_t>(cleanup));
  }
  {
    auto ee = engine(module_c, "c");
    CHECK(ee != nullptr);
    if (!ee)
      return false;
    auto deep = reinterpret_cast<void (*)(int)>(ee->getFunctionAddress("jit_deep"));
    auto deep_plain = reinterpret_cast<void (*)(int)>(ee->getFunctionAddress("jit_deep_plain"));
    CHECK(deep && deep_plain);
    if (!deep || !deep_plain)
      return false;
    uintptr_t d = reinterpret_cast<uintptr_t>(deep);
    std::printf("  MCJIT: module A code at %#lx..%#lx, module C code at %#lx\n",
                (unsigned long)old_lo, (unsigned long)old_hi, (unsigned long)d);
    cleanups = 0;
    CHECK(caught(deep, 5) == 5);
    CHECK(caught(deep_plain, 6) == 6);
    CHECK(cleanups == 2);
  }
  auto after = stats();
  CHECK(after.objects_live == before.objects_live);
  CHECK(live_bytes(after) == live_bytes(before));
  return ok;
}

static bool exceptions_through_jit_frames(Via via, jitmm_strategy strategy) {
  bool ok = true;
  jitmm::Config config{};
  config.strategy = strategy;
  auto before = stats();
  {
    auto jit = make_jit(via, &config);
    CHECK_OK(jit.takeError());
    if (!jit)
      return false;
    auto &jd = (*jit)->getMainJITDylib();

    auto rt_a = jd.createResourceTracker();
    auto rt_b = jd.createResourceTracker();
    CHECK_OK(add(**jit, rt_a, module_a, "a"));
    CHECK_OK(add(**jit, rt_b, module_b, "b"));
    if (!ok)
      return false;

    auto pass = lookup<void (*)(int)>(**jit, "jit_pass", ok);
    auto cleanup = lookup<void (*)(int)>(**jit, "jit_cleanup", ok);
    auto sum = lookup<int64_t (*)(int64_t, int64_t)>(**jit, "jit_sum", ok);
    auto through = lookup<void (*)(int)>(**jit, "jit_through_a", ok);
    if (!ok)
      return false;
    CHECK(wx_mappings() == 0);
    CHECK(sum(20, 1) == 42);
    CHECK(caught(pass, 7) == 7);
    cleanups = 0;
    CHECK(caught(cleanup, 8) == 8);
    CHECK(cleanups == 1);
    // Two JIT frames from two modules.
    CHECK(caught(through, 9) == 9);
    CHECK(cleanups == 2);

    // Remove everything, then load C where A and B were.
    uintptr_t old_pass = reinterpret_cast<uintptr_t>(pass);
    uintptr_t old_cleanup = reinterpret_cast<uintptr_t>(cleanup);
    CHECK_OK(rt_b->remove());
    CHECK_OK(rt_a->remove());
    auto rt_c = jd.createResourceTracker();
    CHECK_OK(add(**jit, rt_c, module_c, "c"));
    if (!ok)
      return false;
    auto deep = lookup<void (*)(int)>(**jit, "jit_deep", ok);
    auto deep_plain = lookup<void (*)(int)>(**jit, "jit_deep_plain", ok);
    if (!ok)
      return false;
    uintptr_t lo = std::min(old_pass, old_cleanup);
    uintptr_t hi = std::max(old_pass, old_cleanup);
    uintptr_t d = reinterpret_cast<uintptr_t>(deep);
    uintptr_t dp = reinterpret_cast<uintptr_t>(deep_plain);
    std::printf("  module A code at %#lx..%#lx, module C code at %#lx, %#lx\n", (unsigned long)lo,
                (unsigned long)hi, (unsigned long)d, (unsigned long)dp);
    // The new code occupies the old code's addresses (jitmm's managers).
    CHECK(llvm_managers() || (d >= lo && d <= hi + 64) || (dp >= lo && dp <= hi + 64));
    CHECK(wx_mappings() == 0);
    cleanups = 0;
    fills = 0;
    CHECK(caught(deep, 10) == 10);
    CHECK(cleanups == 1);
    CHECK(caught(deep_plain, 11) == 11);
    CHECK(cleanups == 2);
    CHECK(fills == 300 + 40 + 300);
    CHECK_OK(rt_c->remove());
    auto mid = stats();
    CHECK(mid.objects_live <= before.objects_live + 2);
  }
  auto after = stats();
  CHECK(after.objects_live == before.objects_live);
  CHECK(live_bytes(after) == live_bytes(before));
  return ok;
}

// Four threads add IR modules to one LLJIT (compiled and linked on the
// adding thread), call them, and remove them; every module calls the host
// and a shared module.
static bool four_threads_adding_modules(Via via, jitmm_strategy strategy) {
  bool ok = true;
  jitmm::Config config{};
  config.strategy = strategy;
  auto before = stats();
  {
    auto jit = make_jit(via, &config, true);
    CHECK_OK(jit.takeError());
    if (!jit)
      return false;
    auto &jd = (*jit)->getMainJITDylib();
    CHECK_OK(add(**jit, jd.getDefaultResourceTracker(), module_b, "b"));
    CHECK_OK(add(**jit, jd.getDefaultResourceTracker(), module_a, "a"));
    // Linked before the threads start (see orc_jitlink.rs on LLVM 19).
    auto sum = lookup<int64_t (*)(int64_t, int64_t)>(**jit, "jit_sum", ok);
    if (!ok)
      return false;
    CHECK(sum(1, 2) == 6);
    std::atomic<int> errors{0}, wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 40; ++i) {
          std::string name = "f_" + std::to_string(t) + "_" + std::to_string(i);
          std::string ir = "declare i64 @jit_sum(i64, i64)\ndeclare i64 @host_add(i64, i64)\n"
                           "@k = internal global i64 " +
                           std::to_string(i) + "\ndefine i64 @" + name +
                           "(i64 %x) {\n  %k = load i64, ptr @k\n"
                           "  %a = call i64 @jit_sum(i64 %x, i64 %k)\n"
                           "  %b = call i64 @host_add(i64 %a, i64 1)\n  ret i64 %b\n}\n";
          auto rt = (*jit)->getMainJITDylib().createResourceTracker();
          if (Error e = add(**jit, rt, ir.c_str(), name.c_str())) {
            consumeError(std::move(e));
            ++errors;
            continue;
          }
          auto addr = (*jit)->lookup(name);
          if (!addr) {
            consumeError(addr.takeError());
            ++errors;
            continue;
          }
          int64_t x = t * 1000;
          if (addr->toPtr<int64_t (*)(int64_t)>()(x) != 2 * (x + i) + 1)
            ++wrong;
          if (Error e = rt->remove()) {
            consumeError(std::move(e));
            ++errors;
          }
        }
      });
    }
    for (auto &thread : threads)
      thread.join();
    CHECK(errors == 0);
    CHECK(wrong == 0);
    CHECK(wx_mappings() == 0);
  }
  auto after = stats();
  CHECK(after.objects_live == before.objects_live);
  CHECK(live_bytes(after) == live_bytes(before));
  return ok;
}

int main() {
  // Keep what was printed if a case crashes.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  LLVMLinkInMCJIT();
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  InitializeNativeTargetAsmParser();
  // JITMM_TEST_JITLINK=0 where LLVM has no JITLink backend for the target
  // (tests/llvm/exceptions.rs sets it from build.rs's cfg).
  // LLVM's managers: one JITLink way (both jitmm ones are the same layer on
  // LLVM's manager) and one run (no strategies).
  std::vector<Via> vias{Via::RTDyldLayer};
  if (JITMM_TEST_JITLINK)
    vias.insert(vias.begin(), Via::CxxManager);
  if (JITMM_TEST_JITLINK && !llvm_managers())
    vias.insert(vias.begin() + 1, Via::CLayer);
  std::vector<jitmm_strategy> strategies = test_strategies();
  if (llvm_managers())
    strategies.resize(std::min<size_t>(strategies.size(), 1));
  for (jitmm_strategy strategy : strategies) {
    std::string tail = llvm_managers()                          ? ")"
                       : strategy == JITMM_STRATEGY_DUALMAP ? ", dualmap)"
                                                            : ", mprotect)";
    for (Via via : vias) {
      std::string variant = std::string(" (") + via_name(via) + tail;
      std::string name = "exceptions_through_jit_frames" + variant;
      if (selected(name))
        record(name.c_str(), exceptions_through_jit_frames(via, strategy));
      name = "four_threads_adding_modules" + variant;
      if (via != Via::RTDyldLayer && selected(name))
        record(name.c_str(), four_threads_adding_modules(via, strategy));
    }
    std::string name = std::string("mcjit_exceptions (") +
                       (llvm_managers() ? "SectionMemoryManager)" : tail.substr(2));
    if (selected(name))
      record(name.c_str(), mcjit_exceptions(strategy));
  }
  return summary();
}
