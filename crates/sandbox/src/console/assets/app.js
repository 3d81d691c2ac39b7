// The sandbox console: shows each persona's Teams chat and Slack DM, the
// security channels, the clock and the requests in Graph, and acts only
// through the emulated Teams and Slack drivers (/sim/teams, /sim/slack), so
// the bot gets exactly the signed traffic it would get in production.
// Re-fetches whenever /sim/console/events says something changed.
"use strict";

(() => {
  const { el } = Render;
  const STORY_ORDER = ["alex", "miriam", "bianca"];
  const drafts = new Map();
  const shown = new Map(); // pane id -> JSON last rendered
  let persona = decodeURIComponent(window.location.hash.slice(1)) || "alex";
  let state = null;
  let refreshing = false;
  let again = false;

  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  async function call(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let json = null;
    try { json = await response.json(); } catch (_) { /* not JSON */ }
    if (!response.ok) {
      const detail = json && json.error ? json.error : response.status + " " + response.statusText;
      throw new Error(detail);
    }
    return json;
  }

  function status(text, isError) {
    const node = $("action-status");
    node.textContent = text;
    node.classList.toggle("error", !!isError);
  }

  // Runs a driver call, reports its outcome, then refreshes.
  async function act(label, method, path, body) {
    status(label + "…");
    try {
      const answer = await call(method, path, body);
      const bot = answer && answer.bot;
      const errors = answer && answer.errors && typeof answer.errors === "object" ? Object.values(answer.errors) : [];
      if (bot && typeof bot.status === "number" && bot.status >= 400) {
        status(label + ": the bot answered " + bot.status, true);
      } else if (errors.length) {
        status(label + ": " + errors.join("; "), true);
      } else {
        status(label + ": done");
      }
      return answer;
    } catch (e) {
      status(label + ": " + e.message, true);
      return null;
    } finally {
      scheduleRefresh();
    }
  }

  function openUrl(url) {
    window.open(url, "_blank");
  }

  // Re-renders `pane` only when its data changed, keeping focus and caret.
  function renderPane(pane, data, build) {
    const json = JSON.stringify(data);
    if (shown.get(pane) === json) return;
    shown.set(pane, json);
    const active = document.activeElement;
    const key = active && active.dataset ? active.dataset.draftKey : undefined;
    const caret = key && "selectionStart" in active ? [active.selectionStart, active.selectionEnd] : null;
    const node = $(pane);
    const stick = node.scrollHeight - node.scrollTop - node.clientHeight < 40;
    node.replaceChildren(...build());
    if (stick) node.scrollTop = node.scrollHeight;
    if (key) {
      const same = [...node.querySelectorAll("[data-draft-key]")].find((n) => n.dataset.draftKey === key);
      if (same) {
        same.focus();
        if (caret) try { same.setSelectionRange(caret[0], caret[1]); } catch (_) { /* not a text input */ }
      }
    }
  }

  function nameOfSlackUser(id) {
    const p = state && state.personas.find((x) => x.slackUserId === id);
    return p ? p.name : id;
  }

  // ---- Teams --------------------------------------------------------------

  function teamsActivity(activity, conversationId, personal) {
    const fromUser = !!(activity.from && activity.from.aadObjectId);
    const who = (activity.from && activity.from.name) || (fromUser ? "you" : "stagegate");
    const node = el("div", { class: "msg" + (fromUser ? " mine" : ""), "data-activity-id": activity.id },
      el("div", { class: "who", text: who }, activity.version > 1 ? el("span", { class: "badge", text: "updated" }) : null));
    if (activity.text) node.append(el("div", { class: "text", text: activity.text }));
    for (const attachment of activity.attachments || []) {
      if (attachment.contentType !== "application/vnd.microsoft.card.adaptive") continue;
      const ctx = {
        drafts,
        prefix: "teams:" + persona + ":" + activity.id,
        openUrl,
        execute: (action, inputs) => act("Teams: " + (action.title || action.verb), "POST",
          "/sim/teams/personas/" + enc(persona) + "/invoke",
          Object.assign({ activityId: activity.id, verb: action.verb, inputs },
            action.id ? { actionId: action.id } : {},
            personal ? {} : { conversationId })),
        submit: (action, inputs) => act("Teams: " + (action.title || "submit"), "POST",
          "/sim/teams/personas/" + enc(persona) + "/submit",
          { activityId: activity.id, verb: String((action.data && action.data.verb) || ""), inputs }),
      };
      node.append(Render.adaptiveCard(attachment.content || {}, ctx));
    }
    return node;
  }

  function renderTeamsChat(conversation) {
    renderPane("teams-chat", conversation, () => {
      const messages = (conversation.activities || []).filter((a) => a.type === "message");
      if (!messages.length) {
        const installed = state && state.personas.find((p) => p.key === persona)?.teamsInstalled;
        return [el("p", { class: "empty", text: installed ? "No messages yet. Say something to stagegate below." : "This persona has not installed the Teams app." })];
      }
      return messages.map((a) => teamsActivity(a, conversation.conversationId, true));
    });
  }

  function renderTeamsChannel(channel, data) {
    const threads = (data && data.threads) || [];
    return el("div", { class: "channel", "data-teams-channel": channel.id },
      el("h3", {}, "Teams: " + channel.team + " › " + channel.name + " ", el("span", { class: "muted", text: threads.length + " threads" })),
      el("div", { class: "chat" }, threads.length
        ? threads.flatMap((t) => [teamsActivity(t.root, t.conversationId, false), ...(t.replies || []).map((r) => teamsActivity(r, t.conversationId, false))])
        : [el("p", { class: "empty", text: "No alerts yet." })]));
  }

  // ---- Slack --------------------------------------------------------------

  function slackMessage(message, channel) {
    const fromBot = !message.user;
    const node = el("div", { class: "msg" + (fromBot ? "" : " mine"), "data-ts": message.ts },
      el("div", { class: "who", text: fromBot ? "stagegate" : nameOfSlackUser(message.user) },
        message.ephemeral ? el("span", { class: "badge", text: "only visible to you" }) : null,
        message.edited ? el("span", { class: "badge", text: "edited" }) : null));
    if (message.blocks && message.blocks.length) {
      const ctx = {
        drafts, inputs: [], prefix: "slack:" + persona + ":" + message.ts, openUrl,
        click: (actionId, blockId) => act("Slack: " + actionId, "POST", "/sim/slack/personas/" + enc(persona) + "/click",
          { channel, ts: message.ts, actionId, blockId: blockId ?? null }),
      };
      node.append(Render.blocks(message.blocks, ctx));
    } else {
      node.append(el("div", { class: "text" }, Render.mrkdwn({ type: "mrkdwn", text: message.text || "" })));
    }
    return node;
  }

  function renderSlackChat(conversation) {
    renderPane("slack-chat", conversation, () => {
      const messages = conversation.messages || [];
      if (!messages.length) return [el("p", { class: "empty", text: "No messages yet. Type a slash command below." })];
      return messages.map((m) => slackMessage(m, conversation.channel));
    });
  }

  function renderSlackModal(views) {
    const top = (views || [])[views.length - 1];
    const modal = $("slack-modal");
    modal.hidden = !top;
    renderPane("slack-modal", top || null, () => {
      if (!top) return [];
      const ctx = { drafts, inputs: [], prefix: "modal:" + persona + ":" + top.id, openUrl, click: () => {} };
      const body = Render.blocks(top.blocks, ctx);
      const submit = el("button", { type: "button", class: "primary", id: "slack-modal-submit", text: Render.slackText(top.submit) || "Submit" });
      submit.addEventListener("click", () => {
        const values = {};
        for (const input of ctx.inputs) {
          values[input.blockId] = Object.assign(values[input.blockId] || {}, { [input.actionId]: input.control.value });
        }
        act("Slack: submit " + (Render.slackText(top.title) || "modal"), "POST",
          "/sim/slack/personas/" + enc(persona) + "/submit", { values, viewId: top.id ?? null });
      });
      return [el("h3", { text: Render.slackText(top.title) }), body, el("div", { class: "buttons" }, submit)];
    });
  }

  function renderSlackChannel(channel, data, error) {
    const messages = (data && data.messages) || [];
    return el("div", { class: "channel", "data-slack-channel": channel.id },
      el("h3", {}, "Slack: #" + channel.name + " ", el("span", { class: "muted", text: error ? "" : messages.length + " messages" })),
      el("div", { class: "chat" }, error ? [el("p", { class: "empty", text: error })]
        : messages.length ? messages.map((m) => slackMessage(m, channel.id)) : [el("p", { class: "empty", text: "No alerts yet." })]));
  }

  // ---- The rest -----------------------------------------------------------

  function renderTabs() {
    const order = (p) => { const i = STORY_ORDER.indexOf(p.key); return i < 0 ? STORY_ORDER.length : i; };
    const personas = [...state.personas].sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name));
    renderPane("persona-tabs", { personas: personas.map((p) => [p.key, p.enabled]), persona }, () => personas.map((p) => {
      const button = el("button", {
        type: "button", "data-persona": p.key, title: p.jobTitle || "",
        class: (p.key === persona ? "selected" : "") + (p.enabled ? "" : " disabled-persona"),
        "aria-pressed": p.key === persona ? "true" : "false", text: p.name.split(" ")[0],
      });
      button.addEventListener("click", () => choose(p.key));
      return button;
    }));
    const me = state.personas.find((p) => p.key === persona);
    $("persona-about").textContent = me ? me.name + (me.jobTitle ? " — " + me.jobTitle : "") + (me.enabled ? "" : " (account disabled)") : "No persona `" + persona + "` in this tenant.";
  }

  function renderRequests() {
    renderPane("requests", state.requests, () => state.requests.length ? state.requests.map((r) => el("div", { class: "request", "data-request-id": r.id },
      el("div", {}, el("span", { class: "state", "data-state": r.state, text: r.state }), " (" + r.status + ") · " + r.package),
      el("div", { class: "muted", text: r.requester + (r.ticket ? " · " + r.ticket : "") + " · " + r.id }),
      el("ol", {}, r.stages.map((s) => el("li", { "data-result": s.result, text: s.result === "NotReviewed"
        ? s.status + (s.approvers.length ? ": waiting for " + s.approvers.join(", ") : "")
        : s.result + " by " + (s.reviewedBy || "the system") + (s.justification ? " — “" + s.justification + "”" : "") })))))
      : [el("p", { class: "empty", text: "No requests yet." })]);
    renderPane("groups", state.privilegedGroups, () => state.privilegedGroups.map((g) =>
      el("div", { "data-group": g.name }, el("b", { text: g.name }), ": " + (g.active.length ? g.active.join(", ") : "nobody"))));
  }

  async function refresh() {
    state = await call("GET", "/sim/console/state");
    $("clock-now").textContent = state.clock.now;
    $("clock-offset").textContent = state.clock.offset === "PT0S" ? "" : "(+" + state.clock.offset.replace(/^P(T)?/, "") + ")";
    renderTabs();
    renderRequests();
    const base = "/sim/slack/personas/" + enc(persona);
    const teamsChannels = state.teamsChannels.filter((c) => c.botInstalled);
    const [teams, slack, views, teamsThreads, slackChannels] = await Promise.all([
      call("GET", "/sim/teams/personas/" + enc(persona) + "/conversation").catch((e) => ({ activities: [], error: e.message })),
      call("GET", base + "/conversations/dm").catch((e) => ({ messages: [], error: e.message })),
      call("GET", base + "/views").catch(() => ({ views: [] })),
      Promise.all(teamsChannels.map((c) => call("GET", "/sim/teams/channels/" + enc(c.id) + "/messages?as=" + enc(persona)).catch(() => null))),
      Promise.all(state.slackChannels.map((c) => call("GET", base + "/conversations/" + enc(c.id)).then((d) => [d, null], (e) => [null, e.message]))),
    ]);
    renderTeamsChat(teams);
    renderSlackChat(slack);
    renderSlackModal(views.views || []);
    renderPane("teams-channels", { teamsChannels, teamsThreads, persona }, () => teamsChannels.map((c, i) => renderTeamsChannel(c, teamsThreads[i])));
    renderPane("slack-channels", { channels: state.slackChannels, slackChannels, persona }, () => state.slackChannels.map((c, i) => renderSlackChannel(c, slackChannels[i][0], slackChannels[i][1])));
    document.body.dataset.generation = String(state.generation);
  }

  async function scheduleRefresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      do {
        again = false;
        await refresh();
      } while (again);
    } catch (e) {
      status("Cannot read the sandbox: " + e.message, true);
    } finally {
      refreshing = false;
    }
  }

  function choose(key) {
    persona = key;
    window.location.hash = enc(key);
    status("");
    const modal = $("slack-modal");
    modal.hidden = true;
    shown.clear();
    scheduleRefresh();
  }

  $("teams-composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("teams-input");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    act("Teams: message", "POST", "/sim/teams/personas/" + enc(persona) + "/messages", { text });
  });

  $("slack-composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("slack-input");
    const typed = input.value.trim();
    const match = /^(\/[a-z0-9_-]+)\s*([\s\S]*)$/i.exec(typed);
    if (!match) {
      status("Slack: type a slash command, such as /request global-admin TICKET-123 why or /stagegate help", true);
      return;
    }
    input.value = "";
    act("Slack: " + match[1], "POST", "/sim/slack/personas/" + enc(persona) + "/command", { command: match[1], text: match[2], channel: "dm" });
  });

  $("advance-hour").addEventListener("click", () => act("Clock +1 h", "POST", "/sim/clock/advance", { duration: "PT1H" }));
  $("advance-day").addEventListener("click", () => act("Clock +1 day", "POST", "/sim/clock/advance", { duration: "P1D" }));

  for (const [platform, other] of [["teams", "slack"], ["slack", "teams"]]) {
    $("guide-" + platform).addEventListener("click", () => {
      $("guide-steps-" + platform).hidden = false;
      $("guide-steps-" + other).hidden = true;
      $("guide-" + platform).classList.add("chosen");
      $("guide-" + other).classList.remove("chosen");
    });
  }

  window.addEventListener("hashchange", () => {
    const key = decodeURIComponent(window.location.hash.slice(1));
    if (key && key !== persona) choose(key);
  });

  const events = new EventSource("/sim/console/events");
  events.addEventListener("open", () => { $("live").textContent = "live"; $("live").classList.add("on"); });
  events.addEventListener("error", () => { $("live").textContent = "reconnecting…"; $("live").classList.remove("on"); });
  events.addEventListener("change", () => scheduleRefresh());
  scheduleRefresh();
})();
