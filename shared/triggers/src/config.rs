//! Settings are read through [`switchyard_config`]: one reader, one error
//! type naming the variable, per-function values (`ERP_SYNC__VAR`).

pub use switchyard_config::{ConfigError, Settings, scope_prefix};
