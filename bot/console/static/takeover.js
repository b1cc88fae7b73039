// The conversation and case pages follow the conversation live: each new turn
// (read by the console from the tracker store, /conversation/stream) is added to
// the transcript without a reload, and the takeover badge follows its state.
// Text is set with textContent only: nothing from a message is parsed as HTML.
(function () {
  "use strict";
  const card = document.getElementById("takeover");
  const chat = document.getElementById("chat");
  if (!card || !chat || !window.EventSource) return;

  const LABELS = { session: "新会话", pause: "人工客服接管", resume: "交还助手" };
  const query = new URLSearchParams({ sender: card.dataset.sender, after: card.dataset.after });
  const source = new EventSource("/conversation/stream?" + query.toString());

  source.addEventListener("turn", function (event) {
    const turn = JSON.parse(event.data);
    if (!document.getElementById("e" + turn.event_id)) chat.appendChild(render(turn));
  });

  source.addEventListener("state", function (event) {
    const takenOver = JSON.parse(event.data).taken_over;
    const badge = document.getElementById("takeover-state");
    if (badge && takenOver !== badge.classList.contains("new")) {
      badge.textContent = (takenOver ? "人工服务中" : "助手服务中") + "（状态已变化，请刷新页面）";
    }
  });

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function render(turn) {
    if (LABELS[turn.speaker]) {
      const marker = element("li", "session");
      marker.id = "e" + turn.event_id;
      marker.appendChild(element("span", "", LABELS[turn.speaker] + " · " + turn.at));
      return marker;
    }
    const user = turn.speaker === "user";
    const item = element("li", "turn " + (user ? "user" : "bot") + (turn.staff ? " staff" : ""));
    item.id = "e" + turn.event_id;
    const who = user ? "用户" : turn.staff ? "人工客服 " + turn.staff : "助手";
    item.appendChild(element("div", "who", who + " · " + turn.at));
    item.appendChild(element("div", "bubble", turn.text));
    if (turn.buttons.length) {
      const buttons = element("div", "buttons");
      turn.buttons.forEach(function (title) { buttons.appendChild(element("span", "", title)); });
      item.appendChild(buttons);
    }
    return item;
  }
})();
