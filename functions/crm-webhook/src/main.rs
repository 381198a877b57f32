//! crm-webhook on AWS Lambda behind a Function URL. Wiring only: the
//! function is declared in the library.

fn main() -> std::process::ExitCode {
    switchyard_runtime::lambda::main(switchyard_crm_webhook::function())
}
