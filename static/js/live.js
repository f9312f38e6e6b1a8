// Live sessions: the viewer's page and the host's console follow the session's events (server-sent
// events). Stock left and countdowns change in place; when the host pins another listing, starts or ends a
// deal, or changes the session's state, the page's live parts are fetched again. A dropped connection
// resumes by itself: the browser sends the last event's id and the server sends what was missed.
(() => {
  const root = document.getElementById("live");
  if (!root || !window.EventSource) return;
  const words = JSON.parse(document.getElementById("live-words").innerHTML);
  const lang = root.dataset.lang === "en" ? "en" : "zh-CN";
  const yuan = new Intl.NumberFormat(lang, { style: "currency", currency: "CNY" });
  const part = (name) => root.querySelector(`[data-live="${name}"]`);
  const say = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => values[key]);

  const source = new EventSource(`${root.dataset.stream}?after=${encodeURIComponent(root.dataset.cursor)}`);
  source.onopen = () => { if (part("connection")) part("connection").textContent = words.live; };
  source.onerror = () => { if (part("connection")) part("connection").textContent = words.reconnecting; };

  source.addEventListener("stock", (event) => {
    const data = JSON.parse(event.data);
    const card = root.querySelector(`[data-reserve="${data.reserve_id}"]`);
    if (!card || Number(card.dataset.version) >= data.version) return; // an older word about it
    card.dataset.version = data.version;
    card.querySelector('[data-field="left"]').textContent = data.left;
    card.querySelector("progress").value = data.left;
    card.classList.toggle("sold-out", data.left === 0);
  });

  source.addEventListener("sale", (event) => {
    const data = JSON.parse(event.data);
    if (data.listing_left !== null && data.listing_left !== undefined) {
      root.querySelectorAll(`[data-listing="${data.listing_id}"] [data-field="stock"]`).forEach((cell) => {
        cell.textContent = data.listing_left;
      });
    }
    const feed = part("sales");
    if (feed) {
      const item = document.createElement("li");
      item.textContent = `${new Date(data.at).toLocaleTimeString(lang)} · ${data.quantity} · ${yuan.format(data.amount_fen / 100)}`;
      feed.prepend(item);
      while (feed.children.length > 20) feed.lastChild.remove();
    }
  });

  source.addEventListener("figures", (event) => {
    const data = JSON.parse(event.data);
    root.querySelectorAll("[data-figure]").forEach((cell) => {
      const name = cell.dataset.figure;
      if (name === "sales_fen") cell.textContent = yuan.format(data.sales_fen / 100);
      else if (name === "conversion") cell.textContent = `${(data.conversion * 100).toFixed(1)}%`;
      else cell.textContent = data[name];
    });
  });

  // What the host changed: fetch the page again and swap its live parts (spread out a little, so a
  // full room does not ask at the same instant).
  let refreshing = null;
  const refresh = () => {
    if (refreshing || root.dataset.console) return;
    refreshing = setTimeout(async () => {
      refreshing = null;
      const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const name of ["deals", "pinned", "status", "paused", "ended", "scheduled"]) {
        const fresh = page.querySelector(`[data-live="${name}"]`);
        if (fresh && part(name)) part(name).replaceWith(fresh);
      }
      tick();
    }, 100 + Math.random() * 700);
  };
  for (const name of ["deal", "deal_ended", "pin", "status", "session"]) source.addEventListener(name, refresh);

  const clock = (seconds) => `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  const tick = () => {
    const now = Date.now();
    root.querySelectorAll("[data-deal]").forEach((card) => {
      const opens = Date.parse(card.dataset.opens);
      const closes = Date.parse(card.dataset.closes);
      const label = card.querySelector('[data-field="clock"]');
      const left = Number(card.querySelector('[data-field="left"]').textContent);
      let text = words.ended;
      if (now < opens) text = say(words.opens_in, { n: Math.ceil((opens - now) / 1000) });
      else if (now < closes && left > 0) text = say(words.ends_in, { time: clock(Math.ceil((closes - now) / 1000)) });
      else if (now < closes) text = words.sold_out;
      label.textContent = text;
      const button = card.querySelector("button[type=submit]");
      if (button) button.disabled = now < opens || now >= closes || left === 0;
    });
  };
  tick();
  setInterval(tick, 1000);
})();
