//! Progress bars on a terminal (nothing otherwise), and the one-line
//! summary every long command ends with.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use minitwit_core::backup::BackupSummary;

/// A bar counting records towards `total`, drawn on standard error when it
/// is a terminal.
pub fn records_bar(what: &str, total: u64) -> ProgressBar {
    count_bar(what, total, "records")
}

/// A bar counting `unit`s towards `total`, drawn on standard error when it
/// is a terminal.
pub fn count_bar(what: &str, total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = format!(
        "{{prefix:>9}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit}, {{per_sec}}, {{eta}} left"
    );
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(what.to_owned());
    bar
}

/// The summary line: what a backup holds, its size and how long it took.
pub fn summary_line(what: &str, summary: &BackupSummary, elapsed: Duration, place: &str) -> String {
    format!(
        "{what}: {} users, {} follows, {} messages, {} bytes ({}) in {:.2} s, {place}",
        summary.users,
        summary.follows,
        summary.messages,
        summary.bytes,
        indicatif::HumanBytes(summary.bytes),
        elapsed.as_secs_f64(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_every_figure() {
        let summary = BackupSummary {
            users: 3,
            follows: 4,
            messages: 5,
            records: 14,
            bytes: 2048,
        };
        let line = summary_line("backup", &summary, Duration::from_millis(1500), "to b.gz");
        assert_eq!(
            line,
            "backup: 3 users, 4 follows, 5 messages, 2048 bytes (2.00 KiB) in 1.50 s, to b.gz"
        );
    }
}
