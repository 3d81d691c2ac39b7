// Renders Adaptive Cards (Teams) and Block Kit (Slack) as DOM nodes.
// Everything comes from the emulators and is untrusted: text is only ever
// set with textContent (never parsed as HTML), URLs opened only if http(s).
"use strict";

const Render = (() => {
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key.startsWith("data-")) node.setAttribute(key, String(value));
      else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function safeUrl(url) {
    try {
      const parsed = new URL(String(url), window.location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (_) {
      return null;
    }
  }

  // An input whose value survives re-rendering (drafts keyed per card).
  function draftInput(ctx, key, make, initial) {
    const node = make();
    const full = ctx.prefix + "|" + key;
    node.dataset.draftKey = full;
    node.value = ctx.drafts.has(full) ? ctx.drafts.get(full) : (initial ?? "");
    const remember = () => ctx.drafts.set(full, node.value);
    node.addEventListener("input", remember);
    node.addEventListener("change", remember);
    return node;
  }

  // ---- Adaptive Cards ----------------------------------------------------

  function adaptiveCard(card, ctx) {
    const inputs = [];
    const root = el("div", { class: "card", "data-card": "adaptive" });
    for (const item of card.body || []) root.append(acElement(item, ctx, inputs));
    if (Array.isArray(card.actions) && card.actions.length) {
      root.append(acActions(card.actions, ctx, inputs));
    }
    return root;
  }

  function textClasses(item) {
    return [
      item.weight && item.weight.toLowerCase() === "bolder" ? "bolder" : "",
      item.size ? "size-" + String(item.size).toLowerCase() : "",
      item.isSubtle ? "subtle" : "",
    ].join(" ").trim();
  }

  function acElement(item, ctx, inputs) {
    if (!item || typeof item !== "object") return el("div", { class: "empty", text: "(unreadable element)" });
    if (item.isVisible === false) return el("div", { hidden: true });
    switch (item.type) {
      case "TextBlock":
        return el("div", { class: "text " + textClasses(item), text: item.text || "" });
      case "RichTextBlock":
        return el("div", { class: "text" }, (item.inlines || []).map((run) =>
          typeof run === "string" ? run : el("span", { class: textClasses(run), text: run.text || "" })));
      case "FactSet":
        return el("dl", { class: "facts" }, (item.facts || []).flatMap((f) => [
          el("dt", { text: f.title || "" }), el("dd", { text: f.value || "" })]));
      case "Container":
        return el("div", { class: "container" }, (item.items || []).map((i) => acElement(i, ctx, inputs)));
      case "ColumnSet":
        return el("div", { class: "columns" }, (item.columns || []).map((c) => acElement(c, ctx, inputs)));
      case "Column":
        return el("div", { class: "column" }, (item.items || []).map((i) => acElement(i, ctx, inputs)));
      case "Image":
        return el("div", { class: "subtle", text: "[image" + (item.altText ? ": " + item.altText : "") + "]" });
      case "ActionSet":
        return acActions(item.actions || [], ctx, inputs);
      case "Input.Text":
      case "Input.Number":
      case "Input.Date":
      case "Input.Time":
      case "Input.ChoiceSet":
      case "Input.Toggle":
        return acInput(item, ctx, inputs);
      default:
        return el("div", { class: "subtle", text: "[" + (item.type || "element") + " not shown]" });
    }
  }

  function acInput(item, ctx, inputs) {
    const id = String(item.id || "");
    let control;
    if (item.type === "Input.ChoiceSet" && !item.isMultiSelect) {
      control = draftInput(ctx, id, () => el("select", { "data-input-id": id, "aria-label": item.label || id },
        (item.choices || []).map((c) => el("option", { value: c.value ?? "", text: c.title ?? c.value ?? "" }))), item.value);
    } else if (item.type === "Input.Toggle") {
      control = draftInput(ctx, id, () => el("select", { "data-input-id": id, "aria-label": item.title || id },
        el("option", { value: item.valueOff ?? "false", text: "No" }),
        el("option", { value: item.valueOn ?? "true", text: item.title || "Yes" })), item.value ?? item.valueOff ?? "false");
    } else if (item.type === "Input.Text" && item.isMultiline) {
      control = draftInput(ctx, id, () => el("textarea", {
        "data-input-id": id, placeholder: item.placeholder, maxlength: item.maxLength, "aria-label": item.label || id,
      }), item.value);
    } else {
      const kind = { "Input.Number": "number", "Input.Date": "date", "Input.Time": "time" }[item.type] || "text";
      control = draftInput(ctx, id, () => el("input", {
        type: kind, "data-input-id": id, placeholder: item.placeholder, maxlength: item.maxLength, "aria-label": item.label || id,
      }), item.value);
    }
    const error = el("div", { class: "error", hidden: true, text: item.errorMessage || "This field is required." });
    inputs.push({ id, control, required: item.isRequired === true, error });
    return el("div", { class: "field" }, item.label ? el("label", { text: item.label + (item.isRequired ? " *" : "") }) : null, control, error);
  }

  function acActions(actions, ctx, inputs) {
    return el("div", { class: "actions" }, actions.map((action) => {
      const title = action.title || action.verb || action.type;
      const button = el("button", {
        type: "button", "data-verb": action.verb, "data-action-type": action.type, "data-style": action.style,
        text: title,
      });
      button.addEventListener("click", () => runAction(action, ctx, inputs));
      return button;
    }));
  }

  // What a Teams client does on a click: validate required inputs, then
  // send; an OpenUrl opens a new window.
  function runAction(action, ctx, inputs) {
    if (action.type === "Action.OpenUrl") {
      const url = safeUrl(action.url);
      if (url) ctx.openUrl(url);
      return;
    }
    const gathered = {};
    let valid = true;
    if (action.associatedInputs !== "none") {
      for (const input of inputs) {
        const value = input.control.value;
        const missing = input.required && value === "";
        input.error.hidden = !missing;
        valid = valid && !missing;
        if (value !== "") gathered[input.id] = value;
      }
    }
    if (!valid) return;
    if (action.type === "Action.Execute") ctx.execute(action, gathered);
    else if (action.type === "Action.Submit") ctx.submit(action, gathered);
  }

  // ---- Block Kit ----------------------------------------------------------

  function textOf(object) {
    if (!object) return "";
    if (typeof object === "string") return object;
    return String(object.text ?? "");
  }

  // Slack's escaping (&amp; &lt; &gt;) undone for display; still plain text.
  function slackText(object) {
    return textOf(object).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  // Slack mrkdwn as nodes: *bold*, _italic_, `code`, <url|label> links
  // (http(s) only); anything else stays literal text.
  function mrkdwn(object) {
    const raw = textOf(object);
    if (!object || object.type !== "mrkdwn") return [document.createTextNode(slackText(object))];
    const unescape = (t) => t.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
    const nodes = [];
    const pattern = /<([^>|]+)(?:\|([^>]*))?>|(?<!\w)\*([^*\n]+)\*(?!\w)|(?<!\w)_([^_\n]+)_(?!\w)|`([^`\n]+)`/g;
    let last = 0;
    for (const m of raw.matchAll(pattern)) {
      if (m.index > last) nodes.push(document.createTextNode(unescape(raw.slice(last, m.index))));
      if (m[1] !== undefined) {
        const url = safeUrl(unescape(m[1]));
        const label = unescape(m[2] ?? m[1]);
        nodes.push(url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: label }) : document.createTextNode(label));
      } else if (m[3] !== undefined) nodes.push(el("b", { text: unescape(m[3]) }));
      else if (m[4] !== undefined) nodes.push(el("i", { text: unescape(m[4]) }));
      else nodes.push(el("code", { text: unescape(m[5]) }));
      last = m.index + m[0].length;
    }
    if (last < raw.length) nodes.push(document.createTextNode(unescape(raw.slice(last))));
    return nodes;
  }

  function blocks(list, ctx) {
    return el("div", { class: "blocks" }, (list || []).map((b) => block(b, ctx)));
  }

  function block(b, ctx) {
    if (!b || typeof b !== "object") return el("div", { class: "empty", text: "(unreadable block)" });
    switch (b.type) {
      case "header":
        return el("div", { class: "header", text: slackText(b.text) });
      case "divider":
        return el("hr");
      case "context":
        return el("div", { class: "context" }, (b.elements || []).flatMap((e) =>
          e.type === "image" ? [document.createTextNode("[" + (e.alt_text || "image") + "] ")] : [...mrkdwn(e), document.createTextNode("  ")]));
      case "section":
        return el("div", { class: "section", "data-block-id": b.block_id },
          b.text ? el("div", { class: "section-text" }, mrkdwn(b.text)) : null,
          b.fields ? el("div", { class: "fields" }, b.fields.map((f) => el("div", {}, mrkdwn(f)))) : null,
          b.accessory ? el("div", { class: "actions" }, element(b.accessory, b, ctx)) : null);
      case "actions":
        return el("div", { class: "actions", "data-block-id": b.block_id }, (b.elements || []).map((e) => element(e, b, ctx)));
      case "input":
        return inputBlock(b, ctx);
      case "image":
        return el("div", { class: "context", text: "[image: " + (b.alt_text || "") + "]" });
      case "rich_text":
        return el("div", { class: "section-text", text: richText(b) });
      default:
        return el("div", { class: "context", text: "[" + (b.type || "block") + " not shown]" });
    }
  }

  function richText(node) {
    if (!node || typeof node !== "object") return "";
    if (typeof node.text === "string") return node.text;
    return (node.elements || []).map(richText).join("");
  }

  function element(e, b, ctx) {
    if (e.type === "button") {
      const button = el("button", {
        type: "button", "data-action-id": e.action_id, "data-style": e.style, text: slackText(e.text),
      });
      button.addEventListener("click", () => {
        const url = e.url ? safeUrl(e.url) : null;
        if (url) ctx.openUrl(url);
        ctx.click(e.action_id, b.block_id);
      });
      return button;
    }
    return el("span", { class: "context", text: "[" + (e.type || "element") + "]" });
  }

  function inputBlock(b, ctx) {
    const e = b.element || {};
    const key = (b.block_id || "") + "/" + (e.action_id || "");
    let control;
    if (e.type === "static_select") {
      control = draftInput(ctx, key, () => el("select", { "data-block-id": b.block_id, "data-action-id": e.action_id },
        el("option", { value: "", text: textOf(e.placeholder) || "Choose…" }),
        (e.options || []).map((o) => el("option", { value: o.value ?? "", text: slackText(o.text) }))), e.initial_option?.value);
    } else if (e.multiline) {
      control = draftInput(ctx, key, () => el("textarea", {
        "data-block-id": b.block_id, "data-action-id": e.action_id, placeholder: textOf(e.placeholder), maxlength: e.max_length,
      }), e.initial_value);
    } else {
      control = draftInput(ctx, key, () => el("input", {
        type: "text", "data-block-id": b.block_id, "data-action-id": e.action_id, placeholder: textOf(e.placeholder), maxlength: e.max_length,
      }), e.initial_value);
    }
    ctx.inputs.push({ blockId: b.block_id, actionId: e.action_id, control });
    return el("div", { class: "field" },
      el("label", { text: slackText(b.label) + (b.optional ? " (optional)" : "") }),
      control,
      b.hint ? el("div", { class: "context", text: slackText(b.hint) }) : null);
  }

  return { el, adaptiveCard, blocks, slackText, mrkdwn };
})();
