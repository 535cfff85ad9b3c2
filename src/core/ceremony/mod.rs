//! The ceremony engine's home: the states of a ceremony, its typed records and the legal
//! transitions between them, with no I/O. The live ceremony, the terminal app, `audit verify` and
//! `audit replay` all drive it.
