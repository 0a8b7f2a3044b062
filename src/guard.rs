//! Containing panics of dependencies: `tokenizers` and tract panic, instead of returning an
//! error, on some malformed files (found by the fuzz targets in `fuzz/`).
//!
//! Natively such a panic is caught and becomes an error; in WebAssembly a panic aborts and
//! cannot be caught, so the loaders also check the cases known to panic before calling in.

/// Runs `load`; a panic inside it becomes `on_panic(message)` (natively; in WebAssembly the
/// panic aborts as usual).
pub(crate) fn catch_panic<T>(
    load: impl FnOnce() -> crate::Result<T>,
    on_panic: impl FnOnce(&str) -> crate::Error,
) -> crate::Result<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(load)).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(on_panic(message))
        })
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = on_panic;
        load()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::catch_panic;
    use crate::Error;

    #[test]
    fn a_panic_becomes_the_error_and_a_result_passes_through() {
        let caught = catch_panic(|| -> crate::Result<()> { panic!("boom") }, |message| Error::config(message));
        assert!(matches!(caught, Err(Error::Config { reason }) if reason == "boom"));
        assert_eq!(catch_panic(|| Ok(7), |_| unreachable!()).ok(), Some(7));
    }
}
