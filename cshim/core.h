/* The narrow boundary between the C++ shim and the Rust core.
 *
 * The shim never links against Rust symbols: the core hands it this table of
 * function pointers, so libjitmm.a / .so / the rlib link in any order.
 * Internal: clients use jitmm.h / jitmm.hpp.
 */
#ifndef JITMM_CORE_H
#define JITMM_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "jitmm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jitmm_core_arena jitmm_core_arena;
typedef struct jitmm_core_object jitmm_core_object;

/* Final protection of a section. */
enum { JITMM_CLASS_CODE = 0, JITMM_CLASS_RODATA = 1, JITMM_CLASS_RWDATA = 2 };

typedef struct jitmm_core_section {
  uint8_t *rw;   /* where the linker writes */
  uint8_t *exec; /* where the section lives when it runs (== rw for RW data and under Mprotect) */
} jitmm_core_section;

typedef struct jitmm_core_api {
  /* sizeof(jitmm_core_api): the shim refuses a table of another layout. */
  size_t size;
  /* Resolves a config (NULL: defaults) to an arena handle; NULL on error. */
  jitmm_core_arena *(*arena_acquire)(const jitmm_config *config);
  void (*arena_release)(jitmm_core_arena *arena);
  /* Nonzero when exec != rw for code / rodata (DualMap). */
  int (*arena_is_dual_mapped)(const jitmm_core_arena *arena);
  jitmm_core_object *(*object_new)(jitmm_core_arena *arena);
  /* An object finalized after each batch of sections, for a manager that
   * loads many object files and frees them together (an MCJIT engine):
   * reserve carves each batch from slabs the batches share, finalize seals
   * what was allocated since the last one, and the object takes more
   * sections after it. NULL on error. */
  jitmm_core_object *(*object_new_batched)(jitmm_core_arena *arena);
  /* Pre-allocates one contiguous chunk per class; 0 ok, -1 error. */
  int (*object_reserve)(jitmm_core_object *object, uintptr_t code_size, uintptr_t code_align,
                        uintptr_t ro_size, uintptr_t ro_align, uintptr_t rw_size,
                        uintptr_t rw_align);
  /* 0 ok, -1 error. */
  int (*object_allocate)(jitmm_core_object *object, int cls, uintptr_t size, uintptr_t align,
                         jitmm_core_section *out);
  /* The linker has placed every section and knows its exec address; what was
   * reserved and not used goes back. */
  void (*object_placed)(jitmm_core_object *object);
  /* Protections + icache coherence; 0 ok, -1 error (also when called twice,
   * except on a batched object). */
  int (*object_finalize)(jitmm_core_object *object);
  void (*object_free)(jitmm_core_object *object);
  const char *(*last_error)(void);
  void (*set_last_error)(const char *message);
  /* Nonzero when the perf map is on: the shim then reports function symbols. */
  int (*object_wants_symbols)(const jitmm_core_object *object);
  /* Names `size` bytes of code at executable address `addr` (written to the
   * perf map when the object is finalized). */
  void (*object_add_symbol)(jitmm_core_object *object, const char *name, size_t name_len,
                            uint64_t addr, uint64_t size);
  /* Nonzero when GDB JIT registration is on (config or JITMM_GDB=1). */
  int (*arena_debugger)(const jitmm_core_arena *arena);
} jitmm_core_api;

/* The layouts the Rust core declares (src/ffi/mod.rs asserts the same). */
#ifdef __cplusplus
static_assert(sizeof(jitmm_core_api) == 16 * sizeof(void *), "jitmm_core_api: a size and 15 entries");
static_assert(sizeof(jitmm_config) == 2 * sizeof(size_t) + 4 * sizeof(int), "jitmm_config layout");
static_assert(sizeof(jitmm_stats) == 16 * sizeof(uint64_t), "jitmm_stats: a size and 15 counters");
#endif

#ifdef __cplusplus
}
#endif

#endif /* JITMM_CORE_H */
