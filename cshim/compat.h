// Every difference between the supported LLVM versions (19 and 22), in one
// place. Included by the shim (C++) and by C and C++ clients (the example,
// tests/cxx, the bench driver): the part on LLVM's C API is plain C.
//
//   version  interface                               handled by
//   20       RTDyldObjectLinkingLayer's factory      JITMM_RTDYLD_FACTORY_PARAMS
//            takes a `const MemoryBuffer &`
//   20       EHFrameRegistrationPlugin in a header   JITMM_EH_FRAME_PLUGIN_HEADER
//            of its own
//   21       EHFrameRegistrationPlugin registers     JITMM_EH_FRAME_PLUGIN_ALLOC_ACTIONS
//            through allocation actions (::Create)
//   21       C API: LLVMOrcThreadSafeContextGet-     jitmm_compat_thread_safe_context()
//            Context removed; a ThreadSafeContext
//            is made from an LLVMContext instead
//   22       C API: LLVMParseIRInContext (consumes   jitmm_compat_parse_ir()
//            the buffer) deprecated for ...2
//            (leaves it to the caller)
//
// Rust code has the same two C API differences in `jitmm::compat`
// (src/compat.rs).
#ifndef JITMM_COMPAT_H
#define JITMM_COMPAT_H

#include <llvm/Config/llvm-config.h>

// ---- LLVM's C++ interfaces (the shim) --------------------------------------

// RTDyldObjectLinkingLayer's memory-manager factory gained a
// `const MemoryBuffer &` parameter after LLVM 19.
#if LLVM_VERSION_MAJOR >= 20
#define JITMM_RTDYLD_FACTORY_PARAMS const llvm::MemoryBuffer &
#else
#define JITMM_RTDYLD_FACTORY_PARAMS
#endif

// EHFrameRegistrationPlugin: in ObjectLinkingLayer.h and built on a
// jitlink::EHFrameRegistrar up to LLVM 19; in a header of its own later, and
// from LLVM 21 on registering through allocation actions it looks up itself
// (EHFrameRegistrationPlugin::Create).
#if defined(__has_include)
#if __has_include(<llvm/ExecutionEngine/Orc/EHFrameRegistrationPlugin.h>)
#define JITMM_EH_FRAME_PLUGIN_HEADER 1
#endif
#endif
#ifndef JITMM_EH_FRAME_PLUGIN_HEADER
#define JITMM_EH_FRAME_PLUGIN_HEADER 0
#endif
#if LLVM_VERSION_MAJOR >= 21
#define JITMM_EH_FRAME_PLUGIN_ALLOC_ACTIONS 1
#else
#define JITMM_EH_FRAME_PLUGIN_ALLOC_ACTIONS 0
#endif

// ---- LLVM's C API (clients) -------------------------------------------------

#include <llvm-c/Core.h>
#include <llvm-c/IRReader.h>
#include <llvm-c/Orc.h>

// A new ORC ThreadSafeContext, and in *context the LLVMContext it owns:
// create modules there, wrap each with LLVMOrcCreateNewThreadSafeModule and
// dispose of the ThreadSafeContext reference when done. LLVM 19 hands out
// the context of a new ThreadSafeContext; LLVM 21 removed
// LLVMOrcThreadSafeContextGetContext and makes one from a context instead.
static inline LLVMOrcThreadSafeContextRef
jitmm_compat_thread_safe_context(LLVMContextRef *context) {
#if LLVM_VERSION_MAJOR >= 21
  *context = LLVMContextCreate();
  return LLVMOrcCreateNewThreadSafeContextFromLLVMContext(*context);
#else
  LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
  *context = LLVMOrcThreadSafeContextGetContext(tsc);
  return tsc;
#endif
}

// LLVMParseIRInContext as LLVM 19 has it: parses textual IR into a module of
// `context`, consuming `buffer`. LLVM 22 deprecates it for
// LLVMParseIRInContext2, which leaves the buffer to the caller.
static inline LLVMBool jitmm_compat_parse_ir(LLVMContextRef context, LLVMMemoryBufferRef buffer,
                                             LLVMModuleRef *module, char **message) {
#if LLVM_VERSION_MAJOR >= 22
  LLVMBool failed = LLVMParseIRInContext2(context, buffer, module, message);
  LLVMDisposeMemoryBuffer(buffer);
  return failed;
#else
  return LLVMParseIRInContext(context, buffer, module, message);
#endif
}

#endif
