// Internal declarations shared by the shim's translation units.
#ifndef JITMM_SHIM_H
#define JITMM_SHIM_H

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <llvm-c/Orc.h>
#include <llvm/ADT/SmallVector.h>
#include <llvm/ExecutionEngine/RTDyldMemoryManager.h>
#include <llvm/ExecutionEngine/RuntimeDyld.h>

#include "core.h"

namespace llvm {
class JITEventListener;
namespace orc {
class ExecutionSession;
class ObjectLinkingLayer;
} // namespace orc
} // namespace llvm

// The code a linker runs for every object file, in one section next to the
// core's (`.text.hot.jitmm`; libjitmm.so keeps it apart, see build.rs).  It
// runs right after compiling, with caches and TLBs cold, where each cold
// page it touches costs more than the work done there.
#define JITMM_HOT __attribute__((section(".text.hot.jitmm")))

namespace jitmm {
namespace detail {

// Whether the core's table has the layout this shim was built for (its
// size field); every entry point checks before it uses the table.
bool tableMatches(const jitmm_core_api *api);

// An arena handle shared by every manager created from one config, released
// when the last of them goes.
class ArenaRef {
public:
  ArenaRef(const jitmm_core_api *api, jitmm_core_arena *arena) : api(api), arena(arena) {}
  ~ArenaRef() { api->arena_release(arena); }
  ArenaRef(const ArenaRef &) = delete;
  ArenaRef &operator=(const ArenaRef &) = delete;

  // Acquires the arena a config selects; nullptr (with last_error set) on failure.
  static std::shared_ptr<ArenaRef> acquire(const jitmm_core_api *api, const jitmm_config *config);

  const jitmm_core_api *const api;
  jitmm_core_arena *const arena;
};

// Where both ORC layer entry points (orc.cpp, jitlink.cpp) start (shim.cpp): the
// arena their config selects, the session behind the C handle, and whether
// to register with GDB.  Empty, with last_error set, on failure.
struct LayerStart {
  std::shared_ptr<ArenaRef> arena;
  llvm::orc::ExecutionSession &session;
  bool debugger;
};
std::optional<LayerStart> startLayer(const jitmm_core_api *api, const jitmm_config *config,
                                     LLVMOrcExecutionSessionRef es, const char *entry);

// GDB JIT registration (gdb.cpp).  gdbListener is LLVM's, a process-wide
// singleton; gdbWithdrawWithin withdraws every JITLink registration whose
// image starts in [start, end), and must run before that memory is freed.
llvm::JITEventListener &gdbListener();
void addGDBPlugin(llvm::orc::ObjectLinkingLayer &layer, llvm::orc::ExecutionSession &session);
void gdbWithdrawWithin(uint64_t start, uint64_t end);

// llvm::RTDyldMemoryManager on the jitmm core.
//
// Address contract: allocate*Section returns the RW address the linker
// writes through.  Under Mprotect that is also where the section runs.
// Under DualMap, notifyObjectLoaded tells RuntimeDyld each section's
// executable address before relocations are resolved, by the SectionID
// RuntimeDyld allocated it under (reassignSectionAddress: constant time;
// mapSectionAddress would scan every section the RuntimeDyld ever loaded,
// and MCJIT keeps one RuntimeDyld for all its modules); an object that
// reaches finalizeMemory without that gets an error.
class RTDyldManager final : public llvm::RTDyldMemoryManager {
public:
  explicit RTDyldManager(std::shared_ptr<ArenaRef> arena);
  ~RTDyldManager() override;

  uint8_t *allocateCodeSection(uintptr_t Size, unsigned Alignment, unsigned SectionID,
                               llvm::StringRef SectionName) override;
  uint8_t *allocateDataSection(uintptr_t Size, unsigned Alignment, unsigned SectionID,
                               llvm::StringRef SectionName, bool IsReadOnly) override;
  // Until the first object file is loaded: the batched object that takes
  // the later ones carves their sections from its slabs as they come.
  bool needsToReserveAllocationSpace() override;
  void reserveAllocationSpace(uintptr_t CodeSize, llvm::Align CodeAlign, uintptr_t RODataSize,
                              llvm::Align RODataAlign, uintptr_t RWDataSize,
                              llvm::Align RWDataAlign) override;
  void notifyObjectLoaded(llvm::RuntimeDyld &RTDyld, const llvm::object::ObjectFile &Obj) override;
  // MCJIT calls this before its JITEventListeners: with the debugger on,
  // the engine gets the GDB listener here, in time for this object.
  void notifyObjectLoaded(llvm::ExecutionEngine *EE, const llvm::object::ObjectFile &Obj) override;
  bool finalizeMemory(std::string *ErrMsg = nullptr) override;
  void registerEHFrames(uint8_t *Addr, uint64_t LoadAddr, size_t Size) override;
  void deregisterEHFrames() override;

private:
  // A section of the object being loaded: where RuntimeDyld writes it,
  // where it runs, and RuntimeDyld's SectionID for it.
  struct LoadingSection {
    uint8_t *rw;
    uint8_t *exec;
    unsigned id;
  };

  uint8_t *allocate(int cls, uintptr_t size, unsigned alignment, unsigned section_id);
  jitmm_core_object *current();
  void loadingDone();

  std::shared_ptr<ArenaRef> arena_;
  const jitmm_core_api *api_;
  const bool debugger_;
  llvm::ExecutionEngine *gdb_engine_ = nullptr; // the engine given the GDB listener
  std::mutex mutex_;
  // The core object RuntimeDyld is loading into now, and the sections of
  // the object file it loads.  Inline capacity: an ORC layer's manager
  // holds one object of a few sections, so the common case allocates
  // nothing.
  jitmm_core_object *current_ = nullptr;
  llvm::SmallVector<LoadingSection, 4> current_sections_;
  // From the second object file on (an MCJIT engine loading module after
  // module), every one goes into this batched core object: no arena
  // allocation, handle or core object per module.
  jitmm_core_object *batched_ = nullptr;
  std::atomic<bool> loaded_one_{false};
  // Whether objects name their functions for the perf map (the arena's
  // setting), asked once.
  int wants_symbols_ = -1;
  // Core objects waiting for finalizeMemory, and every one owned.
  llvm::SmallVector<jitmm_core_object *, 1> pending_;
  llvm::SmallVector<jitmm_core_object *, 2> owned_;
};

} // namespace detail
} // namespace jitmm

#endif
