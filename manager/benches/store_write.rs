//! Store write throughput with mimalloc, the allocator of the `shoal`
//! binary: see [`support/throughput.rs`](support/throughput.rs).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/throughput.rs"]
mod throughput;

fn main() {
    throughput::main("mimalloc");
}
