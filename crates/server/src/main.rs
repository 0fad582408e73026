// glibc's allocator spent a fifth of close of business in malloc, free and fastbin
// consolidation (perf); mimalloc's per-thread free lists avoid most of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    server::cli::main()
}
