//! The `ctuq` binary: parse the command line and run the job it names.

fn main() -> std::process::ExitCode {
    ctuq::cli::main()
}
