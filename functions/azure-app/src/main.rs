//! The Function App's custom handler. Wiring only: the functions come from
//! the registry, the server from `switchyard-runtime`.

fn main() -> std::process::ExitCode {
    switchyard_runtime::azure::main(switchyard_azure_app::functions())
}
