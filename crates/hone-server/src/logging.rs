//! `hone server`'s logs: `tracing` events to stderr through `tracing-subscriber`'s fmt layer,
//! as text or one JSON object a line, at the level `HONE_LOG` names (`info` by default).
//!
//! Every request gets one `info` line (target `hone_server::request`: method, matched route
//! template, status, latency in ms), from the metrics middleware ([`crate::metrics`]); no
//! request path, query, header or body is ever logged.

use tracing::level_filters::LevelFilter;

use crate::ServerError;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable text (`tracing-subscriber`'s default format, no colours).
    #[default]
    Text,
    /// One JSON object a line (`timestamp`, `level`, `target`, `fields`).
    Json,
}

/// The level named by `value` (`HONE_LOG`'s value): `off`, `error`, `warn`, `info`, `debug`
/// or `trace`, any case; `None` or an empty value is `info`.
pub fn log_level(value: Option<&str>) -> Result<LevelFilter, ServerError> {
    match value.map(str::trim) {
        None | Some("") => Ok(LevelFilter::INFO),
        Some(v) => v
            .parse::<LevelFilter>()
            .map_err(|_| ServerError::LogLevel(hone_track::printable(v).into_owned())),
    }
}

/// Installs the process's log subscriber (stderr, `format`, `level`). A second call (a
/// subscriber already installed, as in tests) changes nothing.
pub fn init_logging(format: LogFormat, level: LevelFilter) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(level);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_default_to_info_and_unknown_ones_are_refused() {
        assert_eq!(log_level(None).ok(), Some(LevelFilter::INFO));
        assert_eq!(log_level(Some("")).ok(), Some(LevelFilter::INFO));
        assert_eq!(log_level(Some("DEBUG")).ok(), Some(LevelFilter::DEBUG));
        assert_eq!(log_level(Some("off")).ok(), Some(LevelFilter::OFF));
        assert!(matches!(
            log_level(Some("loud")),
            Err(ServerError::LogLevel(v)) if v == "loud"
        ));
    }
}
