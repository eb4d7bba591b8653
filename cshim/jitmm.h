/* jitmm — a JIT memory manager for LLVM.  C API.
 *
 * Every function is safe to call from any thread.  Functions that can fail
 * return NULL / a negative value and leave a message for jitmm_last_error().
 */
#ifndef JITMM_H
#define JITMM_H

#include <stddef.h>
#include <stdint.h>

#include <llvm-c/ExecutionEngine.h>
#include <llvm-c/Orc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How code is made executable. */
typedef enum jitmm_strategy {
  /* Probe the OS once: DualMap where shared executable mappings work, else
   * Mprotect.  The environment variable JITMM_STRATEGY=auto|dualmap|mprotect
   * overrides this choice (and only this one). */
  JITMM_STRATEGY_AUTO = 0,
  /* memfd mapped twice: written through an RW view, executed through an RX
   * view.  Finalize is an instruction-cache flush, no syscall. */
  JITMM_STRATEGY_DUALMAP = 1,
  /* Written in place, then mprotect()ed to RX/R at finalize.  Sections
   * execute at the address allocate*Section returned. */
  JITMM_STRATEGY_MPROTECT = 2
} jitmm_strategy;

typedef struct jitmm_config {
  /* sizeof(jitmm_config): set by jitmm_config_init or JITMM_CONFIG_INIT.  A
   * config of another size (a client built against another jitmm.h) is
   * refused with an error, never misread. */
  size_t size;
  jitmm_strategy strategy;
  /* Nonzero: a reservation of its own instead of the process-wide arena. */
  int private_arena;
  /* Bytes of address space for a private arena; 0 picks the architecture's
   * default (the largest span the default code model reaches).  Nonzero
   * implies private_arena. */
  size_t reservation_size;
  /* Nonzero: append `start size name` for each finalized function to
   * /tmp/perf-<pid>.map (JITMM_PERF_MAP=1 turns it on for every manager). */
  int perf_map;
  /* Nonzero: register JIT-compiled objects with GDB's JIT interface
   * (__jit_debug_register_code), so that GDB names JIT functions in
   * backtraces: MCJIT engines on this manager (LLVM's GDB listener is made
   * sure of), every object of jitmm_orc_rtdyld_layer (LLVM's GDB listener)
   * and of jitmm_orc_jitlink_layer (LLVM's debug-object plugin).  Each
   * registration is withdrawn before the object's memory is freed or
   * reused.  JITMM_GDB=1 turns it on for every manager and layer. */
  int debugger;
} jitmm_config;

/* The defaults: `jitmm_config config = JITMM_CONFIG_INIT;` */
#define JITMM_CONFIG_INIT {sizeof(jitmm_config)}

/* Process-wide counters (all arenas). */
typedef struct jitmm_stats {
  uint64_t size;                 /* sizeof(jitmm_stats), set by the caller */
  uint64_t bytes_reserved;       /* address space reserved by arenas */
  uint64_t bytes_committed;      /* backed by blocks (mapped, may be sparse) */
  uint64_t bytes_live_code;      /* handed out to live objects, per class */
  uint64_t bytes_live_rodata;
  uint64_t bytes_live_rwdata;
  uint64_t objects_live;
  uint64_t objects_finalized;    /* total finalize operations */
  uint64_t mmap_calls;
  uint64_t mprotect_calls;
  uint64_t munmap_calls;
  uint64_t madvise_calls;
  uint64_t fallocate_calls;
  uint64_t icache_flushes;
  uint64_t membarrier_calls;
  uint64_t vmas;                 /* mappings in /proc/self/maps owned by jitmm */
} jitmm_stats;

/* `jitmm_stats stats = JITMM_STATS_INIT; jitmm_stats_get(&stats);` */
#define JITMM_STATS_INIT {sizeof(jitmm_stats)}

/* Fills *config with the defaults (Auto, shared arena). */
void jitmm_config_init(jitmm_config *config);

/* A full llvm::RTDyldMemoryManager (not LLVM's simple-callback wrapper): put
 * it in LLVMMCJITCompilerOptions.MCJMM; MCJIT owns and deletes it.  Dispose
 * an unused one with LLVMDisposeMCJITMemoryManager. */
LLVMMCJITMemoryManagerRef jitmm_mcjit_memory_manager_create(void);
LLVMMCJITMemoryManagerRef jitmm_mcjit_memory_manager_create_with(const jitmm_config *config);

/* The relocation model the jitmm layers expect of the JITTargetMachineBuilder
 * (with the small code model): PIC, except on 32-bit x86 and 32-bit ARM,
 * where LLVM's RuntimeDyld links no PIC code (no i386 GOT; no R_ARM_GOT_PREL
 * or R_ARM_REL32, whose objects crash it while linking) and absolute 32-bit
 * relocations reach the whole address space anyway.
 * Its value is an LLVMRelocMode (llvm-c/TargetMachine.h). */
#if defined(__i386__) || defined(__arm__)
#define JITMM_RELOC_MODEL LLVMRelocStatic
#else
#define JITMM_RELOC_MODEL LLVMRelocPIC
#endif

/* Object-linking-layer creators with exactly the signature of
 * LLVMOrcLLJITBuilderObjectLinkingLayerCreatorFunction; ctx is a
 * const jitmm_config * (or NULL for defaults) that must outlive the call.
 * Each object gets its own memory manager, freed when its ResourceTracker
 * is removed.  Expects a small-code-model JITTargetMachineBuilder with
 * JITMM_RELOC_MODEL.  On 32-bit ARM an object with a relocation RuntimeDyld
 * has no case for (which would crash it) fails to materialize instead: the
 * lookup fails and the session's error reporter names the relocation. */
LLVMOrcObjectLayerRef jitmm_orc_rtdyld_layer(void *ctx, LLVMOrcExecutionSessionRef es,
                                             const char *triple);

/* The same for JITLink, LLJIT's default linker: an ObjectLinkingLayer whose
 * link graphs are placed by jitmm (code, read-only and read-write segments
 * within relocation range of each other), with in-process EH-frame
 * registration so C++ exceptions unwind through JIT-compiled frames.  Each
 * graph's memory is freed when its ResourceTracker is removed; a graph that
 * cannot be placed fails to link with an error.  Expects a small-code-model
 * JITTargetMachineBuilder with JITMM_RELOC_MODEL. */
LLVMOrcObjectLayerRef jitmm_orc_jitlink_layer(void *ctx, LLVMOrcExecutionSessionRef es,
                                              const char *triple);

/* A new llvm::jitlink::JITLinkMemoryManager on jitmm, returned as void *
 * (C cannot name the type); config may be NULL for defaults.  For C++
 * clients: jitmm::createJITLinkMemoryManager in jitmm.hpp wraps it, and the
 * caller owns and deletes it.  NULL on error. */
void *jitmm_jitlink_memory_manager_create(const jitmm_config *config);

/* A new llvm::orc::ObjectLinkingLayer::Plugin (as void *, owned by the
 * caller; jitmm::createGDBPlugin in jitmm.hpp wraps it) that registers each
 * object the layer links with GDB, for an ObjectLinkingLayer built on
 * jitmm's JITLinkMemoryManager: jitmm's deallocate withdraws the
 * registrations before it frees their memory (LLVM 19's own JITLink
 * registration never withdraws them).  jitmm_orc_jitlink_layer adds it by
 * itself when the config's `debugger` is set.  NULL on error. */
void *jitmm_gdb_jitlink_plugin_create(LLVMOrcExecutionSessionRef es);

/* Copies the process-wide counters into *out; 0 on success, -1 if out is NULL
 * or out->size is not sizeof(jitmm_stats) (then nothing else is written). */
int jitmm_stats_get(jitmm_stats *out);

/* Returns every free page of every arena to the OS now.  Freed memory goes
 * back on its own, except the last freed chunk of each section class (at
 * most 2 MiB each), kept resident so that an object of the same size loads
 * again without page faults; call this after dropping a large JIT. */
void jitmm_trim(void);

/* The last error on this thread, or "" if none.  Valid until the next jitmm
 * call on this thread. */
const char *jitmm_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* JITMM_H */
