// ORC: an RTDyldObjectLinkingLayer whose objects each get a jitmm manager.
#include "compat.h"
#include "shim.h"

#include <string>

#include <llvm/ExecutionEngine/JITEventListener.h>
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/RTDyldObjectLinkingLayer.h>
#include <llvm/TargetParser/Triple.h>

extern "C" LLVMOrcObjectLayerRef jitmm_shim_orc_rtdyld_layer(const jitmm_core_api *api,
                                                             const jitmm_config *config,
                                                             LLVMOrcExecutionSessionRef es,
                                                             const char *triple) {
  auto start = jitmm::detail::startLayer(api, config, es, "jitmm_orc_rtdyld_layer");
  if (!start)
    return nullptr;
  auto arena = std::move(start->arena);
  auto &session = start->session;
  bool debugger = start->debugger;
  auto *layer = new llvm::orc::RTDyldObjectLinkingLayer(
      session, [arena](JITMM_RTDYLD_FACTORY_PARAMS) {
        // One manager per object: removing the object's ResourceTracker
        // destroys it and frees the object's memory.
        return std::make_unique<jitmm::detail::RTDyldManager>(arena);
      });
  // The same adjustments LLJIT's default RTDyld layer makes.
  llvm::Triple target(triple ? triple : "");
  if (target.isOSBinFormatCOFF()) {
    layer->setOverrideObjectFlagsWithResponsibilityFlags(true);
    layer->setAutoClaimResponsibilityForObjectSymbols(true);
  }
  // LLJIT does this for ppc64 ELF only; on every ELF target, weak hidden
  // symbols the IR layer never saw (e.g. DW.ref.__gxx_personality_v0, which
  // PIC code with landing pads references) must be claimed by the object
  // layer or lookups fail with "Symbols not found".
  if (target.isOSBinFormatELF())
    layer->setAutoClaimResponsibilityForObjectSymbols(true);
  // The layer tells its listeners an object is going (removal of its
  // ResourceTracker) before it destroys the object's memory manager.
  if (debugger)
    layer->registerJITEventListener(jitmm::detail::gdbListener());
  // LLVM's unwrap(LLVMOrcObjectLayerRef) yields ObjectLayer*: convert to the
  // base first (the layer has several bases).
  return reinterpret_cast<LLVMOrcObjectLayerRef>(static_cast<llvm::orc::ObjectLayer *>(layer));
}
