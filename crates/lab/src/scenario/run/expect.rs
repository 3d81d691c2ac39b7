//! The steps that expect: polled until they hold or the timeout passes.

use std::time::Duration;

use super::{Problem, Runner, problem};
use crate::scenario::check::{self, Mismatch};
use crate::scenario::model::Expectation;
use stagegate_sandbox::client::ClientError;

impl Runner<'_> {
    pub(super) async fn expect(&mut self, expectation: &Expectation) -> Result<(), Problem> {
        if let Expectation::DoesNotSee { who, contains } = expectation {
            return Ok(check::does_not_see(&self.chat(who).await?, contains)?);
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let mismatch = match self.holds(expectation).await? {
                Ok(()) => return Ok(()),
                Err(m) => m,
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(problem(
                    mismatch.expected,
                    format!("{} (after {:?})", mismatch.seen, self.timeout),
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// One look at whether `expectation` holds.
    async fn holds(&self, expectation: &Expectation) -> Result<Result<(), Mismatch>, ClientError> {
        Ok(match expectation {
            Expectation::Sees {
                who,
                contains,
                buttons,
            } => check::sees(&self.chat(who).await?, contains, buttons.as_deref()),
            Expectation::DoesNotSee { who, contains } => {
                check::does_not_see(&self.chat(who).await?, contains)
            }
            Expectation::AllFinal { who } => {
                for w in who {
                    if let Err(m) = check::all_final(&self.chat(w).await?) {
                        return Ok(Err(Mismatch {
                            expected: format!("{w}: {}", m.expected),
                            seen: m.seen,
                        }));
                    }
                }
                Ok(())
            }
            Expectation::Graph { .. } => {
                check::graph(&self.client.graph_state().await?, expectation)
            }
            Expectation::Security { contains, channels } => {
                for on in channels.clone().unwrap_or_else(|| vec![self.platform]) {
                    if let Err(m) = check::sees(&self.security(on).await?, contains, None) {
                        return Ok(Err(Mismatch {
                            expected: format!("{} security channel: {}", on.name(), m.expected),
                            seen: m.seen,
                        }));
                    }
                }
                Ok(())
            }
            Expectation::Group {
                who,
                group,
                member,
                eligible,
            } => check::group(
                &self.client.graph_state().await?,
                who,
                group,
                *member,
                *eligible,
            ),
        })
    }
}
