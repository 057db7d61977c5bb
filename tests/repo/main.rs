//! Checks of the repository itself, which need no running service: they read the source
//! tree, so they run without moto, in a test target of their own beside `tests/api`.

mod layers;
