// What the linker entry points share: the check of the core's table, the
// arena a config selects, and the start of both ORC layers.
#include "shim.h"

#include <string>

#include <llvm/ExecutionEngine/Orc/Core.h>

namespace jitmm {
namespace detail {

bool tableMatches(const jitmm_core_api *api) {
  // The size comes first in every layout, so it can be read; nothing else
  // of a table of another layout can be trusted, not even set_last_error.
  return api->size == sizeof(jitmm_core_api);
}

std::shared_ptr<ArenaRef> ArenaRef::acquire(const jitmm_core_api *api,
                                            const jitmm_config *config) {
  if (!tableMatches(api))
    return nullptr;
  jitmm_core_arena *arena = api->arena_acquire(config);
  if (!arena)
    return nullptr;
  return std::make_shared<ArenaRef>(api, arena);
}

std::optional<LayerStart> startLayer(const jitmm_core_api *api, const jitmm_config *config,
                                     LLVMOrcExecutionSessionRef es, const char *entry) {
  if (!tableMatches(api))
    return std::nullopt;
  if (!es) {
    std::string message = std::string(entry) + ": execution session is NULL";
    api->set_last_error(message.c_str());
    return std::nullopt;
  }
  auto arena = ArenaRef::acquire(api, config);
  if (!arena)
    return std::nullopt;
  bool debugger = api->arena_debugger(arena->arena) != 0;
  // LLVM's unwrap(LLVMOrcExecutionSessionRef) is a reinterpret_cast.
  auto &session = *reinterpret_cast<llvm::orc::ExecutionSession *>(es);
  return LayerStart{std::move(arena), session, debugger};
}

} // namespace detail
} // namespace jitmm
