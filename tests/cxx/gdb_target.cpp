// A program for GDB to stop in: JIT-compiles jitmm_gdb_old_fn, runs and
// frees it, then JIT-compiles jitmm_gdb_probe_fn at the same addresses and
// has it call the host's jitmm_gdb_break, on jitmm with GDB registration on
// or off, through one of
//
//   mcjit        EngineBuilder::setMCJITMemoryManager(jitmm::createRTDyldMemoryManager)
//   rtdyld       LLJIT with the C creator jitmm_orc_rtdyld_layer
//   jitlink      LLJIT with the C creator jitmm_orc_jitlink_layer
//   jitlink-cxx  LLJIT with an ObjectLinkingLayer on jitmm::createJITLinkMemoryManager
//                and jitmm::createGDBPlugin
//
// (LLVM 19's MCJIT registers with GDB by itself; the program takes that
// away so that the switch under test is jitmm's.)
//
// Usage: gdb_target <backend> <on|off>.  A breakpoint on jitmm_gdb_break
// shows jitmm_gdb_probe_fn as its caller when registration is on, and
// never the freed jitmm_gdb_old_fn.  Run without a debugger, it also checks
// GDB's list of registrations: one more entry while code is loaded (with
// registration on), and back to where it was once the code is freed.
// Prints "ok" and exits with 0 on success.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <llvm/ExecutionEngine/ExecutionEngine.h>
#include <llvm/ExecutionEngine/JITEventListener.h>
#include <llvm/ExecutionEngine/JITLink/EHFrameSupport.h>
#include <llvm/ExecutionEngine/MCJIT.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/ExecutionEngine/Orc/TargetProcess/JITLoaderGDB.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IRReader/IRReader.h>
#include <llvm/Support/SourceMgr.h>
#include <llvm/Support/TargetSelect.h>

#include "compat.h"
#include "jitmm.hpp"

using namespace llvm;
using namespace llvm::orc;

extern "C" struct jit_descriptor __jit_debug_descriptor;

// The breakpoint target.  Not inlined, and it does some work, so the call
// from JIT code is a real call with a return address into the JIT frame.
extern "C" __attribute__((noinline)) int jitmm_gdb_break(int x) {
  asm volatile("" ::: "memory");
  return x + 1;
}

// What the first, freed function calls instead (no breakpoint there).
extern "C" __attribute__((noinline)) int jitmm_gdb_quiet(int x) {
  asm volatile("" ::: "memory");
  return x + 1;
}

// `name`(f, x) = f(x) * 3.  Not a tail call: the multiplication after the
// call keeps the frame.
static std::string ir(const char *name) {
  return std::string("define i32 @") + name + R"((ptr %f, i32 %x) {
  %r = call i32 %f(i32 %x)
  %s = mul i32 %r, 3
  ret i32 %s
}
)";
}

using Probe = int (*)(int (*)(int), int);

static int entries() {
  int n = 0;
  for (jit_code_entry *e = __jit_debug_descriptor.first_entry; e; e = e->next_entry)
    ++n;
  return n;
}

static std::unique_ptr<Module> parse(LLVMContext &context, const std::string &text) {
  SMDiagnostic diag;
  auto module = parseIR(MemoryBufferRef(text, "gdb_probe"), diag, context);
  if (!module)
    std::fprintf(stderr, "parse: %s\n", diag.getMessage().str().c_str());
  return module;
}

static void fail(const std::string &what) {
  std::printf("FAIL %s: %s\n", what.c_str(), jitmm_last_error());
  std::exit(1);
}

// One backend: load(name) JIT-compiles a function and returns it; unload()
// frees its code.
struct Jit {
  virtual ~Jit() = default;
  virtual Probe load(const char *name) = 0;
  virtual void unload() = 0;
};

struct Mcjit final : Jit {
  explicit Mcjit(const jitmm::Config &config) : config(config) {}
  Probe load(const char *name) override {
    auto context = std::make_unique<LLVMContext>();
    auto module = parse(*context, ir(name));
    if (!module)
      std::exit(1);
    std::string error;
    ee.reset(EngineBuilder(std::move(module))
                 .setEngineKind(EngineKind::JIT)
                 .setErrorStr(&error)
                 .setMCJITMemoryManager(jitmm::createRTDyldMemoryManager(config))
                 .create());
    if (!ee)
      fail("MCJIT: " + error);
    contexts.push_back(std::move(context)); // outlives the engine
    // LLVM 19's MCJIT gives every engine LLVM's GDB listener by itself.
    // Take it away, so that what is registered is jitmm's doing alone (the
    // manager puts it back when registration is on).
    ee->UnregisterJITEventListener(JITEventListener::createGDBRegistrationListener());
    auto probe = reinterpret_cast<Probe>(ee->getFunctionAddress(name));
    if (!probe)
      fail("MCJIT lookup");
    return probe;
  }
  void unload() override { ee.reset(); } // frees the code

  jitmm::Config config;
  std::vector<std::unique_ptr<LLVMContext>> contexts;
  std::unique_ptr<ExecutionEngine> ee;
};

struct Orc final : Jit {
  Orc(const std::string &backend, const jitmm::Config &config) : config(config) {
    auto jtmb = JITTargetMachineBuilder::detectHost();
    if (!jtmb)
      fail(toString(jtmb.takeError()));
    // What the jitmm layers expect (LLJIT only picks these for its own layer).
    jtmb->setRelocationModel(jitmm::relocationModel());
    jtmb->setCodeModel(CodeModel::Small);
    LLJITBuilder builder;
    builder.setJITTargetMachineBuilder(std::move(*jtmb));
    const jitmm::Config *c = &this->config;
    if (backend == "jitlink-cxx") {
      builder.setObjectLinkingLayerCreator(
          [c](JITMM_LLJIT_LAYER_CREATOR_PARAMS(es)) -> Expected<std::unique_ptr<ObjectLayer>> {
            auto manager = jitmm::createJITLinkMemoryManager(*c);
            if (!manager)
              return make_error<StringError>(jitmm_last_error(), inconvertibleErrorCode());
            auto layer = std::make_unique<ObjectLinkingLayer>(es, std::move(manager));
            if (Error e = jitmm_compat::addEHFramePlugin(*layer, es))
              return std::move(e);
            if (c->debugger)
              layer->addPlugin(jitmm::createGDBPlugin(es));
            return std::move(layer);
          });
    } else {
      auto creator = backend == "jitlink" ? jitmm_orc_jitlink_layer : jitmm_orc_rtdyld_layer;
      builder.setObjectLinkingLayerCreator(
          [c, creator](JITMM_LLJIT_LAYER_CREATOR_PARAMS(es))
              -> Expected<std::unique_ptr<ObjectLayer>> {
            LLVMOrcObjectLayerRef layer = creator(
                const_cast<jitmm::Config *>(c), reinterpret_cast<LLVMOrcExecutionSessionRef>(&es),
                es.getTargetTriple().str().c_str());
            if (!layer)
              return make_error<StringError>(jitmm_last_error(), inconvertibleErrorCode());
            return std::unique_ptr<ObjectLayer>(reinterpret_cast<ObjectLayer *>(layer));
          });
    }
    auto created = builder.create();
    if (!created)
      fail(toString(created.takeError()));
    jit = std::move(*created);
  }
  Probe load(const char *name) override {
    tracker = jit->getMainJITDylib().createResourceTracker();
    auto context = std::make_unique<LLVMContext>();
    auto module = parse(*context, ir(name));
    if (!module)
      std::exit(1);
    if (Error err = jit->addIRModule(tracker, ThreadSafeModule(std::move(module), std::move(context))))
      fail(toString(std::move(err)));
    auto addr = jit->lookup(name);
    if (!addr)
      fail(toString(addr.takeError()));
    return addr->toPtr<Probe>();
  }
  void unload() override {
    if (Error err = tracker->remove()) // frees the code
      fail(toString(std::move(err)));
  }

  jitmm::Config config;
  std::unique_ptr<LLJIT> jit;
  ResourceTrackerSP tracker;
};

// Loads, runs and frees jitmm_gdb_old_fn, then does the same with
// jitmm_gdb_probe_fn, whose code lands on the freed addresses (the old
// function's registration must be gone by then, or GDB would see two
// functions there).  Prints the result and GDB's entry counts.
static int run(const std::string &backend, const jitmm::Config &config) {
  std::unique_ptr<Jit> jit;
  if (backend == "mcjit")
    jit = std::make_unique<Mcjit>(config);
  else if (backend == "rtdyld" || backend == "jitlink" || backend == "jitlink-cxx")
    jit = std::make_unique<Orc>(backend, config);
  else {
    std::printf("unknown backend %s\n", backend.c_str());
    return 2;
  }
  int before = entries();
  Probe old = jit->load("jitmm_gdb_old_fn");
  int old_result = old(jitmm_gdb_quiet, 13);
  jit->unload();
  int between = entries();
  Probe probe = jit->load("jitmm_gdb_probe_fn");
  int result = probe(jitmm_gdb_break, 13);
  int loaded = entries();
  jit->unload();
  int after = entries();
  std::printf("%s: probe(13) = %d, code at the freed address: %s\n", backend.c_str(), result,
              reinterpret_cast<void *>(probe) == reinterpret_cast<void *>(old) ? "yes" : "no");
  std::printf("gdb entries: before %d, loaded %d, after removal %d\n", before, loaded, after);
  const char *env = std::getenv("JITMM_GDB");
  bool on = config.debugger || (env && std::strcmp(env, "1") == 0);
  int expected = before + (on ? 1 : 0);
  bool ok = old_result == 42 && result == 42 && between == before && loaded == expected &&
            after == before;
  std::printf("%s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    std::printf("usage: %s mcjit|rtdyld|jitlink|jitlink-cxx on|off\n", argv[0]);
    return 2;
  }
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  LLVMLinkInMCJIT();
  jitmm::Config config{};
  config.debugger = std::strcmp(argv[2], "on") == 0;
  return run(argv[1], config);
}
