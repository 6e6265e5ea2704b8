//! Compiles src/bpf/main.bpf.c and generates its skeleton in OUT_DIR.
fn main() {
    scx_build::build_scheduler();
}
