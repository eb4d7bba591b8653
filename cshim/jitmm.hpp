// jitmm — C++ API.  Header-only on top of the C API, so it works against
// libjitmm.so, libjitmm.a and the Rust crate alike.
#ifndef JITMM_HPP
#define JITMM_HPP

#include <memory>

#include <llvm/ExecutionEngine/JITLink/JITLinkMemoryManager.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/ExecutionEngine/RTDyldMemoryManager.h>
#include <llvm/Support/CodeGen.h>

#include "jitmm.h"

namespace jitmm {

// The relocation model the jitmm layers expect: JITMM_RELOC_MODEL (PIC,
// static on 32-bit x86 and 32-bit ARM) as an llvm::Reloc::Model.
constexpr llvm::Reloc::Model relocationModel() {
  return JITMM_RELOC_MODEL == LLVMRelocStatic ? llvm::Reloc::Static : llvm::Reloc::PIC_;
}

// Settings: constructed with the defaults (Auto, shared arena); a
// jitmm_config with its size set, wherever the C API takes one.
struct Config : jitmm_config {
  Config() : jitmm_config() { jitmm_config_init(this); }
};

// A full RTDyldMemoryManager for EngineBuilder::setMCJITMemoryManager or an
// RTDyldObjectLinkingLayer.  Null on failure; jitmm_last_error() says why.
inline std::unique_ptr<llvm::RTDyldMemoryManager> createRTDyldMemoryManager(const Config &config = {}) {
  return std::unique_ptr<llvm::RTDyldMemoryManager>(
      reinterpret_cast<llvm::RTDyldMemoryManager *>(jitmm_mcjit_memory_manager_create_with(&config)));
}

// A JITLinkMemoryManager for an llvm::orc::ObjectLinkingLayer (or
// jitlink::link).  Segments are written through WorkingMem and run at
// Addr; finalize-lifetime segments are freed once the finalize actions have
// run, the rest by deallocate (after the dealloc actions).  A layer built on it should add an EHFrameRegistrationPlugin for
// exceptions to unwind through JIT code (jitmm_orc_jitlink_layer does).
// Null on failure; jitmm_last_error() says why.
inline std::unique_ptr<llvm::jitlink::JITLinkMemoryManager>
createJITLinkMemoryManager(const Config &config = {}) {
  return std::unique_ptr<llvm::jitlink::JITLinkMemoryManager>(
      static_cast<llvm::jitlink::JITLinkMemoryManager *>(jitmm_jitlink_memory_manager_create(&config)));
}

// GDB JIT registration for an ObjectLinkingLayer on
// createJITLinkMemoryManager (jitmm_orc_jitlink_layer adds it when
// config.debugger is set): each linked object is registered with GDB, and
// jitmm's deallocate withdraws the registration before freeing its memory.
// Null on failure; jitmm_last_error() says why.
inline std::unique_ptr<llvm::orc::ObjectLinkingLayer::Plugin>
createGDBPlugin(llvm::orc::ExecutionSession &session) {
  return std::unique_ptr<llvm::orc::ObjectLinkingLayer::Plugin>(
      static_cast<llvm::orc::ObjectLinkingLayer::Plugin *>(
          jitmm_gdb_jitlink_plugin_create(reinterpret_cast<LLVMOrcExecutionSessionRef>(&session))));
}

} // namespace jitmm

#endif
