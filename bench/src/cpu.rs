//! CPU time of processes, for figures that swing less with the machine's
//! load than MB/s does: seconds of user plus system time a process spent
//! per GiB it moved.

/// User plus system CPU seconds process `pid` has used so far (from
/// `/proc/PID/stat`, in clock ticks of 1/100 s on Linux), children it
/// waited for excluded. Zero when the process is gone.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces; the fields after its
    // closing parenthesis are plain numbers: state is field 3, utime 14.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / clock_ticks_per_sec(),
        _ => 0.0,
    }
}

/// Clock ticks per second of `/proc` times (`getconf CLK_TCK`; 100 on
/// every Linux this runs on, read once in case it is not).
fn clock_ticks_per_sec() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU seconds of `pid` spent while `work` ran, per GiB of `bytes`.
pub struct Meter {
    pid: u32,
    start: f64,
}

impl Meter {
    /// Starts counting process `pid`'s CPU time.
    pub fn start(pid: u32) -> Meter {
        Meter {
            pid,
            start: cpu_secs(pid),
        }
    }

    /// CPU seconds per GiB of `bytes` since [`Meter::start`], rounded to
    /// milliseconds.
    pub fn per_gib(&self, bytes: u64) -> f64 {
        let used = cpu_secs(self.pid) - self.start;
        let gib = bytes as f64 / (1u64 << 30) as f64;
        (used / gib * 1000.0).round() / 1000.0
    }
}
