/*!
The one error type of nix-hug: a kind (which decides the exit code and the advice), a message, the layers
of context added where each fact is known (`fetching acme/bert@3579d71`, `config.json`), and an optional
source. It prints on one line, outermost context first.
*/

use std::fmt;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A bad flag, value, URL form or environment: exit code 2.
    Usage,
    Network,
    Auth,
    NotFound,
    /// The repository exists, the branch, tag or commit asked for does not.
    NoSuchRevision,
    /// Content that does not match its hash, or an unsafe listing from the network.
    Integrity,
    Nix,
    Io,
}

pub struct Error {
    kind: Kind,
    message: String,
    context: Vec<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// Set on transient failures (connection errors, timeouts, 408/429/5xx, short bodies): how long the
    /// server asked us to wait before trying again, zero when it did not say.
    retry_after: Option<Duration>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), context: Vec::new(), source: None, retry_after: None }
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.source = Some(Box::new(source));
        self
    }

    /// A network failure worth retrying, after at least `after`.
    pub fn transient(message: impl Into<String>, after: Duration) -> Error {
        Error { retry_after: Some(after), ..Error::new(Kind::Network, message) }
    }

    pub fn retry_after(&self) -> Option<Duration> {
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

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(Kind::Io, e.to_string())
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
        let e = Error::new(Kind::Io, "reading")
            .with_source(std::io::Error::other("disk on fire"))
            .context("config.json")
            .context("acme/bert@0123456");
        assert_eq!(e.layers(), ["acme/bert@0123456", "config.json", "reading", "disk on fire"]);
        assert_eq!(e.to_string(), "acme/bert@0123456: config.json: reading: disk on fire");
        assert_eq!(usage("bad").layers(), ["bad"]);
    }
}
