//! Peak memory readings for the benchmarks (Linux `/proc`; `None` elsewhere).

/// The process's peak resident set size in MiB since start or the last [`reset_peak_rss`].
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets the kernel's peak-RSS mark so that the next reading covers only what follows.
pub fn reset_peak_rss() {
    // N.B. Writing 5 to clear_refs resets VmHWM (Linux 4.0+); failure leaves the reading
    // process-wide, which only overstates the peak.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
