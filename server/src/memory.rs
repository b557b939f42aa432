//! How soon the allocator gives freed memory back to the system.
//!
//! The binary allocates with mimalloc (v3). It keeps freed pages for `purge_delay` = 1 s before
//! returning them, ten times that in its arenas: under the push load (16 phones, each push's
//! records parsed, grouped and dropped) that held 25-30 MiB of garbage resident, and the SQLite
//! server's peak RSS read 141-148 MiB against its 150 MB target. At 10 ms (mimalloc v2's default)
//! it read 121 MiB at the same throughput (docs/benchmarks.md).

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (include/mimalloc.h); the Rust
/// bindings name only the options that older versions had. `purge_delay_is_the_option_we_mean`
/// checks it against the option's documented default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Returns freed memory to the system after 10 ms instead of mimalloc's 1 s.
pub fn return_freed_memory_sooner() {
    // SAFETY: sets one process-wide option (an integer); mimalloc reads it at each purge and
    // allows it to change at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_delay_is_the_option_we_mean() {
        // SAFETY: reads one option.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(default, 1000, "option 15 is not mimalloc v3's purge_delay (default 1000 ms)");
        }
        return_freed_memory_sooner();
        // SAFETY: as above.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }, PURGE_DELAY_MS);
    }
}
