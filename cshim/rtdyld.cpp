// RTDyldMemoryManager (MCJIT, ORC RTDyldObjectLinkingLayer) on the jitmm core.
#include "shim.h"

#include <algorithm>

#include <llvm/ExecutionEngine/ExecutionEngine.h>
#include <llvm/ExecutionEngine/JITEventListener.h>
#include <llvm/Object/ObjectFile.h>
#include <llvm/Object/SymbolSize.h>

namespace jitmm {
namespace detail {

RTDyldManager::RTDyldManager(std::shared_ptr<ArenaRef> arena)
    : arena_(std::move(arena)), api_(arena_->api),
      debugger_(api_->arena_debugger(arena_->arena) != 0) {}

RTDyldManager::~RTDyldManager() {
  // Unwind tables must not point into memory that is about to be reused.
  deregisterEHFrames();
  std::lock_guard<std::mutex> lock(mutex_);
  for (jitmm_core_object *object : owned_)
    api_->object_free(object);
}

JITMM_HOT
jitmm_core_object *RTDyldManager::current() {
  if (current_)
    return current_;
  if (!loaded_one_) {
    current_ = api_->object_new(arena_->arena);
    if (current_)
      owned_.push_back(current_);
  } else {
    if (!batched_ && (batched_ = api_->object_new_batched(arena_->arena)))
      owned_.push_back(batched_);
    current_ = batched_;
  }
  return current_;
}

// The object file being loaded is done with (loaded, or abandoned by a new
// reservation): its core object waits for finalizeMemory.
JITMM_HOT
void RTDyldManager::loadingDone() {
  if (std::find(pending_.begin(), pending_.end(), current_) == pending_.end())
    pending_.push_back(current_);
  current_ = nullptr;
  current_sections_.clear();
}

JITMM_HOT
bool RTDyldManager::needsToReserveAllocationSpace() {
  return !loaded_one_.load(std::memory_order_relaxed);
}

void RTDyldManager::reserveAllocationSpace(uintptr_t CodeSize, llvm::Align CodeAlign,
                                           uintptr_t RODataSize, llvm::Align RODataAlign,
                                           uintptr_t RWDataSize, llvm::Align RWDataAlign) {
  std::lock_guard<std::mutex> lock(mutex_);
  // A reservation starts a new object: RuntimeDyld calls it once per object
  // before allocating that object's sections.
  if (current_ && !current_sections_.empty())
    loadingDone(); // else nothing allocated yet: reuse the handle
  jitmm_core_object *object = current();
  // Failure is not fatal: sections are then allocated one by one (still
  // within the arena, hence within range of each other).
  if (object)
    api_->object_reserve(object, CodeSize, CodeAlign.value(), RODataSize, RODataAlign.value(),
                         RWDataSize, RWDataAlign.value());
}

JITMM_HOT
uint8_t *RTDyldManager::allocate(int cls, uintptr_t size, unsigned alignment,
                                 unsigned section_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  jitmm_core_object *object = current();
  if (!object)
    return nullptr;
  jitmm_core_section section{};
  // RuntimeDyld asks for at least one byte; guard anyway so an empty section
  // still gets a distinct address.
  if (api_->object_allocate(object, cls, size ? size : 1, alignment, &section) != 0)
    return nullptr;
  current_sections_.push_back({section.rw, section.exec, section_id});
  return section.rw;
}

JITMM_HOT
uint8_t *RTDyldManager::allocateCodeSection(uintptr_t Size, unsigned Alignment,
                                            unsigned SectionID, llvm::StringRef) {
  return allocate(JITMM_CLASS_CODE, Size, Alignment, SectionID);
}

JITMM_HOT
uint8_t *RTDyldManager::allocateDataSection(uintptr_t Size, unsigned Alignment,
                                            unsigned SectionID, llvm::StringRef,
                                            bool IsReadOnly) {
  return allocate(IsReadOnly ? JITMM_CLASS_RODATA : JITMM_CLASS_RWDATA, Size, Alignment,
                  SectionID);
}

// Tells RuntimeDyld where a section runs.  RuntimeDyld allocates section
// `id` as entry `id` of its section table (and only then calls
// notifyObjectLoaded), so the entry is found without a search; one whose
// working memory is not `rw` (not expected) falls back to the search.
JITMM_HOT
static void mapToExec(llvm::RuntimeDyld &RTDyld, uint8_t *rw, uint8_t *exec, unsigned id) {
  if (RTDyld.getSectionContent(id).data() == reinterpret_cast<const char *>(rw))
    RTDyld.reassignSectionAddress(id, reinterpret_cast<uint64_t>(exec));
  else
    RTDyld.mapSectionAddress(rw, reinterpret_cast<uint64_t>(exec));
}

// Names the object's global functions at their executable addresses, for
// the perf map (only asked for when it is on).
static void reportFunctions(const jitmm_core_api *api, jitmm_core_object *object,
                            llvm::RuntimeDyld &RTDyld, const llvm::object::ObjectFile &Obj) {
  for (const auto &[symbol, size] : llvm::object::computeSymbolSizes(Obj)) {
    llvm::Expected<llvm::object::SymbolRef::Type> type = symbol.getType();
    if (!type) {
      llvm::consumeError(type.takeError());
      continue;
    }
    if (*type != llvm::object::SymbolRef::ST_Function)
      continue;
    llvm::Expected<llvm::StringRef> name = symbol.getName();
    if (!name) {
      llvm::consumeError(name.takeError());
      continue;
    }
    uint64_t addr = RTDyld.getSymbol(*name).getAddress();
    if (addr != 0)
      api->object_add_symbol(object, name->data(), name->size(), addr, size);
  }
}

JITMM_HOT
void RTDyldManager::notifyObjectLoaded(llvm::RuntimeDyld &RTDyld,
                                       const llvm::object::ObjectFile &Obj) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!current_)
    return;
  for (const LoadingSection &section : current_sections_)
    if (section.rw != section.exec)
      mapToExec(RTDyld, section.rw, section.exec, section.id);
  if (wants_symbols_ < 0)
    wants_symbols_ = api_->object_wants_symbols(current_);
  if (wants_symbols_)
    reportFunctions(api_, current_, RTDyld, Obj);
  api_->object_placed(current_);
  loadingDone();
  loaded_one_ = true;
}

JITMM_HOT
void RTDyldManager::notifyObjectLoaded(llvm::ExecutionEngine *EE,
                                       const llvm::object::ObjectFile &) {
  // MCJIT holds its (recursive) engine lock here and walks its listeners
  // right after this returns, so the listener sees this object too.  MCJIT
  // withdraws every object from its listeners in its destructor, before it
  // destroys this manager and with it the objects' memory.
  std::lock_guard<std::mutex> lock(mutex_);
  if (!debugger_ || !EE || EE == gdb_engine_)
    return;
  // LLVM 19's MCJIT adds this listener itself unless someone took it away;
  // either way, the engine ends up with it exactly once.
  EE->UnregisterJITEventListener(&gdbListener());
  EE->RegisterJITEventListener(&gdbListener());
  gdb_engine_ = EE;
}

JITMM_HOT
bool RTDyldManager::finalizeMemory(std::string *ErrMsg) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Direct users of the interface (no RuntimeDyld) finalize what they allocated.
  if (current_)
    loadingDone();
  std::string error;
  for (jitmm_core_object *object : pending_) {
    if (api_->object_finalize(object) != 0 && error.empty())
      error = api_->last_error();
  }
  pending_.clear();
  if (error.empty())
    return false;
  if (ErrMsg)
    *ErrMsg = "jitmm: " + error;
  return true;
}

JITMM_HOT
void RTDyldManager::registerEHFrames(uint8_t *, uint64_t LoadAddr, size_t Size) {
  // The unwinder reads the frames where they run: pc-relative pointers in
  // them were resolved for the load (executable-side) address.
  llvm::RTDyldMemoryManager::registerEHFrames(reinterpret_cast<uint8_t *>(LoadAddr), LoadAddr,
                                              Size);
}

void RTDyldManager::deregisterEHFrames() {
  // Newest first.  libgcc keeps registered frames in a list, newest at the
  // head, and searches it for each one deregistered: in registration order
  // (LLVM's) each search walks past every frame still registered, and an
  // MCJIT engine's teardown is quadratic in its modules.
  for (auto frame = EHFrames.rbegin(); frame != EHFrames.rend(); ++frame)
    deregisterEHFramesInProcess(frame->Addr, frame->Size);
  EHFrames.clear();
}

} // namespace detail
} // namespace jitmm

extern "C" LLVMMCJITMemoryManagerRef
jitmm_shim_mcjit_memory_manager_create(const jitmm_core_api *api, const jitmm_config *config) {
  auto arena = jitmm::detail::ArenaRef::acquire(api, config);
  if (!arena)
    return nullptr;
  llvm::RTDyldMemoryManager *manager = new jitmm::detail::RTDyldManager(std::move(arena));
  // LLVM's unwrap(LLVMMCJITMemoryManagerRef) is a reinterpret_cast to
  // RTDyldMemoryManager*.
  return reinterpret_cast<LLVMMCJITMemoryManagerRef>(manager);
}
