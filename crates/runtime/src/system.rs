//! What the machine and this process's cgroup say about memory.

/// A cgroup v1 "no limit" reads as a number near `i64::MAX`.
const CGROUP_V1_UNLIMITED: u64 = 1 << 60;

/// A `/proc/meminfo` field (`MemTotal`, `SwapTotal`, ...), in bytes.
pub fn meminfo_bytes(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib << 10)
}

/// A file of this process's cgroup v2 (`memory.max`, `memory.swap.max`).
pub fn cgroup_v2_file(name: &str) -> Option<String> {
    std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("0::").map(str::to_owned))
        })
        .and_then(|path| {
            std::fs::read_to_string(format!("/sys/fs/cgroup{}/{name}", path.trim())).ok()
        })
        .or_else(|| std::fs::read_to_string(format!("/sys/fs/cgroup/{name}")).ok())
}

/// The memory limit of this process's cgroup (v2, then v1), if any.
pub fn cgroup_memory_limit() -> Option<u64> {
    if let Some(text) = cgroup_v2_file("memory.max") {
        return text.trim().parse().ok();
    }
    std::fs::read_to_string("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .filter(|&limit| limit < CGROUP_V1_UNLIMITED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_reports_its_memory() {
        assert!(meminfo_bytes("MemTotal").is_some_and(|bytes| bytes > 0));
        assert!(meminfo_bytes("SwapTotal").is_some());
        assert!(meminfo_bytes("NoSuchField").is_none());
    }
}
