//! The one place a run's end becomes an exit code.

use std::process::ExitCode;

use crate::errors::{RunnerError, RunnerErrorKind};
use crate::reporter::Summary;

/// How a run ended, as its exit code says it: 0, 1 or 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every case passed or was skipped: 0.
    Passed,
    /// A case failed or had no response, a report could not be written, or the target
    /// could not be started: 1.
    Failed,
    /// Invalid input (scenario files, arguments, environment), found before anything
    /// was sent: 2.
    Invalid,
}

impl Exit {
    /// The end of a run that finished with `summary`, whose reports failed to be
    /// written when `report_failed`.
    pub fn of_run(summary: &Summary, report_failed: bool) -> Self {
        if summary.fail + summary.error > 0 || report_failed {
            Exit::Failed
        } else {
            Exit::Passed
        }
    }

    /// The end of a run that stopped with `error` before judging anything.
    pub fn of_error(error: &RunnerError) -> Self {
        match error.kind() {
            RunnerErrorKind::Config => Exit::Invalid,
            _ => Exit::Failed,
        }
    }

    /// 0, 1 or 2.
    pub fn code(self) -> u8 {
        match self {
            Exit::Passed => 0,
            Exit::Failed => 1,
            Exit::Invalid => 2,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_failure_error_or_lost_report_fails_the_run() {
        let summary = |pass, fail, skipped, error| Summary {
            pass,
            fail,
            skipped,
            error,
        };
        assert_eq!(Exit::of_run(&summary(3, 0, 2, 0), false), Exit::Passed);
        assert_eq!(Exit::of_run(&summary(0, 0, 0, 0), false), Exit::Passed);
        assert_eq!(Exit::of_run(&summary(3, 1, 0, 0), false), Exit::Failed);
        assert_eq!(Exit::of_run(&summary(3, 0, 0, 1), false), Exit::Failed);
        assert_eq!(Exit::of_run(&summary(3, 0, 0, 0), true), Exit::Failed);
        let config = RunnerError::new(RunnerErrorKind::Config, "bad");
        let target = RunnerError::new(RunnerErrorKind::Target, "down");
        assert_eq!(Exit::of_error(&config).code(), 2);
        assert_eq!(Exit::of_error(&target).code(), 1);
    }
}
