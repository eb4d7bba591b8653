// Every difference between the supported LLVM versions, in one place.
#ifndef JITMM_COMPAT_H
#define JITMM_COMPAT_H

#include <llvm/Config/llvm-config.h>

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

#endif
