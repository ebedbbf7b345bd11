/*!
The one error type of nix-hug: a kind (which decides the exit code and the advice), a message, the layers
of context added where each fact is known (`fetching acme/bert@3579d71`, `config.json`), and an optional
source. It prints on one line, outermost context first.
*/

use std::fmt;
use std::time::Duration;

/// What went wrong, as far as it changes what happens next: the exit code, or what is tried instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A bad flag, value, URL form, configuration or environment: exit code 2.
    Usage,
    /// No such repository or file (a bare `org/repo` is then tried as a dataset).
    NotFound,
    /// The repository exists, the branch, tag or commit asked for does not.
    NoSuchRevision,
    /// The Hub could not be reached or kept failing (auto-persist then uses what it exported).
    Network,
    /// Content that does not match its hash or its listing (fetched once more), or an unsafe listing.
    Integrity,
    /// Anything else: access refused, Nix, the disk.
    Failed,
}

pub struct Error {
    kind: Kind,
    message: String,
    context: Vec<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// Worth trying again (connection errors, timeouts, 408/429/5xx, short bodies)...
    transient: bool,
    /// ...no sooner than this, when the server said so.
    retry_after: Duration,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            context: Vec::new(),
            source: None,
            transient: false,
            retry_after: Duration::ZERO,
        }
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.source = Some(Box::new(source));
        self
    }

    /// A network failure worth retrying, after at least `after`.
    pub fn transient(message: impl Into<String>, after: Duration) -> Error {
        Error { transient: true, retry_after: after, ..Error::new(Kind::Network, message) }
    }

    pub fn is_transient(&self) -> bool {
        self.transient
    }

    /// How long the server asked to wait before a retry; zero when it did not say.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The context layers, outermost first, then the message, then the source if any: the error one
    /// layer per line, as `--debug` shows it. On one line, they are joined by `: `.
    pub fn layers(&self) -> Vec<String> {
        let mut layers: Vec<String> = self.context.iter().rev().cloned().collect();
        layers.push(self.message.clone());
        layers.extend(self.source.as_ref().map(|s| s.to_string()));
        layers
    }

    /// Adds an outer layer of context.
    pub fn context(mut self, layer: impl fmt::Display) -> Error {
        self.context.push(layer.to_string());
        self
    }
}

/// Shorthand constructors, one per kind.
pub fn usage(message: impl Into<String>) -> Error {
    Error::new(Kind::Usage, message)
}
pub fn integrity(message: impl Into<String>) -> Error {
    Error::new(Kind::Integrity, message)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.layers().join(": "))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} ({:?})", self.kind)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(Kind::Failed, e.to_string())
    }
}

/// Adds a layer of context to the error of a `Result`.
pub trait Context<T> {
    fn context(self, layer: impl fmt::Display) -> Result<T>;
    fn with_context<D: fmt::Display>(self, layer: impl FnOnce() -> D) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for Result<T, E> {
    fn context(self, layer: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(layer))
    }
    fn with_context<D: fmt::Display>(self, layer: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| e.into().context(layer()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_outermost_first() {
        let e = Error::new(Kind::Failed, "reading")
            .with_source(std::io::Error::other("disk on fire"))
            .context("config.json")
            .context("acme/bert@0123456");
        assert_eq!(e.layers(), ["acme/bert@0123456", "config.json", "reading", "disk on fire"]);
        assert_eq!(e.to_string(), "acme/bert@0123456: config.json: reading: disk on fire");
        assert_eq!(usage("bad").layers(), ["bad"]);
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk on fire"), "the cause is chained for other reporters too");
    }
}
