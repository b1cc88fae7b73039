/*
 * 误刷助手 web chat widget.
 *
 * Embed with one script tag; the widget loads its stylesheet and the socket.io
 * client from the folder it was loaded from, so nothing comes from a CDN:
 *
 *   <script src="https://bot.example.cn/webhooks/widget/static/widget.js"
 *           data-server-url="https://bot.example.cn" data-title="误刷助手" defer></script>
 *
 * Settings come from the tag's data-* attributes, or from a
 * `window.WushuaWidgetConfig = {serverUrl, title, subtitle, lang, socketPath,
 * staticUrl}` object set before the script runs; data-* attributes win.
 *
 * It speaks the bot's socket.io channel (session_request → session_confirm,
 * user_uttered → bot_uttered, bot/rasa/channels/socketio.py). The server issues the
 * session id and a signature of it; both live in localStorage with the rendered
 * conversation (as the server stored it, secrets masked), so a reload
 * continues the same conversation. Every piece of user or bot text reaches the
 * page through textContent or text nodes, never as HTML.
 */
(() => {
  "use strict";

  if (window.__wushuaWidget) return; // embedded twice: keep the first one
  window.__wushuaWidget = true;

  const STORAGE_PREFIX = "wushua-widget:";
  const HISTORY_LIMIT = 200;
  const TYPING_TIMEOUT_MS = 15000;
  const MAX_MESSAGE_CHARS = 5000; // the channel refuses longer text (bot/rasa/channels/guard.py)
  const CHECKLIST_PATH = "/webhooks/widget/checklist/";
  const EXPORT_PATH = "/webhooks/widget/export/"; // 导出我的信息: a short-lived download
  const RECEIPT_PATH = "/webhooks/socketio/receipt"; // a photo of a slip (bot/rasa/channels/socketio.py)
  const MAX_PHOTO_BYTES = 10 * 1024 * 1024; // the server refuses more
  // Photos are shrunk to this long side before sending: plenty for reading a slip, and a
  // phone's 12 MP photo goes out as a few hundred KB, re-encoded without its EXIF (location).
  const PHOTO_MAX_SIDE = 2560;

  const TEXT = {
    open: "打开在线客服对话",
    openUnread: "打开在线客服对话（有新消息）",
    close: "关闭对话",
    subtitle: "POS 误刷退款帮助",
    placeholder: "请输入您的问题…",
    inputLabel: "输入您的问题",
    send: "发送",
    attach: "上传凭证照片（签购单、银行短信或App交易详情）",
    photoSent: "［已发送一张凭证照片］",
    photoFailed: "图片没有发送成功，请稍后再试。",
    photoUnsupported: "这张图片的格式无法打开，请截图后发送，或改用JPG、PNG格式。",
    choices: "可选回复",
    typing: "正在输入",
    you: "您说：",
    bot: "误刷助手说：",
    staff: "人工客服",
    offline: "暂时连不上服务器，正在重试…",
    reconnecting: "正在重新连接…",
    retry: "重试",
    checklist: "打印 / 保存清单",
    download: "下载我的信息副本",
    newTab: "（在新标签页打开）",
    hint: "请勿输入完整卡号、密码或短信验证码。",
    empty: "您好！遇到 POS 重复扣款、金额刷错或交易失败却扣了钱，都可以在这里说说情况。",
  };

  // ---------------------------------------------------------------- settings

  const ownScript =
    document.currentScript || document.querySelector("script[src*='/widget.js']");

  function readConfig() {
    const global = window.WushuaWidgetConfig || {};
    const data = (ownScript && ownScript.dataset) || {};
    const pick = (name, fallback) => data[name] || global[name] || fallback;
    const scriptUrl = ownScript && ownScript.src ? new URL(ownScript.src, location.href) : null;
    const server = new URL(pick("serverUrl", scriptUrl ? scriptUrl.origin : location.origin), location.href);
    const serverUrl = (server.origin + server.pathname).replace(/\/+$/, "");
    return {
      serverUrl,
      // socket.io reads a URL's path as a namespace, so a server mounted under a
      // prefix (https://bank.example/bot) needs the prefix in the socket path.
      socketOrigin: server.origin,
      socketPath: server.pathname.replace(/\/+$/, "") + pick("socketPath", "/socket.io"),
      staticUrl: pick(
        "staticUrl",
        scriptUrl ? new URL(".", scriptUrl).href : `${serverUrl}/webhooks/widget/static/`,
      ),
      title: pick("title", "误刷助手"),
      subtitle: pick("subtitle", TEXT.subtitle),
      lang: pick("lang", "zh-CN"),
    };
  }

  const config = readConfig();

  // ----------------------------------------------------------------- storage

  // localStorage can be full, disabled or blocked (private modes, sandboxed
  // iframes); the chat then still works, it just does not survive a reload.
  const storage = {
    get(key) {
      try {
        return JSON.parse(localStorage.getItem(STORAGE_PREFIX + key));
      } catch {
        return null;
      }
    },
    set(key, value) {
      try {
        localStorage.setItem(STORAGE_PREFIX + key, JSON.stringify(value));
      } catch {
        /* see above */
      }
    },
    remove(key) {
      try {
        localStorage.removeItem(STORAGE_PREFIX + key);
      } catch {
        /* see above */
      }
    },
  };

  function isSessionId(value) {
    return typeof value === "string" && /^[A-Za-z0-9_-]{8,64}$/.test(value);
  }

  // The server issues the session id and a signature of it (session_token);
  // both are shown again to resume the conversation after a reload. Until the
  // first confirmation there is no session at all.
  let sessionId = isSessionId(storage.get("session")) ? storage.get("session") : null;
  let sessionToken = typeof storage.get("token") === "string" ? storage.get("token") : null;
  let history = loadHistory();

  function loadHistory() {
    const saved = sessionId ? storage.get(`history:${sessionId}`) : null;
    return Array.isArray(saved) ? saved.filter((entry) => entry && typeof entry === "object") : [];
  }

  function saveHistory() {
    history = history.slice(-HISTORY_LIMIT);
    // A message is kept only once the server has acknowledged it with its
    // masked text, so a card number or code typed here never stays in the
    // embedding site's storage.
    if (sessionId) storage.set(`history:${sessionId}`, history.filter((entry) => !entry.pending));
  }

  // --------------------------------------------------------- safe rendering

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function icon(pathData) {
    const svgNs = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(svgNs, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(svgNs, "path");
    path.setAttribute("d", pathData);
    svg.append(path);
    return svg;
  }

  const CHAT_ICON =
    "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z";
  const CAMERA_ICON =
    "M12 15.2a3.2 3.2 0 1 0 0-6.4 3.2 3.2 0 0 0 0 6.4zM9 2 7.17 4H4c-1.1 0-2 .9-2 2v12c0 1.1.9 2 2 2h16c1.1 0 2-.9 2-2V6c0-1.1-.9-2-2-2h-3.17L15 2H9zm3 15c-2.76 0-5-2.24-5-5s2.24-5 5-5 5 2.24 5 5-2.24 5-5 5z";
  const CLOSE_ICON =
    "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z";

  /** An http(s) URL, or null for anything else (javascript:, data:, garbage). */
  function webUrl(candidate) {
    try {
      const url = new URL(candidate);
      return url.protocol === "http:" || url.protocol === "https:" ? url : null;
    } catch {
      return null;
    }
  }

  function externalLink(href, label) {
    const link = element("a", "wushua-link", label);
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.append(element("span", "wushua-visually-hidden", TEXT.newTab));
    return link;
  }

  // Stops at whitespace, quotes, angle brackets and full-width punctuation, so
  // "详见https://example.cn/a。" links only the URL.
  const URL_PATTERN = /https?:\/\/[^\s<>"'`，。！？；：、（）【】《》「」“”‘’]+/g;

  /** Text as text nodes, with http(s) URLs as links; line breaks stay (CSS pre-wrap). */
  function richText(text) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(URL_PATTERN)) {
      const raw = match[0].replace(/[.,;:!?)\]]+$/, ""); // sentence punctuation after a URL
      const url = webUrl(raw);
      if (!url) continue;
      fragment.append(document.createTextNode(text.slice(last, match.index)));
      fragment.append(externalLink(url.href, raw));
      last = match.index + raw.length;
    }
    fragment.append(document.createTextNode(text.slice(last)));
    return fragment;
  }

  /** A page under ``prefix`` on our own server, or null (never another site). */
  function ownHref(path, prefix) {
    if (typeof path !== "string") return null;
    const absolute = path.startsWith("/") ? config.serverUrl + path : path;
    const url = webUrl(absolute);
    return url && url.href.startsWith(config.serverUrl + prefix) ? url.href : null;
  }

  function checklistHref(path) {
    return ownHref(path, CHECKLIST_PATH);
  }

  /** A history entry from whatever the server emitted as `bot_uttered`, or null. */
  function botEntry(data) {
    if (typeof data === "string") data = { text: data };
    if (!data || typeof data !== "object") return null;
    const entry = { role: "bot", text: typeof data.text === "string" ? data.text : "" };
    const offered = [data.buttons, data.quick_replies].filter(Array.isArray).flat();
    const choices = offered
      .filter((choice) => choice && typeof choice.title === "string" && typeof choice.payload === "string")
      .map((choice) => ({ title: choice.title, payload: choice.payload }));
    if (choices.length) entry.buttons = choices;
    // A staff member writing while they have taken the conversation over.
    if (typeof data.staff === "string" && data.staff.trim()) entry.staff = data.staff.trim().slice(0, 64);
    // Rasa's socket.io output emits a `custom` json_message's keys as the
    // message itself; other channels nest them under `custom` (or custom.data).
    const custom = data.custom && typeof data.custom === "object" ? data.custom : {};
    const link = [data.checklist_url, custom.checklist_url, custom.data && custom.data.checklist_url].find(
      checklistHref,
    );
    if (link) entry.link = link;
    const download = [data.export_url, custom.data && custom.data.export_url].find((path) =>
      ownHref(path, EXPORT_PATH),
    );
    if (download) entry.download = ownHref(download, EXPORT_PATH);
    // 删除我的信息 done: the server has nothing left of this conversation, nor will this page.
    if (data.erased === true || (custom.data && custom.data.erased === true)) entry.erased = true;
    const attachment = data.attachment;
    if (attachment && attachment.type === "image" && attachment.payload && webUrl(attachment.payload.src)) {
      entry.image = attachment.payload.src;
    }
    return entry.text || entry.buttons || entry.link || entry.download || entry.image || entry.erased
      ? entry
      : null;
  }

  function renderEntry(entry) {
    const mine = entry.role === "user";
    const item = element("li", `wushua-message wushua-message--${mine ? "user" : "bot"}`);
    // Screen readers announce who spoke; sighted users see it from the side.
    if (entry.staff) {
      item.append(element("span", "wushua-staff", `${TEXT.staff} ${entry.staff}`));
    } else {
      item.append(element("span", "wushua-visually-hidden", mine ? TEXT.you : TEXT.bot));
    }
    const bubble = element("div", "wushua-bubble");
    if (typeof entry.text === "string" && entry.text) bubble.append(richText(entry.text));
    const image = entry.image && webUrl(entry.image);
    if (image) {
      const picture = element("img", "wushua-image");
      picture.src = image.href;
      picture.alt = "";
      picture.loading = "lazy";
      bubble.append(picture);
    }
    const checklist = checklistHref(entry.link);
    if (checklist) {
      const link = externalLink(checklist, TEXT.checklist);
      link.classList.add("wushua-checklist-link");
      bubble.append(link);
    }
    const download = ownHref(entry.download, EXPORT_PATH);
    if (download) {
      const link = element("a", "wushua-checklist-link", TEXT.download);
      link.href = download;
      link.download = "wushua-my-data.json";
      bubble.append(link);
    }
    // A link on its own (Rasa sends a custom payload as a message of its own)
    // is shown as a plain button-like link, without an empty bubble around it.
    if ((checklist || download) && !entry.text && !image) bubble.classList.add("wushua-bubble--bare");
    item.append(bubble);
    if (Array.isArray(entry.buttons) && entry.buttons.length) item.append(renderChoices(entry));
    return item;
  }

  function renderChoices(entry) {
    const group = element("div", "wushua-choices");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", TEXT.choices);
    for (const choice of entry.buttons) {
      if (!choice || typeof choice.title !== "string" || typeof choice.payload !== "string") continue;
      const button = element("button", "wushua-choice", choice.title);
      button.type = "button";
      // Offered choices are for the question just asked: once the user has
      // answered anything, the old ones stay visible but can't be clicked.
      button.disabled = Boolean(entry.answered);
      if (entry.chosen === choice.title) button.classList.add("wushua-choice--chosen");
      button.addEventListener("click", () => {
        if (send(choice.payload, choice.title)) {
          entry.chosen = choice.title;
          button.classList.add("wushua-choice--chosen");
          saveHistory();
        }
      });
      group.append(button);
    }
    return group;
  }

  // ----------------------------------------------------------------- the UI

  const ui = {};

  function buildUi() {
    const root = element("div", "wushua-root");
    root.lang = config.lang;

    const launcher = element("button", "wushua-launcher");
    launcher.type = "button";
    launcher.setAttribute("aria-label", TEXT.open);
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "wushua-panel");
    launcher.append(icon(CHAT_ICON));

    const panel = element("section", "wushua-panel");
    panel.id = "wushua-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-labelledby", "wushua-title");
    panel.hidden = true;

    const header = element("header", "wushua-header");
    const heading = element("div", "wushua-heading");
    const title = element("h2", "wushua-title", config.title);
    title.id = "wushua-title";
    heading.append(title, element("p", "wushua-subtitle", config.subtitle));
    const closeButton = element("button", "wushua-close");
    closeButton.type = "button";
    closeButton.setAttribute("aria-label", TEXT.close);
    closeButton.append(icon(CLOSE_ICON));
    header.append(heading, closeButton);

    const status = element("div", "wushua-status");
    status.setAttribute("role", "status");
    status.hidden = true;
    const statusText = element("span", "wushua-status-text", TEXT.offline);
    const retry = element("button", "wushua-retry", TEXT.retry);
    retry.type = "button";
    status.append(statusText, retry);

    const body = element("div", "wushua-body");
    const empty = element("p", "wushua-empty", TEXT.empty);
    const messages = element("ol", "wushua-messages");
    messages.setAttribute("aria-live", "polite");
    messages.setAttribute("aria-relevant", "additions");
    const typing = element("div", "wushua-typing");
    typing.setAttribute("role", "status");
    typing.setAttribute("aria-label", TEXT.typing);
    typing.hidden = true;
    typing.append(element("span"), element("span"), element("span"));
    body.append(empty, messages, typing);

    const form = element("form", "wushua-composer");
    const label = element("label", "wushua-visually-hidden", TEXT.inputLabel);
    label.htmlFor = "wushua-input";
    const input = element("textarea", "wushua-input");
    input.id = "wushua-input";
    input.rows = 1;
    input.maxLength = MAX_MESSAGE_CHARS;
    input.placeholder = TEXT.placeholder;
    input.enterKeyHint = "send";
    const sendButton = element("button", "wushua-send", TEXT.send);
    sendButton.type = "submit";
    // On a phone the picker offers the camera as well as the photo library.
    // Opened by the button; hidden, so keyboard and screen-reader users meet the button only.
    const photoInput = element("input");
    photoInput.type = "file";
    photoInput.accept = "image/*";
    photoInput.hidden = true;
    photoInput.setAttribute("aria-label", TEXT.attach);
    const attachButton = element("button", "wushua-attach");
    attachButton.type = "button";
    attachButton.title = TEXT.attach;
    attachButton.setAttribute("aria-label", TEXT.attach);
    attachButton.append(icon(CAMERA_ICON));
    form.append(attachButton, photoInput, label, input, sendButton);

    panel.append(header, status, body, form, element("p", "wushua-hint", TEXT.hint));
    root.append(panel, launcher);
    document.body.append(root);

    Object.assign(ui, {
      root, launcher, panel, closeButton, status, statusText, retry,
      body, empty, messages, typing, form, input, sendButton, attachButton, photoInput,
    });
  }

  function scrollToEnd() {
    ui.body.scrollTop = ui.body.scrollHeight;
  }

  function showEntry(entry) {
    const item = renderEntry(entry);
    ui.messages.append(item);
    ui.empty.hidden = true;
    scrollToEnd();
    return item;
  }

  function renderHistory() {
    ui.messages.replaceChildren(...history.map(renderEntry));
    ui.empty.hidden = history.length > 0;
  }

  function setOpen(open) {
    ui.panel.hidden = !open;
    ui.root.classList.toggle("wushua-open", open);
    ui.launcher.setAttribute("aria-expanded", String(open));
    try {
      sessionStorage.setItem(`${STORAGE_PREFIX}open`, open ? "1" : "");
    } catch {
      /* a reload just starts closed */
    }
    if (open) {
      setUnread(false);
      scrollToEnd();
      ui.input.focus();
    } else {
      ui.launcher.focus();
    }
  }

  function setUnread(unread) {
    ui.launcher.classList.toggle("wushua-launcher--unread", unread);
    ui.launcher.setAttribute("aria-label", unread ? TEXT.openUnread : TEXT.open);
  }

  let typingTimer = 0;

  function setTyping(visible) {
    clearTimeout(typingTimer);
    ui.typing.hidden = !visible;
    if (visible) {
      // The bot may answer nothing (or the reply may be lost): don't spin forever.
      typingTimer = setTimeout(() => setTyping(false), TYPING_TIMEOUT_MS);
      scrollToEnd();
    }
  }

  function autoGrow() {
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight, 120)}px`;
  }

  // --------------------------------------------------------- conversation

  let socket = null;
  let online = false; // connected and the session confirmed

  function setOnline(value, notice = TEXT.offline) {
    online = value;
    ui.root.classList.toggle("wushua-offline", !value);
    ui.status.hidden = value;
    ui.statusText.textContent = notice;
    ui.sendButton.disabled = !value;
    ui.attachButton.disabled = !value;
    ui.retry.disabled = false;
  }

  /** Sends a message; false (and nothing shown) when offline or empty. */
  function send(message, shown) {
    if (!online || !message.trim()) return false;
    for (const entry of history) if (entry.buttons) entry.answered = true;
    for (const button of ui.messages.querySelectorAll(".wushua-choice")) button.disabled = true;
    const entry = { role: "user", text: shown, pending: true };
    history.push(entry);
    const item = showEntry(entry);
    // The acknowledgement carries the text as the server stored it (secrets
    // masked): that is what is shown from now on and kept for a reload.
    socket.emit("user_uttered", { message }, (stored) => {
      delete entry.pending;
      if (stored && typeof stored.text === "string" && message === shown) {
        entry.text = stored.text;
        item.replaceWith(renderEntry(entry));
      }
      saveHistory();
    });
    saveHistory();
    setTyping(true);
    return true;
  }

  /** The picture as a JPEG no larger than needed, upright and without EXIF; null if the
   * browser cannot open it (HEIC outside Safari). A small JPEG or PNG goes as it is. */
  async function preparedPhoto(file) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch {
      return null;
    }
    const scale = Math.min(1, PHOTO_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    if (scale === 1 && ["image/jpeg", "image/png"].includes(file.type) && file.size <= MAX_PHOTO_BYTES) {
      bitmap.close();
      return file;
    }
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  }

  /** A notice from the widget itself (not from the bot's turn): shown, not stored on the server. */
  function showNotice(text) {
    setTyping(false);
    const entry = { role: "bot", text };
    history.push(entry);
    saveHistory();
    showEntry(entry);
  }

  /** Sends a photo: the server reads it, and the bot's reply comes over the socket as usual. */
  async function sendPhoto(file) {
    if (!online || !file) return;
    const photo = await preparedPhoto(file);
    if (!photo) {
      showNotice(TEXT.photoUnsupported);
      return;
    }
    for (const entry of history) if (entry.buttons) entry.answered = true;
    for (const button of ui.messages.querySelectorAll(".wushua-choice")) button.disabled = true;
    const entry = { role: "user", text: TEXT.photoSent };
    history.push(entry);
    saveHistory();
    showEntry(entry);
    setTyping(true);
    let answer = null;
    try {
      answer = await fetch(config.serverUrl + RECEIPT_PATH, {
        method: "POST",
        headers: {
          "Content-Type": photo.type || "application/octet-stream",
          "X-Widget-Session": sessionId || "",
          "X-Widget-Token": sessionToken || "",
        },
        body: photo,
      });
    } catch {
      showNotice(TEXT.photoFailed);
      return;
    }
    if (!answer.ok) {
      const refusal = await answer.json().catch(() => null);
      showNotice(refusal && typeof refusal.text === "string" ? refusal.text : TEXT.photoFailed);
    }
  }

  function onBotMessage(data) {
    const entry = botEntry(data);
    if (!entry) return;
    if (entry.erased) {
      startOverAfterErasure();
      if (!entry.text && !entry.download) return;
    }
    setTyping(false);
    history.push(entry);
    saveHistory();
    showEntry(entry);
    if (ui.panel.hidden) setUnread(true);
  }

  /** The conversation was erased on the server: forget it here too and ask for a new session. */
  function startOverAfterErasure() {
    if (sessionId) storage.remove(`history:${sessionId}`);
    storage.remove("session");
    storage.remove("token");
    sessionId = null;
    sessionToken = null;
    // What this turn said ("已为您删除…") stays on screen, in the new session only.
    const last = history[history.length - 1];
    history = last && last.role === "bot" ? [last] : [];
    renderHistory();
    if (socket && socket.connected) socket.emit("session_request", {});
  }

  function onSessionConfirm(confirmed) {
    // The server resumes our session, or starts a new one (a token it did not
    // sign, or none yet): a new session starts with an empty history.
    if (!confirmed || !isSessionId(confirmed.session_id) || typeof confirmed.session_token !== "string") return;
    sessionToken = confirmed.session_token;
    storage.set("token", sessionToken);
    if (confirmed.session_id !== sessionId) {
      // After an erasure there is no session: what is on screen starts the new one.
      const carried = sessionId === null ? history : null;
      sessionId = confirmed.session_id;
      storage.set("session", sessionId);
      history = carried || loadHistory();
      saveHistory();
      renderHistory();
    }
    setOnline(true);
  }

  function connect() {
    // Websocket only: a websocket stays on the Rasa replica that accepted it,
    // while long-polling requests would be spread over the replicas by a load
    // balancer without sticky sessions (cluster mode, see the README).
    socket = window.io(config.socketOrigin, { path: config.socketPath, transports: ["websocket"] });
    // After every (re)connect: Rasa maps the socket to our conversation again.
    socket.on("connect", () =>
      socket.emit("session_request", { session_id: sessionId, session_token: sessionToken }),
    );
    socket.on("session_confirm", onSessionConfirm);
    socket.on("bot_uttered", (data, ack) => {
      onBotMessage(data);
      // Messages outside a turn (staff, follow-ups) ask for an ack: it is how the server knows they arrived.
      if (typeof ack === "function") ack();
    });
    socket.on("connect_error", () => setOnline(false));
    socket.on("disconnect", (reason) => {
      setOnline(false);
      setTyping(false);
      // A server-side disconnect is not retried by socket.io itself.
      if (reason === "io server disconnect") socket.connect();
    });
  }

  function reconnectNow() {
    // connect() alone waits for socket.io's back-off timer; a disconnect first
    // resets it, so the retry happens now.
    if (socket) socket.disconnect();
    setOnline(false, TEXT.reconnecting);
    ui.retry.disabled = true;
    if (socket) socket.connect();
    else loadSocketIo();
  }

  function loadSocketIo() {
    const tag = element("script");
    tag.src = `${config.staticUrl}vendor/socket.io.min.js`;
    tag.addEventListener("load", connect);
    tag.addEventListener("error", () => {
      tag.remove();
      setOnline(false);
    });
    document.head.append(tag);
  }

  function loadStyles() {
    const link = element("link");
    link.rel = "stylesheet";
    link.href = `${config.staticUrl}widget.css`;
    document.head.append(link);
  }

  // ------------------------------------------------------------- wiring

  function submitInput() {
    if (send(ui.input.value, ui.input.value)) {
      ui.input.value = "";
      autoGrow();
    }
    ui.input.focus();
  }

  // Chinese (and Japanese, Korean) input methods use Enter to confirm the
  // composed characters; that Enter must not send. Browsers disagree on which
  // signal they give, so any of them counts: isComposing, our own
  // compositionstart/end tracking, or keyCode 229 (Safari sends its Enter
  // after compositionend, with keyCode 229).
  let composing = false;

  function isImeKey(event) {
    return event.isComposing || composing || event.keyCode === 229;
  }

  function wireEvents() {
    ui.launcher.addEventListener("click", () => setOpen(ui.panel.hidden));
    ui.closeButton.addEventListener("click", () => setOpen(false));
    ui.retry.addEventListener("click", reconnectNow);
    ui.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !isImeKey(event)) setOpen(false);
    });
    ui.form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitInput();
    });
    ui.input.addEventListener("compositionstart", () => {
      composing = true;
    });
    ui.input.addEventListener("compositionend", () => {
      composing = false;
    });
    ui.input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey) return; // Shift+Enter: a new line
      if (isImeKey(event)) return;
      event.preventDefault();
      submitInput();
    });
    ui.input.addEventListener("input", autoGrow);
    ui.attachButton.addEventListener("click", () => ui.photoInput.click());
    ui.photoInput.addEventListener("change", () => {
      const [file] = ui.photoInput.files;
      ui.photoInput.value = ""; // the same photo may be chosen again
      sendPhoto(file);
    });
  }

  function start() {
    loadStyles();
    buildUi();
    renderHistory();
    setOnline(false);
    ui.status.hidden = true; // not "offline" yet: the first connection is on its way
    wireEvents();
    if (window.io) connect();
    else loadSocketIo();
    let reopen = false;
    try {
      reopen = sessionStorage.getItem(`${STORAGE_PREFIX}open`) === "1";
    } catch {
      /* starts closed */
    }
    if (reopen) setOpen(true);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
