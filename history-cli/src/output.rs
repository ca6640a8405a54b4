//! Where and how results are written: the format (table for people, JSON / JSON Lines / CSV
//! for scripts), whether stdout is a terminal (colors, local time, charts, progress), and the
//! formatting of times, durations and tables.

use std::io::{BufWriter, IsTerminal, Stdout, Write};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use chrono::{DateTime, Local, SecondsFormat, Utc};
use history::{Event, EventStatus};

use crate::cli::Format;
use crate::error::CliError;
use crate::shown;

/// The output of one command.
pub(crate) struct Out {
    /// The chosen format.
    pub(crate) format: Format,
    /// Stdout is a terminal: charts, local times, hints on stderr.
    pub(crate) terminal: bool,
    /// Colors: only on a terminal, never with `NO_COLOR`.
    pub(crate) color: bool,
    /// Stderr is a terminal: progress bars.
    pub(crate) progress: bool,
    w: BufWriter<Stdout>,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Out")
            .field("format", &self.format)
            .field("terminal", &self.terminal)
            .finish_non_exhaustive()
    }
}

impl Out {
    /// Output to stdout in `format`, else table on a terminal and JSON Lines otherwise.
    pub(crate) fn new(format: Option<Format>) -> Out {
        let terminal = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Out {
            format: format.unwrap_or(if terminal {
                Format::Table
            } else {
                Format::Jsonl
            }),
            terminal,
            color: terminal && !no_color,
            progress: std::io::stderr().is_terminal(),
            w: BufWriter::new(std::io::stdout()),
        }
    }

    /// The writer (buffered; flushed by [`Out::flush`]).
    pub(crate) fn w(&mut self) -> &mut BufWriter<Stdout> {
        &mut self.w
    }

    /// Writes a line.
    pub(crate) fn line(&mut self, text: &str) -> Result<(), CliError> {
        self.w.write_all(text.as_bytes())?;
        self.w.write_all(b"\n")?;
        Ok(())
    }

    /// Flushes stdout.
    pub(crate) fn flush(&mut self) -> Result<(), CliError> {
        Ok(self.w.flush()?)
    }

    /// `text` in `style` when colors are on.
    pub(crate) fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    /// A time: local on a terminal (seconds), RFC 3339 UTC otherwise.
    pub(crate) fn time(&self, t: DateTime<Utc>) -> String {
        if self.terminal {
            t.with_timezone(&Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        } else {
            t.to_rfc3339_opts(SecondsFormat::Millis, true)
        }
    }

    /// The status word, colored by outcome.
    pub(crate) fn status(&self, s: EventStatus) -> String {
        self.paint(status_style(s), s.as_str())
    }

    /// Writes one event as a JSON Lines line (redacted).
    pub(crate) fn jsonl_event(&mut self, e: &Event) -> Result<(), CliError> {
        serde_json::to_writer(&mut self.w, &shown::redact(e)).map_err(std::io::Error::from)?;
        self.w.write_all(b"\n")?;
        Ok(())
    }
}

/// The color of a status.
pub(crate) fn status_style(s: EventStatus) -> Style {
    let color = match s {
        EventStatus::Success => AnsiColor::Green,
        EventStatus::Failed => AnsiColor::Red,
        EventStatus::InProgress => AnsiColor::Cyan,
        _ => AnsiColor::Yellow,
    };
    Style::new().fg_color(Some(color.into()))
}

/// Dim text (secondary information).
pub(crate) fn dim() -> Style {
    Style::new().dimmed()
}

/// Bold text (headings).
pub(crate) fn bold() -> Style {
    Style::new().bold()
}

/// A duration for people: `850 µs`, `12.3 ms`, `4.20 s`, `3m 05s`, `2h 10m`.
pub(crate) fn duration(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1_000.0)
    } else if us < 60_000_000 {
        format!("{:.2} s", d.as_secs_f64())
    } else if d.as_secs() < 3_600 {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{}h {:02}m", d.as_secs() / 3_600, d.as_secs() % 3_600 / 60)
    }
}

/// A duration in seconds, for machine formats.
pub(crate) fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// `text` cut to `max` characters, ending in `…` when cut; one line.
pub(crate) fn cut(text: &str, max: usize) -> String {
    let one_line = text.replace(['\n', '\r', '\t'], " ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut s: String = one_line.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// Aligned columns. Cells may hold color codes: widths count only visible characters.
#[derive(Debug, Default)]
pub(crate) struct Table {
    header: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names; a name starting with `>` is right-aligned.
    pub(crate) fn new(columns: &[&str]) -> Table {
        Table {
            header: columns
                .iter()
                .map(|c| c.trim_start_matches('>').to_owned())
                .collect(),
            right: columns.iter().map(|c| c.starts_with('>')).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Writes the header (bold when colored) and the rows; the last column is not padded.
    pub(crate) fn write(&self, out: &mut Out) -> Result<(), CliError> {
        self.write_with_header(out, true)
    }

    /// Writes the rows, after the header if `header`.
    pub(crate) fn write_with_header(&self, out: &mut Out, header: bool) -> Result<(), CliError> {
        let n = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| visible_len(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(n) {
                widths[i] = widths[i].max(visible_len(cell));
            }
        }
        let names: Vec<String> = self.header.iter().map(|h| out.paint(bold(), h)).collect();
        let first = header.then_some(&names);
        for row in first.into_iter().chain(self.rows.iter()) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(n) {
                let pad = widths[i].saturating_sub(visible_len(cell));
                if i > 0 {
                    line.push_str("  ");
                }
                if self.right[i] {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    if i + 1 < n {
                        line.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.line(line.trim_end())?;
        }
        Ok(())
    }
}

/// Characters shown, not counting ANSI escape sequences.
fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\u{1b}') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// A bar of `value / max` in `width` cells (eighth blocks).
pub(crate) fn bar(value: f64, max: f64, width: usize) -> String {
    if max <= 0.0 || value <= 0.0 {
        return String::new();
    }
    const PARTS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    let eighths = ((value / max) * (width * 8) as f64).round().max(1.0) as usize;
    let mut s = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        s.push(PARTS[eighths % 8 - 1]);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(Duration::from_micros(850)), "850 µs");
        assert_eq!(duration(Duration::from_micros(12_340)), "12.3 ms");
        assert_eq!(duration(Duration::from_millis(4_200)), "4.20 s");
        assert_eq!(duration(Duration::from_secs(185)), "3m 05s");
        assert_eq!(duration(Duration::from_secs(7_800)), "2h 10m");
    }

    #[test]
    fn cells_cut_and_bars_scale() {
        assert_eq!(cut("abc\ndef", 10), "abc def");
        assert_eq!(cut("abcdefgh", 5), "abcd…");
        assert_eq!(bar(10.0, 10.0, 4), "████");
        assert_eq!(bar(5.0, 10.0, 4), "██");
        assert_eq!(bar(0.1, 10.0, 4), "▏");
        assert_eq!(bar(0.0, 10.0, 4), "");
        assert_eq!(visible_len("\u{1b}[32mok\u{1b}[0m"), 2);
    }
}
