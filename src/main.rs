//! The `kfk` binary: everything is in the library; see `kfk::cli`.

fn main() -> std::process::ExitCode {
    kfk::cli::main()
}
