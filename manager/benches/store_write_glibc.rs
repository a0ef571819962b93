//! Store write throughput with the system allocator (glibc), to compare
//! with `store_write` (mimalloc): see [`support/throughput.rs`](support/throughput.rs).

#[path = "support/throughput.rs"]
mod throughput;

fn main() {
    throughput::main("system (glibc)");
}
