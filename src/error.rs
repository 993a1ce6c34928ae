//! Typed errors of the library. The command line maps [`IsacError::Input`] to exit code 2.

/// Every error the library returns. Input errors name the offending key.
#[derive(Debug, thiserror::Error)]
pub enum IsacError {
    /// Bad user input: `key` names the input key, `message` says what is allowed.
    #[error("invalid input `{key}`: {message}")]
    Input { key: String, message: String },
    /// The numerical layer failed in a way that is not an answer (not infeasibility).
    #[error("numerical failure: {0}")]
    Numerical(String),
    /// Filesystem trouble while writing or reading outputs.
    #[error("i/o error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl IsacError {
    /// Shorthand for an input error.
    pub fn input(key: impl Into<String>, message: impl Into<String>) -> Self {
        IsacError::Input {
            key: key.into(),
            message: message.into(),
        }
    }

    /// Shorthand for an I/O error with the path it concerns.
    pub fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        IsacError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, IsacError>;
