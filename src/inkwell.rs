//! inkwell integration (filled in by the inkwell issue).
