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

#endif
