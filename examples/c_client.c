/* A plain C client of jitmm: the same module JIT-compiled through MCJIT and
 * through ORC LLJIT (RuntimeDyld layer), both on jitmm's memory manager.
 *
 * Build against the shared library (LLVM 19; for LLVM 22 use llvm-config-22
 * and -lLLVM-22):
 *   cc examples/c_client.c -Icshim $(llvm-config-19 --cflags) \
 *      -Ltarget/debug -ljitmm $(llvm-config-19 --ldflags) -lLLVM-19 -o c_client
 * or with the pkg-config files the build writes next to the libraries
 * (jitmm-static for libjitmm.a):
 *   cc examples/c_client.c \
 *      $(PKG_CONFIG_PATH=target/debug pkg-config --cflags --libs jitmm) -o c_client
 *
 * The two calls whose form differs between LLVM versions go through
 * cshim/compat.h (jitmm_compat_*).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>
#include <llvm-c/ExecutionEngine.h>
#include <llvm-c/IRReader.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "compat.h"
#include "jitmm.h"

static const char *IR =
    "@scale = constant i64 3\n"
    "define i64 @triple(i64 %x) {\n"
    "  %s = load i64, ptr @scale\n"
    "  %r = mul i64 %x, %s\n"
    "  ret i64 %r\n"
    "}\n";

static LLVMModuleRef parse(LLVMContextRef context) {
  LLVMMemoryBufferRef buffer =
      LLVMCreateMemoryBufferWithMemoryRangeCopy(IR, strlen(IR), "c_client");
  LLVMModuleRef module = NULL;
  char *error = NULL;
  if (jitmm_compat_parse_ir(context, buffer, &module, &error)) {
    fprintf(stderr, "parse: %s\n", error);
    exit(1);
  }
  return module;
}

static int check(LLVMErrorRef error, const char *what) {
  if (!error)
    return 0;
  char *message = LLVMGetErrorMessage(error);
  fprintf(stderr, "%s: %s\n", what, message);
  LLVMDisposeErrorMessage(message);
  return 1;
}

static int run_mcjit(void) {
  LLVMContextRef context = LLVMContextCreate();
  LLVMModuleRef module = parse(context);
  struct LLVMMCJITCompilerOptions options;
  LLVMInitializeMCJITCompilerOptions(&options, sizeof options);
  options.MCJMM = jitmm_mcjit_memory_manager_create(); /* MCJIT owns it */
  if (!options.MCJMM) {
    fprintf(stderr, "jitmm: %s\n", jitmm_last_error());
    return 1;
  }
  LLVMExecutionEngineRef engine;
  char *error = NULL;
  if (LLVMCreateMCJITCompilerForModule(&engine, module, &options, sizeof options, &error)) {
    fprintf(stderr, "MCJIT: %s\n", error);
    return 1;
  }
  int64_t (*triple)(int64_t) = (int64_t(*)(int64_t))LLVMGetFunctionAddress(engine, "triple");
  int64_t result = triple(14);
  printf("MCJIT:      triple(14) = %lld\n", (long long)result);
  LLVMDisposeExecutionEngine(engine); /* frees the code */
  LLVMContextDispose(context);
  return result == 42 ? 0 : 1;
}

static int run_orc(void) {
  /* The jitmm layers expect the small code model and JITMM_RELOC_MODEL. */
  char *triple_name = LLVMGetDefaultTargetTriple();
  LLVMTargetRef target;
  char *error = NULL;
  if (LLVMGetTargetFromTriple(triple_name, &target, &error)) {
    fprintf(stderr, "target: %s\n", error);
    return 1;
  }
  LLVMTargetMachineRef machine = LLVMCreateTargetMachine(
      target, triple_name, "", "", LLVMCodeGenLevelDefault, JITMM_RELOC_MODEL, LLVMCodeModelSmall);
  LLVMDisposeMessage(triple_name);

  LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
      builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(machine));
  jitmm_config config;
  jitmm_config_init(&config);
  LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator(builder, jitmm_orc_rtdyld_layer, &config);
  LLVMOrcLLJITRef jit;
  if (check(LLVMOrcCreateLLJIT(&jit, builder), "LLJIT"))
    return 1;

  LLVMContextRef context;
  LLVMOrcThreadSafeContextRef tsc = jitmm_compat_thread_safe_context(&context);
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(parse(context), tsc);
  LLVMOrcDisposeThreadSafeContext(tsc);
  LLVMOrcJITDylibRef dylib = LLVMOrcLLJITGetMainJITDylib(jit);
  LLVMOrcResourceTrackerRef tracker = LLVMOrcJITDylibCreateResourceTracker(dylib);
  if (check(LLVMOrcLLJITAddLLVMIRModuleWithRT(jit, tracker, tsm), "add module"))
    return 1;
  LLVMOrcExecutorAddress address;
  if (check(LLVMOrcLLJITLookup(jit, &address, "triple"), "lookup"))
    return 1;
  int64_t result = ((int64_t(*)(int64_t))address)(14);
  printf("ORC RTDyld: triple(14) = %lld\n", (long long)result);

  jitmm_stats stats = JITMM_STATS_INIT;
  jitmm_stats_get(&stats);
  printf("jitmm: %llu object(s) live, %llu bytes of code, %llu VMAs\n",
         (unsigned long long)stats.objects_live, (unsigned long long)stats.bytes_live_code,
         (unsigned long long)stats.vmas);
  if (check(LLVMOrcResourceTrackerRemove(tracker), "remove")) /* frees the code */
    return 1;
  LLVMOrcReleaseResourceTracker(tracker);
  jitmm_stats_get(&stats);
  printf("after removal: %llu object(s) live\n", (unsigned long long)stats.objects_live);
  if (check(LLVMOrcDisposeLLJIT(jit), "dispose"))
    return 1;
  return result == 42 && stats.objects_live == 0 ? 0 : 1;
}

int main(void) {
  LLVMLinkInMCJIT();
  LLVMInitializeNativeTarget();
  LLVMInitializeNativeAsmPrinter();
  int failed = run_mcjit() + run_orc();
  printf("%s\n", failed ? "FAILED" : "ok");
  return failed;
}
