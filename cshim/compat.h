// Every difference between the supported LLVM versions (19 and 22), in one
// place. Included by the shim (C++) and by C and C++ clients (the example,
// tests/cxx, the bench driver); the part on LLVM's C API is plain C.
//
// Only 19 and 22 are built and tested: a switch on `>= 20` means "after 19"
// and one on `>= 21` "by 21" (where the release is known); LLVM 20 and 21
// are not checked.
//
//   since  interface                                 handled by
//   20     RTDyldObjectLinkingLayer's memory-manager JITMM_RTDYLD_FACTORY_PARAMS
//          factory takes a `const MemoryBuffer &`
//   20     EHFrameRegistrationPlugin in a header of  JITMM_EH_FRAME_PLUGIN_HEADER
//          its own
//   21     EHFrameRegistrationPlugin registers       JITMM_EH_FRAME_PLUGIN_ALLOC_ACTIONS,
//          through allocation actions (::Create);    jitmm_compat::addEHFramePlugin()
//          InProcessEHFrameRegistrar is gone
//   >19    LLJITBuilder's ObjectLinkingLayerCreator  JITMM_LLJIT_LAYER_CREATOR_PARAMS
//          no longer gets the target triple (the
//          session has it: getTargetTriple())
//   >19    LinkGraph's constructor takes a symbol    JITMM_LINK_GRAPH_ARGS
//          string pool and subtarget features
//   >19    CWrapperFunctionResult is renamed         JITMM_C_WRAPPER_FUNCTION_RESULT
//          CWrapperFunctionBuffer
//   >19    Module::setTargetTriple,                  JITMM_TRIPLE_ARG
//          Target::createTargetMachine and
//          TargetRegistry::lookupTarget take an
//          llvm::Triple, not a string (lookupTarget's
//          string form is deprecated)
//   21     C API: LLVMOrcThreadSafeContextGetContext jitmm_compat_thread_safe_context()
//          removed; a ThreadSafeContext is made from
//          an LLVMContext instead
//   >19    DebugObjectManagerPlugin (with a          JITMM_GDB_ELF_DEBUG_OBJECT_PLUGIN
//          DebugObjectRegistrar) replaced by         (cshim/gdb.cpp)
//          ELFDebugObjectPlugin, registering
//          through LLVM's own allocation action
//   22     C API: LLVMParseIRInContext (consumes the jitmm_compat_parse_ir()
//          buffer) deprecated for ...2 (leaves it to
//          the caller)
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

// GDB registration of JITLink objects: DebugObjectManagerPlugin with a
// registrar of ours up to LLVM 19; ELFDebugObjectPlugin later.
#if defined(__has_include)
#if __has_include(<llvm/ExecutionEngine/Orc/Debugging/ELFDebugObjectPlugin.h>)
#define JITMM_GDB_ELF_DEBUG_OBJECT_PLUGIN 1
#endif
#endif
#ifndef JITMM_GDB_ELF_DEBUG_OBJECT_PLUGIN
#define JITMM_GDB_ELF_DEBUG_OBJECT_PLUGIN 0
#endif
#if LLVM_VERSION_MAJOR >= 21
#define JITMM_EH_FRAME_PLUGIN_ALLOC_ACTIONS 1
#else
#define JITMM_EH_FRAME_PLUGIN_ALLOC_ACTIONS 0
#endif

// The parameters of a lambda given to LLJITBuilder::setObjectLinkingLayerCreator,
// naming the session `es`: LLVM 19 also passes the target triple (unnamed
// here; `es.getTargetTriple()` has it on every version).
#if LLVM_VERSION_MAJOR >= 20
#define JITMM_LLJIT_LAYER_CREATOR_PARAMS(es) llvm::orc::ExecutionSession &es
#else
#define JITMM_LLJIT_LAYER_CREATOR_PARAMS(es) llvm::orc::ExecutionSession &es, const llvm::Triple &
#endif

// Arguments of jitlink::LinkGraph's constructor for a graph `name` of
// `triple` (an llvm::Triple) with edge kinds named by `edge_kind_name`.
#if LLVM_VERSION_MAJOR >= 20
#define JITMM_LINK_GRAPH_ARGS(name, triple, edge_kind_name)                                       \
  (name), std::make_shared<llvm::orc::SymbolStringPool>(), (triple), llvm::SubtargetFeatures(),   \
      (edge_kind_name)
#else
#define JITMM_LINK_GRAPH_ARGS(name, triple, edge_kind_name) (name), (triple), (edge_kind_name)
#endif

// What an ORC wrapper function (an allocation action) returns.
#if LLVM_VERSION_MAJOR >= 20
#define JITMM_C_WRAPPER_FUNCTION_RESULT llvm::orc::shared::CWrapperFunctionBuffer
#else
#define JITMM_C_WRAPPER_FUNCTION_RESULT llvm::orc::shared::CWrapperFunctionResult
#endif

// An llvm::Triple `t` in the form Module::setTargetTriple,
// Target::createTargetMachine and TargetRegistry::lookupTarget take: a
// string up to LLVM 19.
#if LLVM_VERSION_MAJOR >= 20
#define JITMM_TRIPLE_ARG(t) (t)
#else
#define JITMM_TRIPLE_ARG(t) (t).str()
#endif

#ifdef __cplusplus
#include <memory>

#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/Support/Error.h>
#if JITMM_EH_FRAME_PLUGIN_HEADER
#include <llvm/ExecutionEngine/Orc/EHFrameRegistrationPlugin.h>
#endif
#if !JITMM_EH_FRAME_PLUGIN_ALLOC_ACTIONS
#include <llvm/ExecutionEngine/JITLink/EHFrameSupport.h>
#endif

namespace jitmm_compat {

// Registers the EH frames of what `layer` links in this process, as LLJIT's
// default JITLink layer does.
inline llvm::Error addEHFramePlugin(llvm::orc::ObjectLinkingLayer &layer,
                                    llvm::orc::ExecutionSession &session) {
#if JITMM_EH_FRAME_PLUGIN_ALLOC_ACTIONS
  auto plugin = llvm::orc::EHFrameRegistrationPlugin::Create(session);
  if (!plugin)
    return plugin.takeError();
  layer.addPlugin(std::move(*plugin));
#else
  layer.addPlugin(std::make_unique<llvm::orc::EHFrameRegistrationPlugin>(
      session, std::make_unique<llvm::jitlink::InProcessEHFrameRegistrar>()));
#endif
  return llvm::Error::success();
}

} // namespace jitmm_compat
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
