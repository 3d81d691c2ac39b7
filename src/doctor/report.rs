//! Findings, the report's text and JSON, and its exit status.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// One thing doctor saw. `code` is stable: scripts and docs may rely on it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    /// What it is about: a package alias, a config section.
    pub subject: String,
    pub seen: String,
    pub fix: String,
}

impl Finding {
    pub(crate) fn new(
        code: &'static str,
        severity: Severity,
        subject: &str,
        seen: &str,
        fix: &str,
    ) -> Self {
        Self {
            code,
            severity,
            subject: subject.to_owned(),
            seen: seen.to_owned(),
            fix: fix.to_owned(),
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    pub(crate) fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// 0 clean (or information only), 1 warnings, 2 errors.
    pub fn exit_code(&self) -> u8 {
        match self.findings.iter().map(|f| f.severity).max() {
            Some(Severity::Error) => 2,
            Some(Severity::Warning) => 1,
            _ => 0,
        }
    }

    pub fn to_json(&self) -> String {
        let body = serde_json::json!({
            "version": 1,
            "errors": self.count(Severity::Error),
            "warnings": self.count(Severity::Warning),
            "findings": self.findings,
        });
        serde_json::to_string_pretty(&body).unwrap_or_default()
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let severity = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "info",
            };
            out.push_str(&format!(
                "{severity:<7} {} [{}]: {}\n        fix: {}\n",
                f.subject, f.code, f.seen, f.fix
            ));
        }
        out.push_str(&format!(
            "stagegate doctor: {} error(s), {} warning(s)\n",
            self.count(Severity::Error),
            self.count(Severity::Warning)
        ));
        out
    }
}
