// ORC: an RTDyldObjectLinkingLayer whose objects each get a jitmm manager.
#include "compat.h"
#include "shim.h"

#include <string>

#include <llvm/BinaryFormat/ELF.h>
#include <llvm/ExecutionEngine/JITEventListener.h>
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/RTDyldObjectLinkingLayer.h>
#include <llvm/Object/ELFObjectFile.h>
#include <llvm/TargetParser/Triple.h>

namespace {

// The ELF relocation types RuntimeDyld resolves on 32-bit ARM
// (RuntimeDyldELF::resolveARMRelocation, LLVM 19 and 22).  It has no case
// for any other (PIC's R_ARM_GOT_PREL and R_ARM_REL32, Thumb's, EHABI's
// R_ARM_TARGET2): the release build's switch then jumps out of its table
// and the process crashes while linking, whatever the memory manager.
bool rtdyldResolvesARM(uint64_t type) {
  switch (type) {
  case llvm::ELF::R_ARM_NONE:
  case llvm::ELF::R_ARM_PC24:
  case llvm::ELF::R_ARM_ABS32:
  case llvm::ELF::R_ARM_CALL:
  case llvm::ELF::R_ARM_JUMP24:
  case llvm::ELF::R_ARM_TARGET1:
  case llvm::ELF::R_ARM_PREL31:
  case llvm::ELF::R_ARM_MOVW_ABS_NC:
  case llvm::ELF::R_ARM_MOVT_ABS:
    return true;
  default:
    return false;
  }
}

// An error naming the first relocation of a loaded (SHF_ALLOC) section of a
// 32-bit ARM ELF object that RuntimeDyld cannot resolve; success for
// anything else (an object that does not parse is RuntimeDyld's to report).
llvm::Error checkARMRelocations(const llvm::MemoryBuffer &buffer) {
  auto object = llvm::object::ObjectFile::createObjectFile(buffer.getMemBufferRef());
  if (!object) {
    llvm::consumeError(object.takeError());
    return llvm::Error::success();
  }
  const auto *elf = llvm::dyn_cast<llvm::object::ELFObjectFileBase>(object->get());
  if (!elf || elf->getArch() != llvm::Triple::arm)
    return llvm::Error::success();
  for (const llvm::object::SectionRef &section : elf->sections()) {
    auto target = section.getRelocatedSection();
    if (!target) {
      llvm::consumeError(target.takeError());
      continue;
    }
    if (*target == elf->section_end() ||
        !(llvm::object::ELFSectionRef(**target).getFlags() & llvm::ELF::SHF_ALLOC))
      continue;
    for (const llvm::object::RelocationRef &relocation : section.relocations()) {
      if (rtdyldResolvesARM(relocation.getType()))
        continue;
      llvm::SmallString<32> name;
      relocation.getTypeName(name);
      return llvm::make_error<llvm::StringError>(
          "jitmm: RuntimeDyld cannot link relocation " + name +
              " on 32-bit ARM (LLVM has no case for it and would crash); build the code "
              "with the static relocation model (JITMM_RELOC_MODEL) or use the JITLink layer",
          llvm::inconvertibleErrorCode());
    }
  }
  return llvm::Error::success();
}

// On 32-bit ARM: an RTDyldObjectLinkingLayer that fails to materialize an
// object with relocations RuntimeDyld cannot resolve (the session's error
// reporter says which), where RuntimeDyld itself would crash.
class ARMCheckedRTDyldLayer final : public llvm::orc::RTDyldObjectLinkingLayer {
public:
  using RTDyldObjectLinkingLayer::RTDyldObjectLinkingLayer;

  void emit(std::unique_ptr<llvm::orc::MaterializationResponsibility> R,
            std::unique_ptr<llvm::MemoryBuffer> O) override {
    if (llvm::Error error = checkARMRelocations(*O)) {
      getExecutionSession().reportError(std::move(error));
      R->failMaterialization();
      return;
    }
    RTDyldObjectLinkingLayer::emit(std::move(R), std::move(O));
  }
};

} // namespace

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
  // One manager per object: removing the object's ResourceTracker destroys
  // it and frees the object's memory.
  auto managers = [arena](JITMM_RTDYLD_FACTORY_PARAMS) {
    return std::make_unique<jitmm::detail::RTDyldManager>(arena);
  };
  llvm::Triple target(triple ? triple : "");
  llvm::orc::RTDyldObjectLinkingLayer *layer =
      target.isARM() || target.isThumb()
          ? new ARMCheckedRTDyldLayer(session, std::move(managers))
          : new llvm::orc::RTDyldObjectLinkingLayer(session, std::move(managers));
  // The same adjustments LLJIT's default RTDyld layer makes.
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
