//! The process's peak resident memory (Linux `/proc`), which engine runs
//! report and record. The kernel keeps one high-water mark per process; it
//! is restarted before each engine run, so that a run inside a server that
//! has lived for days records its own peak, not the largest since start.

/// Peak resident memory in MiB since the process started or since the last
/// [`reset`]; `None` where `/proc` does not tell.
pub fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Restarts the measure of [`peak_mib`] at the current resident size
/// (`clear_refs`, value 5). Where that is refused the measure goes on.
pub fn reset() {
    if let Err(error) = std::fs::write("/proc/self/clear_refs", "5") {
        tracing::debug!(%error, "cannot restart the peak memory measure");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_forgets_an_earlier_peak() {
        const MIB: usize = 1024 * 1024;
        // Touched, so resident; large, so returned to the kernel when dropped.
        let block = vec![1u8; 256 * MIB];
        std::hint::black_box(&block);
        drop(block);
        let with_block = peak_mib().expect("Linux /proc");
        reset();
        let after = peak_mib().unwrap();
        assert!(
            after < with_block - 128.0,
            "peak {after:.0} MiB after the reset, {with_block:.0} MiB before"
        );
    }
}
