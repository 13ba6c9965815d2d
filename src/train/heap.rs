//! How the training process's heap keeps freed memory.
//!
//! glibc's malloc returns freed blocks to the kernel (blocks from 128 KiB up are mapped and
//! unmapped one by one, and the heap's top is trimmed), and libtorch frees and allocates the
//! same large `[edges, 3F]` tensors in every training step: with glibc's defaults each step
//! faulted its memory in again, zeroed page by page by the kernel. Measured on 150 steps of
//! the shipped potential's size on organic molecules (batch 16, float32, one thread, the other
//! core busy): 65 s of system time beside 118 s of user time, 184 s in all; with the heap kept
//! as below, 7 s of system time and 130 s in all, the same losses to the printed digits
//! (docs/potential.md, "Training speed").

/// Largest block (bytes) the heap serves itself instead of mapping it on its own; glibc's
/// ceiling for this setting on 64-bit systems (32 MiB).
const MMAP_THRESHOLD: i32 = 32 << 20;

/// Tells glibc's malloc to keep freed memory for reuse (no unmapping of blocks up to
/// `MMAP_THRESHOLD`, no trimming of the heap). For the training process only: a library
/// loaded into an engine leaves its host's allocator alone. Does nothing on other C libraries.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before the training
    // allocates its tensors, from the main thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
