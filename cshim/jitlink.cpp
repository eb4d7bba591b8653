// JITLinkMemoryManager (ORC ObjectLinkingLayer, jitlink::link) on the jitmm
// core, and the ObjectLinkingLayer creator of the C API.
//
// Address contract: every segment of a LinkGraph gets WorkingMem in the RW
// view (where JITLink writes content and fixups) and Addr in the view the
// segment runs from (the RX / R view under DualMap, the same address under
// Mprotect); JITLink resolves relocations against Addr.  Finalize applies
// protections and icache coherence before the graph's finalize actions run,
// so actions (EH-frame registration, initialisers) see final memory.
//
// Memory lifetimes: one core object holds a graph's Standard segments and
// is freed by deallocate.  Finalize-lifetime segments (data only needed
// while finalize actions run) go to a second core object that is freed as
// soon as those actions have run.  NoAlloc sections are never laid out.
//
// Thread safety: the manager holds no mutable state; each in-flight or
// finalized allocation owns its core objects, and the core is safe for
// concurrent use of distinct objects.
#include "compat.h"
#include "shim.h"

#include <cstring>
#include <limits>
#include <string>

#include <llvm/ExecutionEngine/JITLink/JITLink.h>
#include <llvm/ExecutionEngine/JITLink/JITLinkMemoryManager.h>
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/ExecutionEngine/Orc/Shared/AllocationActions.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/raw_ostream.h>

namespace jitmm {
namespace detail {
namespace {

namespace jl = llvm::jitlink;
namespace orc = llvm::orc;

llvm::Error makeError(const std::string &message) {
  return llvm::make_error<llvm::StringError>("jitmm: " + message,
                                             llvm::inconvertibleErrorCode());
}

// `what` followed by the core's message for the failure that just happened
// on this thread.
llvm::Error coreError(const jitmm_core_api *api, const std::string &what) {
  const char *detail = api->last_error();
  return makeError(what + (detail && *detail ? std::string(": ") + detail : std::string()));
}

// The core class a segment's final protection maps to; -1 for writable and
// executable at once, which jitmm never hands out.
int classFor(orc::MemProt prot) {
  auto bits = static_cast<unsigned>(prot);
  bool exec = bits & static_cast<unsigned>(orc::MemProt::Exec);
  bool write = bits & static_cast<unsigned>(orc::MemProt::Write);
  if (exec && write)
    return -1;
  if (exec)
    return JITMM_CLASS_CODE;
  if (write)
    return JITMM_CLASS_RWDATA;
  // Read-only, or no access at all (kept readable).
  return JITMM_CLASS_RODATA;
}

std::string describe(const orc::AllocGroup &group, uint64_t size, uint64_t align) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << group.getMemProt() << " " << group.getMemLifetime() << " segment of " << size
     << " bytes (align " << align << ")";
  return os.str();
}

// Executable address ranges [start, end) of a graph's Standard segments
// (inline: a graph has a segment per protection, rarely more).
using Ranges = llvm::SmallVector<std::pair<uint64_t, uint64_t>, 3>;

// What a FinalizedAlloc's address points to.
struct FinalizedInfo {
  jitmm_core_object *object;
  std::vector<orc::shared::WrapperFunctionCall> dealloc_actions;
  Ranges ranges;
};

class InFlight final : public jl::JITLinkMemoryManager::InFlightAlloc {
public:
  InFlight(const jitmm_core_api *api, jl::LinkGraph &graph, jitmm_core_object *standard,
           jitmm_core_object *transient, Ranges ranges)
      : api_(api), graph_(&graph), standard_(standard), transient_(transient),
        ranges_(std::move(ranges)) {}

  // Neither finalized nor abandoned (a caller bug): do not leak the memory.
  ~InFlight() override { release(); }

  void abandon(OnAbandonedFunction OnAbandoned) override {
    release();
    OnAbandoned(llvm::Error::success());
  }

  void finalize(OnFinalizedFunction OnFinalized) override {
    for (jitmm_core_object *object : {standard_, transient_}) {
      if (object && api_->object_finalize(object) != 0) {
        llvm::Error error = coreError(api_, "finalizing graph " + graph_->getName());
        release();
        OnFinalized(std::move(error));
        return;
      }
    }
    // In order; if one fails, the dealloc actions of those before it have
    // already run (in reverse) when this returns.
    auto dealloc_actions = orc::shared::runFinalizeActions(graph_->allocActions());
    if (!dealloc_actions) {
      release();
      OnFinalized(dealloc_actions.takeError());
      return;
    }
    if (transient_) {
      api_->object_free(transient_);
      transient_ = nullptr;
    }
    auto *info = new FinalizedInfo{standard_, std::move(*dealloc_actions), std::move(ranges_)};
    standard_ = nullptr;
    graph_ = nullptr;
    OnFinalized(jl::JITLinkMemoryManager::FinalizedAlloc(orc::ExecutorAddr::fromPtr(info)));
  }

private:
  void release() {
    for (jitmm_core_object **object : {&standard_, &transient_}) {
      if (*object)
        api_->object_free(*object);
      *object = nullptr;
    }
  }

  const jitmm_core_api *api_;
  jl::LinkGraph *graph_;
  jitmm_core_object *standard_;
  jitmm_core_object *transient_;
  Ranges ranges_;
};

class JITLinkManager final : public jl::JITLinkMemoryManager {
public:
  explicit JITLinkManager(std::shared_ptr<ArenaRef> arena)
      : arena_(std::move(arena)), api_(arena_->api) {}

  void allocate(const jl::JITLinkDylib *, jl::LinkGraph &G,
                OnAllocatedFunction OnAllocated) override;
  void deallocate(std::vector<FinalizedAlloc> Allocs,
                  OnDeallocatedFunction OnDeallocated) override;

private:
  std::shared_ptr<ArenaRef> arena_;
  const jitmm_core_api *api_;
};

void JITLinkManager::allocate(const jl::JITLinkDylib *, jl::LinkGraph &G,
                              OnAllocatedFunction OnAllocated) {
  jl::BasicLayout layout(G);
  jitmm_core_object *standard = api_->object_new(arena_->arena);
  if (!standard) {
    OnAllocated(coreError(api_, "allocating graph " + G.getName()));
    return;
  }
  jitmm_core_object *transient = nullptr;
  Ranges ranges;
  auto fail = [&](llvm::Error error) {
    api_->object_free(standard);
    if (transient)
      api_->object_free(transient);
    OnAllocated(std::move(error));
  };

  for (auto &entry : layout.segments()) {
    const orc::AllocGroup &group = entry.first;
    jl::BasicLayout::Segment &segment = entry.second;
    uint64_t align = segment.Alignment.value();
    if (segment.ZeroFillSize >
        std::numeric_limits<uintptr_t>::max() - uint64_t(segment.ContentSize)) {
      fail(makeError("graph " + G.getName() + ": segment size overflows"));
      return;
    }
    uintptr_t size = segment.ContentSize + segment.ZeroFillSize;
    int cls = classFor(group.getMemProt());
    if (cls < 0) {
      fail(makeError("graph " + G.getName() + ": " + describe(group, size, align) +
                     " would be writable and executable at once"));
      return;
    }
    jitmm_core_object *&object =
        group.getMemLifetime() == orc::MemLifetime::Standard ? standard : transient;
    if (!object) {
      object = api_->object_new(arena_->arena);
      if (!object) {
        fail(coreError(api_, "allocating graph " + G.getName()));
        return;
      }
    }
    // At least one byte, so that every segment has an address of its own.
    uintptr_t request = size ? size : 1;
    jitmm_core_section section{};
    if (api_->object_allocate(object, cls, request, align, &section) != 0) {
      fail(coreError(api_, "graph " + G.getName() + ": cannot place " +
                               describe(group, size, align)));
      return;
    }
    // Zero-fill blocks and the padding between blocks read as zero (freed
    // memory is reused without being cleared).
    std::memset(section.rw, 0, request);
    segment.WorkingMem = reinterpret_cast<char *>(section.rw);
    segment.Addr = orc::ExecutorAddr::fromPtr(section.exec);
    if (object == standard) {
      uint64_t start = segment.Addr.getValue();
      ranges.emplace_back(start, start + request);
    }
  }

  if (llvm::Error error = layout.apply()) {
    fail(std::move(error));
    return;
  }
  // JITLink computes fixups for segment.Addr: the executable addresses are
  // known from here on.
  api_->object_placed(standard);
  if (transient)
    api_->object_placed(transient);
  OnAllocated(std::make_unique<InFlight>(api_, G, standard, transient, std::move(ranges)));
}

void JITLinkManager::deallocate(std::vector<FinalizedAlloc> Allocs,
                                OnDeallocatedFunction OnDeallocated) {
  llvm::Error errors = llvm::Error::success();
  // Last allocation first; each one's dealloc actions in reverse order, then
  // its memory (unwind tables and the like are deregistered before reuse).
  for (auto it = Allocs.rbegin(); it != Allocs.rend(); ++it) {
    if (!*it)
      continue;
    auto *info = it->release().toPtr<FinalizedInfo *>();
    // A GDB registration of an image in this memory (the debug copy of an
    // object, see gdb.cpp) goes before the memory does.
    for (const auto &[start, end] : info->ranges)
      gdbWithdrawWithin(start, end);
    errors = llvm::joinErrors(std::move(errors),
                              orc::shared::runDeallocActions(info->dealloc_actions));
    api_->object_free(info->object);
    delete info;
  }
  OnDeallocated(std::move(errors));
}

} // namespace
} // namespace detail
} // namespace jitmm

extern "C" void *jitmm_shim_jitlink_memory_manager_create(const jitmm_core_api *api,
                                                          const jitmm_config *config) {
  auto arena = jitmm::detail::ArenaRef::acquire(api, config);
  if (!arena)
    return nullptr;
  llvm::jitlink::JITLinkMemoryManager *manager =
      new jitmm::detail::JITLinkManager(std::move(arena));
  return manager;
}

// LLVM's own JITLink layer, to compare jitmm's with: an ObjectLinkingLayer on
// jitlink::InProcessMemoryManager with in-process EH-frame registration, what
// LLJIT builds itself where it picks JITLink (LLJIT without a layer links with
// RuntimeDyld on i686, for one).  `api` only reports errors.
extern "C" LLVMOrcObjectLayerRef jitmm_shim_llvm_orc_jitlink_layer(const jitmm_core_api *api,
                                                                   LLVMOrcExecutionSessionRef es) {
  if (!es) {
    api->set_last_error("llvm_jitlink_layer: execution session is NULL");
    return nullptr;
  }
  // LLVM's unwrap(LLVMOrcExecutionSessionRef) is a reinterpret_cast.
  auto &session = *reinterpret_cast<llvm::orc::ExecutionSession *>(es);
  auto manager = llvm::jitlink::InProcessMemoryManager::Create();
  if (!manager) {
    std::string message = "llvm_jitlink_layer: " + llvm::toString(manager.takeError());
    api->set_last_error(message.c_str());
    return nullptr;
  }
  auto layer = std::make_unique<llvm::orc::ObjectLinkingLayer>(session, std::move(*manager));
  if (llvm::Error error = jitmm_compat::addEHFramePlugin(*layer, session)) {
    std::string message = "llvm_jitlink_layer: " + llvm::toString(std::move(error));
    api->set_last_error(message.c_str());
    return nullptr;
  }
  return reinterpret_cast<LLVMOrcObjectLayerRef>(
      static_cast<llvm::orc::ObjectLayer *>(layer.release()));
}

extern "C" LLVMOrcObjectLayerRef jitmm_shim_orc_jitlink_layer(const jitmm_core_api *api,
                                                              const jitmm_config *config,
                                                              LLVMOrcExecutionSessionRef es,
                                                              const char *) {
  auto start = jitmm::detail::startLayer(api, config, es, "jitmm_orc_jitlink_layer");
  if (!start)
    return nullptr;
  auto arena = std::move(start->arena);
  auto &session = start->session;
  bool debugger = start->debugger;
  auto layer = std::make_unique<llvm::orc::ObjectLinkingLayer>(
      session, std::make_unique<jitmm::detail::JITLinkManager>(std::move(arena)));
  if (llvm::Error error = jitmm_compat::addEHFramePlugin(*layer, session)) {
    std::string message = "jitmm_orc_jitlink_layer: " + llvm::toString(std::move(error));
    api->set_last_error(message.c_str());
    return nullptr;
  }
  // The plugin releases each object's debug copy (withdrawing its GDB
  // registration, see deallocate) before the layer frees the object.
  if (debugger)
    jitmm::detail::addGDBPlugin(*layer, session);
  // LLVM's unwrap(LLVMOrcObjectLayerRef) yields ObjectLayer*: convert to the
  // base first (the layer has several bases).
  return reinterpret_cast<LLVMOrcObjectLayerRef>(
      static_cast<llvm::orc::ObjectLayer *>(layer.release()));
}
