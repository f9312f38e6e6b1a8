// The surveillance console: trades and alerts arrive over server-sent events and are put at the top of
// their tables; the daily report draws its chart. Without script the pages show what they had on loading.
(() => {
  const yuan = (fen) => `¥${(fen / 100).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  const cell = (text, className) => { const td = document.createElement("td"); td.textContent = text; if (className) td.className = className; return td; };

  function consoleFeed() {
    const tape = document.getElementById("tape");
    if (!tape || !window.EventSource) return;
    const words = JSON.parse(document.getElementById("console-words").textContent);
    const rows = document.getElementById("tape-rows");
    const alerts = document.getElementById("alert-rows");
    const state = document.getElementById("tape-state");
    const source = new EventSource(tape.dataset.stream);
    source.onopen = () => { state.textContent = words.live; };
    source.onerror = () => { state.textContent = words.lost; };
    source.addEventListener("trade", (message) => {
      const trade = JSON.parse(message.data);
      const tr = document.createElement("tr");
      tr.className = "fresh";
      tr.append(
        cell(new Date(trade.at).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false })),
        cell(trade.symbol), cell(words.modes[trade.mode] || trade.mode), cell(yuan(trade.price_fen), "number"),
        cell(trade.kg, "number"), cell(trade.buyer), cell(trade.seller),
      );
      rows.prepend(tr);
      while (rows.children.length > 100) rows.lastElementChild.remove();
      const empty = document.getElementById("tape-empty"); if (empty) empty.hidden = true;
    });
    source.addEventListener("alert", (message) => {
      const alert = JSON.parse(message.data);
      const tr = document.createElement("tr");
      tr.className = "fresh";
      const link = document.createElement("a");
      link.href = `/surveillance/alerts/${alert.alert_id}`;
      link.textContent = `#${alert.alert_id}`;
      const first = document.createElement("td"); first.append(link);
      tr.append(first, cell(alert.severity), cell(alert.rule), cell(words.alert), cell(""), cell(""));
      alerts.prepend(tr);
      const empty = document.getElementById("alerts-empty"); if (empty) empty.hidden = true;
    });
  }

  function reportChart() {
    const source = document.getElementById("report-data");
    const canvas = document.getElementById("report-chart");
    if (!source || !canvas || !window.Chart) return;
    const data = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      data: {
        labels: data.symbols,
        datasets: [
          { type: "bar", label: data.names.kg, data: data.kg, backgroundColor: "#2f6b3a", yAxisID: "kg" },
          { type: "line", label: data.names.close, data: data.close, borderColor: "#9a5b00", yAxisID: "price" },
        ],
      },
      options: { responsive: true, scales: { kg: { beginAtZero: true }, price: { position: "right", grid: { drawOnChartArea: false } } } },
    });
  }

  document.addEventListener("DOMContentLoaded", () => { consoleFeed(); reportChart(); });
})();
