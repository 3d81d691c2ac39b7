//! Microsoft's example activities (shared/teams/examples, copied into
//! tests/fixtures/teams) parse into the bot's activity types, and what the
//! bot sends has the documented shape.

use serde_json::{Value, json};
use stagegate::chat::teams::OutgoingActivity;
use stagegate::chat::teams::activity::{
    Activity, ChannelAccount, ConversationParameters, IdRef, TeamsChannelData,
};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/teams/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The docs' JSONC keeps `// …` comment lines; drop them.
fn jsonc(text: &str) -> Value {
    let json: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&json).unwrap()
}

fn activity(name: &str) -> Activity {
    serde_json::from_value(jsonc(&fixture(name))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn personal_message_example_parses() {
    let a = activity("activity-message-personal.teams-docs.json");
    assert_eq!(a.kind, "message");
    assert_eq!(a.channel_id.as_deref(), Some("msteams"));
    assert_eq!(
        a.service_url.as_deref(),
        Some("https://smba.trafficmanager.net/amer/")
    );
    let from = a.from.as_ref().unwrap();
    assert!(from.id.starts_with("29:"));
    assert_eq!(
        from.aad_object_id.as_deref(),
        Some("7faf8ab2-3d56-4244-b585-20c8a42ed2b8")
    );
    assert_eq!(
        a.conversation
            .as_ref()
            .unwrap()
            .conversation_type
            .as_deref(),
        Some("personal")
    );
    assert_eq!(a.tenant_id(), Some("72f988bf-86f1-41af-91ab-2d7cd011db47"));
    assert_eq!(a.attachments[0].content_type, "text/html");
    assert_eq!(a.entities[0]["type"], "clientInfo");
}

#[test]
fn channel_and_conversation_update_examples_parse() {
    let mention = activity("activity-message-channel-mention.teams-docs.json");
    assert!(
        mention
            .conversation
            .as_ref()
            .unwrap()
            .id
            .contains(";messageid=")
    );
    assert_eq!(mention.reply_to_id.as_deref(), Some("3UP4UTkzUk1zzeyW"));
    assert_eq!(
        mention.tenant_id(),
        None,
        "this old example carries no tenant"
    );

    let team = activity("activity-conversationUpdate-bot-added-to-team.teams-docs.json");
    assert_eq!(team.kind, "conversationUpdate");
    assert_eq!(
        team.tenant_id(),
        Some("b28fdbfd-2b78-4f93-b0f8-8881793f0f8f")
    );
    let data = team.channel_data.as_ref().unwrap();
    assert_eq!(data.event_type.as_deref(), Some("teamMemberAdded"));
    assert_eq!(
        data.team.as_ref().unwrap().aad_group_id.as_deref(),
        Some("f3ec8cd2-e704-4344-8c47-9a3a21d683c0")
    );
    assert_eq!(
        team.members_added[0].id,
        "28:608cacfd-1cea-40c9-b678-4b93e69bb72b"
    );

    let personal = activity("activity-conversationUpdate-bot-added-personal.teams-docs.json");
    assert_eq!(personal.members_added.len(), 2);
    assert_eq!(personal.tenant_id(), Some("<TENANT ID>"));
}

#[test]
fn invoke_example_parses_into_an_execute_action() {
    let invoke = activity("activity-invoke-adaptiveCard-action.teams-docs.jsonc");
    let click = invoke
        .adaptive_card_action()
        .expect("an adaptiveCard/action invoke");
    assert_eq!(click.action.kind, "Action.Execute");
    assert_eq!(click.action.verb.as_deref(), Some("editOrResolveView"));
    assert_eq!(click.action.data["refresh info"], "<refresh info>");
    assert_eq!(click.trigger.as_deref(), Some("automatic"));
    let message = activity("activity-message-personal.teams-docs.json");
    assert!(message.adaptive_card_action().is_none());
}

#[test]
fn create_conversation_request_has_the_documented_shape() {
    let tenant = "197231joe-1209j01821-012kdjoj";
    let params = ConversationParameters {
        is_group: false,
        bot: Some(ChannelAccount {
            id: "28:bot".into(),
            name: Some("The Bot".into()),
            ..Default::default()
        }),
        members: vec![ChannelAccount {
            id: "29:012d20j1cjo20211".into(),
            ..Default::default()
        }],
        tenant_id: Some(tenant.into()),
        activity: None,
        channel_data: Some(TeamsChannelData {
            tenant: Some(IdRef {
                id: tenant.into(),
                name: None,
            }),
            ..Default::default()
        }),
    };
    let ours = serde_json::to_value(&params).unwrap();
    let docs = jsonc(&fixture(
        "connector-createConversation-request.teams-docs.json",
    ));
    assert_eq!(ours["members"][0]["id"], docs["members"][0]["id"]);
    assert_eq!(
        ours["channelData"]["tenant"]["id"],
        docs["channelData"]["tenant"]["id"]
    );
    assert_eq!(ours["bot"]["name"], docs["bot"]["name"]);
    // Bots never set id, recipient or serviceUrl on what they send.
    let card =
        serde_json::to_value(OutgoingActivity::card(json!({ "type": "AdaptiveCard" }))).unwrap();
    for forbidden in ["id", "recipient", "serviceUrl", "text"] {
        assert!(card.get(forbidden).is_none(), "{forbidden}");
    }
    assert_eq!(
        card["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
}
