#![doc = include_str!("../README.md")]

pub use switchyard_triggers::registry::Function;

/// Every registered function, in a stable order.
pub fn functions() -> Vec<Function> {
    vec![
        switchyard_crm_webhook::function(),
        switchyard_erp_sync::function(),
        switchyard_audit_log::function(),
        switchyard_crm_writeback::function(),
        // switchyard new: registered functions above this line
    ]
}

/// The registered function called `name`.
pub fn find(name: &str) -> Option<Function> {
    functions().into_iter().find(|f| f.name == name)
}
