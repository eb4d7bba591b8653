// GDB's JIT interface: registering JIT-compiled objects so that a debugger
// names JIT functions (and reads their debug info, if any).
//
// GDB puts a breakpoint on __jit_debug_register_code and, each time it is
// hit, reads the in-memory object file that __jit_debug_descriptor names
// (registration) or forgets it (withdrawal).  Both symbols are LLVM's:
// libLLVM defines and exports them, so there is one list in the process.
//
// MCJIT and RuntimeDyld layers: LLVM's GDB registration listener.
// RuntimeDyld hands it a copy of the object whose section addresses are the
// load (executable) addresses; it registers the copy when the object is
// loaded and withdraws it in notifyFreeingObject, which MCJIT's destructor
// and the RTDyld layer's resource removal call before the memory manager,
// and with it the object's memory, goes.
//
// JITLink: LLVM's DebugObjectManagerPlugin writes the patched copy into a
// read-only segment it allocates from the layer's memory manager, and
// Registrar registers it.  LLVM 19 never withdraws these registrations (its
// own registrar cannot), so jitmm's JITLinkMemoryManager::deallocate does
// (gdbWithdrawWithin) before the copy's memory is freed; the plugin releases
// that allocation before the layer frees the code the copy describes.
//
// Registrar's changes to the list are serialised by a lock of jitmm's; LLVM's
// listener uses a lock of its own (as LLVM's own registrar does), so JITLink
// and RuntimeDyld objects registered at the same moment from two threads are
// not serialised against each other.
#include "shim.h"
#include "compat.h"

#include <atomic>
#include <map>

#include <llvm/ExecutionEngine/JITEventListener.h>
#include <llvm/ExecutionEngine/Orc/Core.h>
#if JITMM_GDB_ELF_DEBUG_OBJECT_PLUGIN
#include <llvm/ExecutionEngine/Orc/Debugging/ELFDebugObjectPlugin.h>
#else
#include <llvm/ExecutionEngine/Orc/DebugObjectManagerPlugin.h>
#include <llvm/ExecutionEngine/Orc/EPCDebugObjectRegistrar.h>
#endif
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/ExecutionEngine/Orc/TargetProcess/JITLoaderGDB.h>

// Defined and exported by libLLVM (JITLoaderGDB.cpp), found by GDB by name.
extern "C" {
extern struct jit_descriptor __jit_debug_descriptor;
void __jit_debug_register_code();
}

namespace jitmm {
namespace detail {
namespace {

std::mutex &listMutex() {
  static std::mutex *mutex = new std::mutex; // never destroyed: used until exit
  return *mutex;
}

// Tells GDB to forget `entry`, unlinks and deletes it.  Caller holds
// listMutex().
void removeLocked(jit_code_entry *entry) {
  if (entry->prev_entry)
    entry->prev_entry->next_entry = entry->next_entry;
  else
    __jit_debug_descriptor.first_entry = entry->next_entry;
  if (entry->next_entry)
    entry->next_entry->prev_entry = entry->prev_entry;
  __jit_debug_descriptor.relevant_entry = entry;
  __jit_debug_descriptor.action_flag = JIT_UNREGISTER_FN;
  __jit_debug_register_code();
  __jit_debug_descriptor.relevant_entry = nullptr;
  __jit_debug_descriptor.action_flag = JIT_NOACTION;
  delete entry;
}

#if !JITMM_GDB_ELF_DEBUG_OBJECT_PLUGIN
// Registrations made for JITLink, by the address of their image.
std::map<uint64_t, jit_code_entry *> &imagesByAddress() {
  static auto *images = new std::map<uint64_t, jit_code_entry *>;
  return *images;
}
std::atomic<size_t> imageCount{0};

// Links an entry for `size` bytes at `image` into GDB's list and tells GDB.
// Caller holds listMutex().
jit_code_entry *addLocked(const char *image, uint64_t size) {
  auto *entry = new jit_code_entry{};
  entry->symfile_addr = image;
  entry->symfile_size = size;
  entry->next_entry = __jit_debug_descriptor.first_entry;
  if (entry->next_entry)
    entry->next_entry->prev_entry = entry;
  __jit_debug_descriptor.first_entry = entry;
  __jit_debug_descriptor.relevant_entry = entry;
  __jit_debug_descriptor.action_flag = JIT_REGISTER_FN;
  __jit_debug_register_code();
  return entry;
}

class Registrar final : public llvm::orc::DebugObjectRegistrar {
public:
  llvm::Error registerDebugObject(llvm::orc::ExecutorAddrRange TargetMem, bool) override {
    std::lock_guard<std::mutex> lock(listMutex());
    auto &images = imagesByAddress();
    auto old = images.find(TargetMem.Start.getValue());
    if (old != images.end()) {
      // Memory reused without deallocate (should not happen): replace.
      removeLocked(old->second);
      images.erase(old);
    }
    images[TargetMem.Start.getValue()] =
        addLocked(TargetMem.Start.toPtr<const char *>(), TargetMem.size());
    imageCount.store(images.size(), std::memory_order_release);
    return llvm::Error::success();
  }
};
#endif

} // namespace

llvm::JITEventListener &gdbListener() {
  // A process-wide singleton: "create" hands out the same listener each time.
  return *llvm::JITEventListener::createGDBRegistrationListener();
}

namespace {
#if JITMM_GDB_ELF_DEBUG_OBJECT_PLUGIN
// Set once a plugin exists: until then no JITLink object is registered, and
// deallocate has nothing to withdraw (nor a lock to take).
std::atomic<bool> pluginMade{false};
#endif

std::unique_ptr<llvm::orc::ObjectLinkingLayer::Plugin>
makePlugin(llvm::orc::ExecutionSession &session) {
  // Registered whether or not the object has DWARF: the symbol table alone
  // names the functions.
#if JITMM_GDB_ELF_DEBUG_OBJECT_PLUGIN
  // The plugin registers through LLVM's own allocation action
  // (llvm_orc_registerJITLoaderGDBAllocAction), which links LLVM-made
  // entries into GDB's list; gdbWithdrawWithin finds them by address.
  llvm::Error err = llvm::Error::success();
  auto plugin = std::make_unique<llvm::orc::ELFDebugObjectPlugin>(
      session, /*RequireDebugSections=*/false, /*AutoRegisterCode=*/true, err);
  if (err) {
    session.reportError(std::move(err));
    return nullptr;
  }
  pluginMade.store(true, std::memory_order_release);
  return plugin;
#else
  return std::make_unique<llvm::orc::DebugObjectManagerPlugin>(
      session, std::make_unique<Registrar>(), /*RequireDebugSections=*/false,
      /*AutoRegisterCode=*/true);
#endif
}
} // namespace

void addGDBPlugin(llvm::orc::ObjectLinkingLayer &layer, llvm::orc::ExecutionSession &session) {
  if (auto plugin = makePlugin(session))
    layer.addPlugin(std::move(plugin));
}

#if JITMM_GDB_ELF_DEBUG_OBJECT_PLUGIN
void gdbWithdrawWithin(uint64_t start, uint64_t end) {
  // LLVM's entries for JITLink objects point into memory of the link; any
  // entry within the range being freed is one of them.
  if (!pluginMade.load(std::memory_order_acquire))
    return;
  std::lock_guard<std::mutex> lock(listMutex());
  for (jit_code_entry *entry = __jit_debug_descriptor.first_entry; entry;) {
    jit_code_entry *next = entry->next_entry;
    auto image = reinterpret_cast<uint64_t>(entry->symfile_addr);
    if (image >= start && image < end)
      removeLocked(entry);
    entry = next;
  }
}
#else
void gdbWithdrawWithin(uint64_t start, uint64_t end) {
  if (imageCount.load(std::memory_order_acquire) == 0)
    return;
  std::lock_guard<std::mutex> lock(listMutex());
  auto &images = imagesByAddress();
  auto it = images.lower_bound(start);
  while (it != images.end() && it->first < end) {
    removeLocked(it->second);
    it = images.erase(it);
  }
  imageCount.store(images.size(), std::memory_order_release);
}
#endif

} // namespace detail
} // namespace jitmm

extern "C" void *jitmm_shim_gdb_jitlink_plugin_create(const jitmm_core_api *api,
                                                      LLVMOrcExecutionSessionRef es) {
  if (!jitmm::detail::tableMatches(api))
    return nullptr;
  if (!es) {
    api->set_last_error("jitmm_gdb_jitlink_plugin_create: execution session is NULL");
    return nullptr;
  }
  // LLVM's unwrap(LLVMOrcExecutionSessionRef) is a reinterpret_cast.
  auto &session = *reinterpret_cast<llvm::orc::ExecutionSession *>(es);
  auto plugin = jitmm::detail::makePlugin(session);
  if (!plugin)
    api->set_last_error("jitmm_gdb_jitlink_plugin_create: LLVM's debug-object plugin could "
                        "not be set up (the session's error reporter has LLVM's message)");
  return plugin.release();
}
