//! crm-writeback on AWS Lambda. Wiring only: the function is declared in the library.

fn main() -> std::process::ExitCode {
    switchyard_runtime::lambda::main(switchyard_crm_writeback::function())
}
