//! What the target architecture fixes for the layout: how far its default
//! code model reaches, and so how large one arena may be.

/// The default reservation: the span within which every section reaches
/// every other with the default code model's PC-relative relocations
/// (x86-64 rel32 ±2 GiB, AArch64 ADRP ±4 GiB, RISC-V AUIPC ±2 GiB,
/// PowerPC64 / s390x / LoongArch64 ±2 GiB); 32-bit targets keep address
/// space for the rest of the process.
pub const fn default_reservation_size() -> usize {
    if cfg!(target_pointer_width = "64") {
        1 << 30
    } else {
        128 << 20
    }
}
