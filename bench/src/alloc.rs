//! A counting allocator, to measure the replay state's heap bytes. Counting
//! is off unless switched on, so the timing loops pay one relaxed load per
//! allocation, on both sides of every comparison alike.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// The global allocator of the bench binary.
pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static CALLS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters do not affect the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
            CALLS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ON.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
            CALLS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Heap bytes allocated and not freed by `f` (and kept alive in its result).
pub fn live_bytes_of<T>(f: impl FnOnce() -> T) -> (T, isize) {
    let (out, (_, live)) = count(f);
    (out, live)
}

/// How many allocations (and reallocations) `f` made.
pub fn allocations_of<T>(f: impl FnOnce() -> T) -> (T, isize) {
    let (out, (calls, _)) = count(f);
    (out, calls)
}

fn count<T>(f: impl FnOnce() -> T) -> (T, (isize, isize)) {
    LIVE.store(0, Ordering::SeqCst);
    CALLS.store(0, Ordering::SeqCst);
    ON.store(true, Ordering::SeqCst);
    let out = f();
    ON.store(false, Ordering::SeqCst);
    (
        out,
        (CALLS.load(Ordering::SeqCst), LIVE.load(Ordering::SeqCst)),
    )
}
