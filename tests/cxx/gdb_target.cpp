// A program for GDB to stop in: JIT-compiles jitmm_gdb_probe_fn, which
// calls the host's jitmm_gdb_break, on jitmm with GDB registration on or
// off, through one of
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
// shows jitmm_gdb_probe_fn as its caller when registration is on.  Run
// without a debugger, it also checks GDB's list of registrations: one more
// entry while the code is loaded (with registration on), and back to where
// it was once the code is freed.  Prints "ok" and exits with 0 on success.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

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

// Not a tail call: the multiplication after the call keeps the frame.
static const char *ir = R"(
define i32 @jitmm_gdb_probe_fn(ptr %f, i32 %x) {
  %r = call i32 %f(i32 %x)
  %s = mul i32 %r, 3
  ret i32 %s
}
)";

using Probe = int (*)(int (*)(int), int);

static int entries() {
  int n = 0;
  for (jit_code_entry *e = __jit_debug_descriptor.first_entry; e; e = e->next_entry)
    ++n;
  return n;
}

static std::unique_ptr<Module> parse(LLVMContext &context) {
  SMDiagnostic diag;
  auto module = parseIR(MemoryBufferRef(ir, "gdb_probe"), diag, context);
  if (!module)
    std::fprintf(stderr, "parse: %s\n", diag.getMessage().str().c_str());
  return module;
}

static int fail(const std::string &what) {
  std::printf("FAIL %s: %s\n", what.c_str(), jitmm_last_error());
  return 1;
}

// Runs the probe, prints its result and GDB's entry counts, frees the code.
static int run(const std::string &backend, const jitmm::Config &config) {
  int before = entries(), loaded = -1, result = -1;
  if (backend == "mcjit") {
    auto context = std::make_unique<LLVMContext>();
    auto module = parse(*context);
    if (!module)
      return 1;
    std::string error;
    std::unique_ptr<ExecutionEngine> ee(EngineBuilder(std::move(module))
                                            .setEngineKind(EngineKind::JIT)
                                            .setErrorStr(&error)
                                            .setMCJITMemoryManager(jitmm::createRTDyldMemoryManager(config))
                                            .create());
    if (!ee)
      return fail("MCJIT: " + error);
    // LLVM 19's MCJIT gives every engine LLVM's GDB listener by itself.
    // Take it away, so that what is registered is jitmm's doing alone (the
    // manager puts it back when registration is on).
    ee->UnregisterJITEventListener(JITEventListener::createGDBRegistrationListener());
    auto probe = reinterpret_cast<Probe>(ee->getFunctionAddress("jitmm_gdb_probe_fn"));
    if (!probe)
      return fail("MCJIT lookup");
    result = probe(jitmm_gdb_break, 13);
    loaded = entries();
    ee.reset(); // frees the code
  } else {
    auto jtmb = JITTargetMachineBuilder::detectHost();
    if (!jtmb)
      return fail(toString(jtmb.takeError()));
    // What the jitmm layers expect (LLJIT only picks these for its own layer).
    jtmb->setRelocationModel(Reloc::PIC_);
    jtmb->setCodeModel(CodeModel::Small);
    LLJITBuilder builder;
    builder.setJITTargetMachineBuilder(std::move(*jtmb));
    if (backend == "jitlink-cxx") {
      bool debugger = config.debugger != 0;
      builder.setObjectLinkingLayerCreator(
          [&config, debugger](ExecutionSession &es,
                              const Triple &) -> Expected<std::unique_ptr<ObjectLayer>> {
            auto manager = jitmm::createJITLinkMemoryManager(config);
            if (!manager)
              return make_error<StringError>(jitmm_last_error(), inconvertibleErrorCode());
            auto layer = std::make_unique<ObjectLinkingLayer>(es, std::move(manager));
            layer->addPlugin(std::make_unique<EHFrameRegistrationPlugin>(
                es, std::make_unique<jitlink::InProcessEHFrameRegistrar>()));
            if (debugger)
              layer->addPlugin(jitmm::createGDBPlugin(es));
            return std::move(layer);
          });
    } else if (backend == "rtdyld" || backend == "jitlink") {
      auto creator = backend == "jitlink" ? jitmm_orc_jitlink_layer : jitmm_orc_rtdyld_layer;
      builder.setObjectLinkingLayerCreator(
          [&config, creator](ExecutionSession &es,
                             const Triple &tt) -> Expected<std::unique_ptr<ObjectLayer>> {
            LLVMOrcObjectLayerRef layer =
                creator(const_cast<jitmm::Config *>(&config),
                        reinterpret_cast<LLVMOrcExecutionSessionRef>(&es), tt.str().c_str());
            if (!layer)
              return make_error<StringError>(jitmm_last_error(), inconvertibleErrorCode());
            return std::unique_ptr<ObjectLayer>(reinterpret_cast<ObjectLayer *>(layer));
          });
    } else {
      std::printf("unknown backend %s\n", backend.c_str());
      return 2;
    }
    auto jit = builder.create();
    if (!jit)
      return fail(toString(jit.takeError()));
    auto tracker = (*jit)->getMainJITDylib().createResourceTracker();
    auto context = std::make_unique<LLVMContext>();
    auto module = parse(*context);
    if (!module)
      return 1;
    if (Error err = (*jit)->addIRModule(tracker, ThreadSafeModule(std::move(module), std::move(context))))
      return fail(toString(std::move(err)));
    auto addr = (*jit)->lookup("jitmm_gdb_probe_fn");
    if (!addr)
      return fail(toString(addr.takeError()));
    result = addr->toPtr<Probe>()(jitmm_gdb_break, 13);
    loaded = entries();
    if (Error err = tracker->remove()) // frees the code
      return fail(toString(std::move(err)));
  }
  int after = entries();
  std::printf("%s: probe(13) = %d\n", backend.c_str(), result);
  std::printf("gdb entries: before %d, loaded %d, after removal %d\n", before, loaded, after);
  const char *env = std::getenv("JITMM_GDB");
  bool on = config.debugger || (env && std::strcmp(env, "1") == 0);
  int expected = before + (on ? 1 : 0);
  bool ok = result == 42 && loaded == expected && after == before;
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
