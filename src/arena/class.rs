//! The final protection of a section, which decides the blocks it lives in.

use crate::os::Prot;

/// The final protection of a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Class {
    /// Code: read + execute.
    Code = 0,
    /// Read-only data (constants, EH frames).
    ReadOnly = 1,
    /// Read-write data (globals).
    ReadWrite = 2,
}

impl Class {
    /// All classes, in index order.
    pub const ALL: [Class; 3] = [Class::Code, Class::ReadOnly, Class::ReadWrite];

    /// The class for an index used across the C boundary.
    pub fn from_index(i: i32) -> Option<Class> {
        Self::ALL.get(usize::try_from(i).ok()?).copied()
    }

    /// The protection its sections have once finalized.
    pub fn final_prot(self) -> Prot {
        match self {
            Class::Code => Prot::ReadExec,
            Class::ReadOnly => Prot::Read,
            Class::ReadWrite => Prot::ReadWrite,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_indices_round_trip() {
        for class in Class::ALL {
            assert_eq!(Class::from_index(class as i32), Some(class));
        }
        assert_eq!(Class::from_index(3), None);
        assert_eq!(Class::from_index(-1), None);
    }
}
