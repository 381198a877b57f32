//! audit-log on AWS Lambda, the target of an EventBridge rule. Wiring only:
//! the function is declared in the library.

fn main() -> std::process::ExitCode {
    switchyard_runtime::lambda::main(switchyard_audit_log::function())
}
