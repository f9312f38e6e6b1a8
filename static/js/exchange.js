// Exchange pages: the instrument's price chart, its book and trades kept fresh, and an auction's price,
// bids and countdown kept live. The numbers come from the JSON API; without script the page still shows
// them as they were when it loaded.
(() => {
  const yuan = (fen) => `¥${(fen / 100).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  const every = (seconds, work) => { work(); return window.setInterval(work, seconds * 1000); };
  const getJSON = (url) => fetch(url, { headers: { Accept: "application/json" } }).then((r) => (r.ok ? r.json() : Promise.reject(r)));
  const cell = (text, className) => { const td = document.createElement("td"); td.textContent = text; if (className) td.className = className; return td; };

  function priceChart() {
    const source = document.getElementById("chart-data");
    const canvas = document.getElementById("price-chart");
    if (!source || !canvas) return;
    const data = JSON.parse(source.textContent);
    if (!data.labels.length) { document.getElementById("chart-empty").hidden = false; canvas.hidden = true; return; }
    if (!window.Chart) return;
    new window.Chart(canvas, {
      data: {
        labels: data.labels,
        datasets: [
          { type: "line", label: data.names.close, data: data.close, borderColor: "#2f6b3a", yAxisID: "y" },
          { type: "line", label: data.names.range, data: data.high, borderColor: "#c9d8c5", pointRadius: 0, fill: "+1", yAxisID: "y" },
          { type: "line", label: "", data: data.low, borderColor: "#c9d8c5", pointRadius: 0, yAxisID: "y" },
          { type: "bar", label: data.names.kg, data: data.kg, backgroundColor: "#e8d9b5", yAxisID: "kg" },
        ],
      },
      options: {
        responsive: true,
        plugins: { legend: { labels: { filter: (item) => item.text !== "" } } },
        scales: { y: { title: { display: true, text: "¥/kg" } }, kg: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } } },
      },
    });
  }

  function indexChart() {
    const source = document.getElementById("index-data");
    const canvas = document.getElementById("index-chart");
    if (!source || !canvas || !window.Chart) return;
    const data = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      type: "line",
      data: { labels: data.labels, datasets: [{ label: data.name, data: data.points, borderColor: "#9a5b00" }] },
      options: { responsive: true },
    });
  }

  function bookAndTrades() {
    const book = document.getElementById("book");
    if (!book) return;
    const rows = document.getElementById("book-rows");
    const trades = document.getElementById("trade-rows");
    const modes = JSON.parse(book.dataset.modes || "{}");
    every(2, () => {
      if (rows) getJSON(book.dataset.url).then((depth) => {
        rows.replaceChildren();
        const n = Math.max(depth.bids.length, depth.asks.length, 1);
        for (let i = 0; i < n; i += 1) {
          const bid = depth.bids[i]; const ask = depth.asks[i]; const tr = document.createElement("tr");
          tr.append(cell(bid ? bid.lots : ""), cell(bid ? yuan(bid.price_fen) : "", "number good"), cell(ask ? yuan(ask.price_fen) : "", "number bad"), cell(ask ? ask.lots : ""));
          rows.append(tr);
        }
        const empty = document.getElementById("book-empty"); if (empty) empty.hidden = depth.bids.length + depth.asks.length > 0;
        if (depth.last_price_fen) document.getElementById("last-price").textContent = yuan(depth.last_price_fen);
      }).catch(() => {});
      getJSON(`${book.dataset.trades}?limit=20`).then((tape) => {
        trades.replaceChildren(...tape.map((trade) => {
          const tr = document.createElement("tr");
          tr.append(cell(new Date(trade.executed_at).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false })), cell(modes[trade.mode] || trade.mode), cell(yuan(trade.price_fen), "number"), cell(trade.kg, "number"));
          return tr;
        }));
        const empty = document.getElementById("trades-empty"); if (empty) empty.hidden = tape.length > 0;
      }).catch(() => {});
    });
  }

  function auction() {
    const panel = document.getElementById("auction");
    if (!panel) return;
    const countdown = document.getElementById("countdown");
    let state = JSON.parse(document.getElementById("auction-state").textContent);
    const render = () => {
      const left = Math.max(0, Math.round((new Date(state.ends_at) - Date.now()) / 1000));
      const h = Math.floor(left / 3600); const m = Math.floor((left % 3600) / 60); const s = left % 60;
      countdown.textContent = state.status === "open" ? `${h ? `${h}:` : ""}${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}` : panel.dataset.closed;
      const price = state.kind === "dutch" ? state.price_now_fen : state.leading_fen;
      document.getElementById("price-now").textContent = price ? yuan(price) : "—";
      document.getElementById("bid-count").textContent = state.bid_count;
      const lotsLeft = document.getElementById("lots-left"); if (lotsLeft) lotsLeft.textContent = state.open_lots;
      const bids = document.getElementById("bid-rows");
      if (bids) bids.replaceChildren(...state.bids.map((bid) => {
        const tr = document.createElement("tr");
        tr.append(cell(bid.seq), cell(yuan(bid.price_fen), "number"), cell(new Date(bid.placed_at).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false })));
        return tr;
      }));
    };
    window.setInterval(render, 1000);
    every(2, () => getJSON(panel.dataset.url).then((fresh) => { state = fresh; render(); }).catch(() => {}));
  }

  document.addEventListener("DOMContentLoaded", () => { priceChart(); indexChart(); bookAndTrades(); auction(); });
})();
