// A C++ client of jitmm: one tiny module JIT-compiled through MCJIT
// (EngineBuilder::setMCJITMemoryManager) and through ORC on JITLink (an
// ObjectLinkingLayer on jitmm's JITLinkMemoryManager), both from
// jitmm.hpp.
//
// Build against the shared library:
//   c++ examples/cpp_client.cpp -Icshim $(llvm-config-19 --cxxflags) \
//       -Ltarget/debug -ljitmm $(llvm-config-19 --ldflags) -lLLVM-19 -o cpp_client
// or with the pkg-config file the build writes next to the libraries:
//   c++ examples/cpp_client.cpp \
//       $(PKG_CONFIG_PATH=target/debug pkg-config --cflags --libs jitmm) -o cpp_client
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include <llvm/ExecutionEngine/ExecutionEngine.h>
#include <llvm/ExecutionEngine/JITLink/EHFrameSupport.h>
#include <llvm/ExecutionEngine/MCJIT.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/IRReader/IRReader.h>
#include <llvm/Support/SourceMgr.h>
#include <llvm/Support/TargetSelect.h>

#include "compat.h"
#include "jitmm.hpp"

using namespace llvm;
using namespace llvm::orc;

static const char *ir = R"(
@scale = constant i64 3
define i64 @triple(i64 %x) {
  %s = load i64, ptr @scale
  %r = mul i64 %x, %s
  ret i64 %r
}
)";

static std::unique_ptr<Module> parse(LLVMContext &context) {
  SMDiagnostic diag;
  auto module = parseIR(MemoryBufferRef(ir, "cpp_client"), diag, context);
  if (!module)
    std::fprintf(stderr, "parse: %s\n", diag.getMessage().str().c_str());
  return module;
}

static uint64_t objects_live() {
  jitmm_stats stats = JITMM_STATS_INIT;
  jitmm_stats_get(&stats);
  return stats.objects_live;
}

static bool run_mcjit() {
  LLVMContext context;
  auto module = parse(context);
  if (!module)
    return false;
  auto manager = jitmm::createRTDyldMemoryManager();
  if (!manager) {
    std::fprintf(stderr, "jitmm: %s\n", jitmm_last_error());
    return false;
  }
  std::string error;
  std::unique_ptr<ExecutionEngine> engine(EngineBuilder(std::move(module))
                                              .setEngineKind(EngineKind::JIT)
                                              .setErrorStr(&error)
                                              .setMCJITMemoryManager(std::move(manager))
                                              .create());
  if (!engine) {
    std::fprintf(stderr, "MCJIT: %s\n", error.c_str());
    return false;
  }
  auto triple = reinterpret_cast<int64_t (*)(int64_t)>(engine->getFunctionAddress("triple"));
  int64_t result = triple ? triple(14) : -1;
  std::printf("MCJIT:       triple(14) = %lld\n", static_cast<long long>(result));
  engine.reset(); // frees the code
  return result == 42;
}

static bool check(Error error, const char *what) {
  if (!error)
    return true;
  std::fprintf(stderr, "%s: %s\n", what, toString(std::move(error)).c_str());
  return false;
}

static bool run_jitlink() {
#if defined(__s390x__) || defined(__mips__)
  // LLVM has no JITLink backend for SystemZ or MIPS: ORC links with
  // RuntimeDyld there (jitmm::createRTDyldMemoryManager).
  std::printf("ORC JITLink: no JITLink backend for this architecture\n");
  return true;
#endif
  auto jtmb = JITTargetMachineBuilder::detectHost();
  if (!jtmb)
    return check(jtmb.takeError(), "target");
  // jitmm places every section within range of the small code model;
  // LLJIT does not choose PIC / small itself once a layer is supplied.
  jtmb->setRelocationModel(jitmm::relocationModel());
  jtmb->setCodeModel(CodeModel::Small);
  auto jit = LLJITBuilder()
                 .setJITTargetMachineBuilder(std::move(*jtmb))
                 .setObjectLinkingLayerCreator(
                     // (compat.h: LLVM 22's creator has no triple parameter.)
                     [](JITMM_LLJIT_LAYER_CREATOR_PARAMS(session))
                         -> Expected<std::unique_ptr<ObjectLayer>> {
                       jitmm::Config config{}; // value-initialised: the defaults
                       auto manager = jitmm::createJITLinkMemoryManager(config);
                       if (!manager)
                         return make_error<StringError>(jitmm_last_error(),
                                                        inconvertibleErrorCode());
                       auto layer =
                           std::make_unique<ObjectLinkingLayer>(session, std::move(manager));
                       // So that C++ exceptions unwind through JIT code.
                       if (Error e = jitmm_compat::addEHFramePlugin(*layer, session))
                         return std::move(e);
                       return std::move(layer);
                     })
                 .create();
  if (!jit)
    return check(jit.takeError(), "LLJIT");
  auto context = std::make_unique<LLVMContext>();
  auto module = parse(*context);
  if (!module)
    return false;
  auto tracker = (*jit)->getMainJITDylib().createResourceTracker();
  if (!check((*jit)->addIRModule(tracker, ThreadSafeModule(std::move(module), std::move(context))),
             "add module"))
    return false;
  auto address = (*jit)->lookup("triple");
  if (!address)
    return check(address.takeError(), "lookup");
  int64_t result = address->toPtr<int64_t (*)(int64_t)>()(14);
  std::printf("ORC JITLink: triple(14) = %lld\n", static_cast<long long>(result));
  std::printf("jitmm: %llu object(s) live\n", static_cast<unsigned long long>(objects_live()));
  if (!check(tracker->remove(), "remove")) // frees the code
    return false;
  uint64_t live = objects_live();
  std::printf("after removal: %llu object(s) live\n", static_cast<unsigned long long>(live));
  return result == 42 && live == 0;
}

int main() {
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  LLVMLinkInMCJIT();
  bool ok = run_mcjit();
  ok = run_jitlink() && ok;
  std::printf("%s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
