//! Slack's form bodies: slash commands and `payload=` interactions, parsed
//! as the handlers parse them after the signature check.
#![no_main]
use stagegate::chat::slack::payload::{Inbound, Interaction};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(Inbound::Interaction(interaction)) = Inbound::parse_body(data) {
        match &interaction {
            Interaction::BlockActions(actions) => {
                let _ = actions.message_ref();
            }
            Interaction::ViewSubmission(submission) => {
                let _ = submission.view.input("justification", "justification");
            }
            _ => {}
        }
    }
});
