//! The allocator of the `rolecall` binary: mimalloc, tuned for a short run.
//!
//! A run allocates on the async workers and reports on the main thread, a pattern
//! glibc's per-thread arenas handle poorly (lock contention on cross-thread frees): with
//! mimalloc `rolecall run` takes about 1.0× the plain reqwest loop of
//! `cargo xtask bench runner` instead of 1.3×.
//!
//! mimalloc keeps pages that became free for a second before it gives them back to the
//! operating system (its *purge delay*), so that a long-running server can reuse them.
//! A run lasts well under a second and goes through phases (load the suite, compile the
//! rules, send): memory freed by one phase stayed resident while the next one touched
//! new pages, about 2 MiB of a 20 MiB peak. [`release_freed_memory_at_once`] sets the
//! delay to zero (unless the environment sets one); the cost, a `madvise` per emptied
//! page, did not show in wall time.
//!
//! This is the workspace's only unsafe code: one call that stores an integer in
//! mimalloc's option table.

pub use mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (include/mimalloc.h), which
/// `libmimalloc-sys` does not name for version 3. The test below checks that this index
/// still holds the purge delay's documented default, so an upgrade that renumbers the
/// options fails the build's tests instead of changing another setting.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The environment variables through which a user chooses the purge delay.
const PURGE_DELAY_VARIABLES: [&str; 2] = ["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"];

/// Makes mimalloc give pages back to the operating system as soon as they are free,
/// unless the environment already chose a delay (`MIMALLOC_PURGE_DELAY`, or its older
/// name `MIMALLOC_RESET_DELAY`).
///
/// Call it first thing in `main`, before any other thread exists: mimalloc writes and
/// reads its option table without synchronisation.
pub fn release_freed_memory_at_once() {
    if environment_chose_a_delay() {
        return;
    }
    #[allow(unsafe_code)]
    // SAFETY: `mi_option_set` stores an integer in mimalloc's static option table; any
    // index below `_mi_option_last` and any value are valid. The store is not atomic,
    // which is sound because `main` calls this before it starts any other thread (the
    // documented precondition), so nothing reads the table at the same time.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}

fn environment_chose_a_delay() -> bool {
    PURGE_DELAY_VARIABLES
        .iter()
        .any(|name| std::env::var_os(name).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(unsafe_code)]
    fn purge_delay() -> std::ffi::c_long {
        // SAFETY: reads mimalloc's static option table with a valid index; this is the
        // crate's only test, so no other thread of the test binary writes it.
        unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
    }

    #[test]
    fn the_option_is_the_purge_delay_and_becomes_zero() {
        if environment_chose_a_delay() {
            return; // left alone: nothing to check
        }
        // mimalloc 3's default purge delay (src/options.c), in milliseconds; no other
        // option defaults to 1000, and mimalloc 2's purge delay defaults to 10.
        assert_eq!(
            purge_delay(),
            1000,
            "index {PURGE_DELAY} is not the purge delay"
        );
        release_freed_memory_at_once();
        assert_eq!(purge_delay(), 0);
    }
}
