//! Shared output helpers, and how a failed command is shown.

use nlb_core::config::{ConfigError, ConfigErrors};
use serde::Serialize;

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON serialisation of plain data")
    );
}

/// Why a command failed (exit status 2: bad usage or input, or nlbd not running).
/// Shown as `error: ...` lines on stderr, or with `--json` as an `error` object on
/// stdout (see [`ErrorJson`]).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// What went wrong and what to do, with the errors that led to it: shown on one
    /// line, outermost first (`context: cause: cause`).
    #[error("{0:#}")]
    Failed(anyhow::Error),
    /// Problems in configuration files, each with its file, line and field.
    #[error("{0}")]
    Config(ConfigErrors),
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Failed(e)
    }
}

impl From<ConfigErrors> for CliError {
    fn from(e: ConfigErrors) -> Self {
        CliError::Config(e)
    }
}

impl CliError {
    /// Prints the failure: one `error: ` line per problem on stderr, or the JSON
    /// object on stdout.
    pub fn print(&self, json: bool) {
        if json {
            print_json(&self.to_json());
            return;
        }
        match self {
            CliError::Failed(e) => eprintln!("error: {e:#}"),
            CliError::Config(errs) => {
                for e in &errs.0 {
                    eprintln!("error: {e}");
                }
            }
        }
    }

    /// The JSON form.
    pub fn to_json(&self) -> ErrorJson {
        match self {
            CliError::Failed(e) => ErrorJson::new(format!("{e:#}"), Vec::new()),
            CliError::Config(errs) => ErrorJson::new(
                format!(
                    "{} configuration problem(s); run `nlb config check` on the files",
                    errs.0.len()
                ),
                errs.0.iter().map(Problem::from).collect(),
            ),
        }
    }
}

/// `{"error": {"message": ..., "problems": [...]}}`: what every command prints with
/// `--json` when it fails.
#[derive(Serialize)]
pub struct ErrorJson {
    error: ErrorBody,
}

#[derive(Serialize)]
struct ErrorBody {
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<Problem>,
}

impl ErrorJson {
    /// An error object with a message and the located problems behind it, if any.
    pub fn new(message: String, problems: Vec<Problem>) -> Self {
        ErrorJson {
            error: ErrorBody { message, problems },
        }
    }
}

/// One configuration problem, where it is.
#[derive(Serialize)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// 1-based line; 0 when the problem is not at a place in the file.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Dotted field path, e.g. `cluster.rule[2].ports`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
    /// The whole line as text output prints it (after `error: `).
    pub text: String,
}

impl From<&ConfigError> for Problem {
    fn from(e: &ConfigError) -> Self {
        Problem {
            file: e.file.display().to_string(),
            line: e.line,
            column: e.column,
            field: e.field.clone(),
            message: e.message.clone(),
            text: e.to_string(),
        }
    }
}
