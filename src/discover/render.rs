//! The `[[engine.packages]]` blocks `discover` prints: TOML with a comment
//! line per choice it made, so an administrator sees what each id is.

use std::fmt::Write;

use super::read::{Package, Policy, Question};

/// Any ticket id, for a ticket question without a pattern of its own.
const ANY_TICKET: &str = "[A-Za-z0-9-]+";
/// Words of a package's name that say nothing about what it grants.
const FILLER: &[&str] = &[
    "ap",
    "access",
    "package",
    "eligibility",
    "eligible",
    "request",
    "requests",
];

pub(super) fn blocks(packages: &[Package]) -> String {
    let mut out = String::from(
        "# Access packages of this tenant, from `stagegate discover`. Paste the\n\
         # blocks you want chat to offer into stagegate.toml; edit the aliases.\n",
    );
    for package in packages {
        out.push('\n');
        block(&mut out, package);
    }
    out
}

fn block(out: &mut String, package: &Package) {
    let catalog = package
        .catalog
        .as_ref()
        .map_or("no catalog", |c| c.display_name.as_str());
    let _ = writeln!(
        out,
        "# {} (catalog: {})",
        one_line(&package.display_name),
        one_line(catalog)
    );
    let Some(group) = &package.group else {
        let _ = writeln!(
            out,
            "# Not usable: the package grants no Entra group. stagegate's packages grant\n\
             # eligible membership of a role-assignable, PIM-managed group."
        );
        return;
    };
    let Some((policy, question)) = package
        .policies
        .iter()
        .find_map(|p| ticket_question(p).map(|q| (p, q)))
    else {
        let _ = writeln!(
            out,
            "# Not usable: none of its policies asks a text question for the ticket.\n\
             # Add one (Policies → Requestor information → Questions), then run discover again."
        );
        return;
    };
    for other in package.policies.iter().filter(|p| p.id != policy.id) {
        let _ = writeln!(
            out,
            "# Another policy, not used here: {} (policy_id = \"{}\")",
            one_line(&other.display_name),
            other.id
        );
    }
    let stages = policy
        .request_approval_settings
        .as_ref()
        .map_or(0, |s| s.stages.len());
    let justification = policy
        .request_approval_settings
        .as_ref()
        .is_some_and(|s| s.is_requestor_justification_required);
    let pattern = question.regex_pattern.as_deref().unwrap_or(ANY_TICKET);
    let _ = writeln!(out, "[[engine.packages]]");
    let _ = writeln!(
        out,
        "alias = {}",
        quoted(&suggest_alias(&package.display_name))
    );
    let _ = writeln!(out, "display_name = {}", quoted(&package.display_name));
    let _ = writeln!(out, "access_package_id = {}", quoted(&package.id));
    let _ = writeln!(
        out,
        "policy_id = {}  # {}: {stages} approval {}",
        quoted(&policy.id),
        one_line(&policy.display_name),
        if stages == 1 { "stage" } else { "stages" }
    );
    let _ = writeln!(
        out,
        "ticket_question_id = {}  # \"{}\"{}",
        quoted(&question.id),
        one_line(&question.text),
        if question.is_required {
            ", required"
        } else {
            ", optional"
        }
    );
    let _ = writeln!(
        out,
        "ticket_pattern = {}{}",
        quoted(pattern),
        if question.regex_pattern.is_some() {
            "  # the question's own pattern"
        } else {
            "  # the question has no pattern: any ticket id"
        }
    );
    let _ = writeln!(out, "group_id = {}", quoted(&group.id));
    match &group.role {
        Some(role) => {
            let _ = writeln!(out, "role = {}", quoted(role));
        }
        None => {
            let _ = writeln!(
                out,
                "# role = \"…\"  # the group is eligible for no directory role: check PIM for Groups"
            );
        }
    }
    let _ = writeln!(out, "justification_required = {justification}");
    let _ = writeln!(out, "hidden = {}", package.is_hidden);
}

/// The policy's ticket question: the text question that says "ticket", or
/// its only text question.
fn ticket_question(policy: &Policy) -> Option<&Question> {
    let texts: Vec<&Question> = policy
        .questions
        .iter()
        .filter(|q| q.kind.ends_with("accessPackageTextInputQuestion"))
        .collect();
    texts
        .iter()
        .find(|q| q.text.to_lowercase().contains("ticket"))
        .or(if texts.len() == 1 {
            texts.first()
        } else {
            None
        })
        .copied()
}

/// What people would type for a package: its name in lower case, without
/// the words every package name has ("AP – Global Admin Eligibility
/// Request" → `global-admin`).
pub fn suggest_alias(display_name: &str) -> String {
    let lower = display_name.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty() && !FILLER.contains(w))
        .collect();
    if words.is_empty() {
        "package".into()
    } else {
        words.join("-")
    }
}

/// Text from Graph inside a `#` comment: a line break would end the comment
/// and make the rest TOML.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A TOML basic string.
fn quoted(value: &str) -> String {
    toml::Value::String(value.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::super::read::{ApprovalSettings, Group, Named, Package, Policy, Question};
    use super::{blocks, suggest_alias};

    /// Names and question texts from Graph may hold line breaks and quotes;
    /// the comments carrying them must not turn into TOML.
    #[test]
    fn text_from_graph_stays_inside_its_comment() {
        let question = Question {
            kind: "#microsoft.graph.accessPackageTextInputQuestion".into(),
            id: "q1".into(),
            text: "Your \"ticket\"\nalias = \"evil\"".into(),
            is_required: true,
            regex_pattern: None,
        };
        let package = Package {
            id: "p1".into(),
            display_name: "Line\nbreak".into(),
            is_hidden: false,
            catalog: Some(Named {
                id: "c1".into(),
                display_name: "Cat\n[x]".into(),
            }),
            resource_role_scopes: Vec::new(),
            policies: vec![Policy {
                id: "pol".into(),
                display_name: "Two\nlines".into(),
                request_approval_settings: Some(ApprovalSettings {
                    is_requestor_justification_required: true,
                    stages: vec![Default::default()],
                }),
                questions: vec![question],
                expiration: None,
                access_package: None,
            }],
            group: Some(Group {
                id: "g1".into(),
                role: None,
            }),
        };
        let printed = blocks(&[package]);
        let parsed: toml::Value =
            toml::from_str(&printed).unwrap_or_else(|e| panic!("not TOML ({e}):\n{printed}"));
        let block = &parsed["engine"]["packages"][0];
        assert_eq!(block["alias"].as_str(), Some("line-break"), "{printed}");
        assert_eq!(block["display_name"].as_str(), Some("Line\nbreak"));
        assert_eq!(block["ticket_pattern"].as_str(), Some("[A-Za-z0-9-]+"));
        assert!(block.get("role").is_none(), "no role, a comment: {printed}");
        assert!(printed.contains("1 approval stage\n"), "{printed}");
    }

    #[test]
    fn aliases_drop_the_words_every_package_name_has() {
        assert_eq!(
            suggest_alias("AP – Global Admin Eligibility Request"),
            "global-admin"
        );
        assert_eq!(
            suggest_alias("AP – Privileged Role Admin Eligibility Request"),
            "privileged-role-admin"
        );
        assert_eq!(suggest_alias("AP – Break-glass drill"), "break-glass-drill");
        assert_eq!(suggest_alias("Access package"), "package");
    }
}
