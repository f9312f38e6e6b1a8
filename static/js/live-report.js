// The live session report's charts: sales and orders minute by minute, and how much of each deal sold.
// The numbers come from the page (#report-data); the tables beside the charts show the same without script.
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("report-data");
  if (!source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const sales = document.getElementById("sales-chart");
  if (sales) {
    new window.Chart(sales, {
      data: {
        labels: data.minutes,
        datasets: [
          { type: "bar", label: data.names.sales, data: data.sales.map((fen) => fen / 100), backgroundColor: "#2f6b3a", yAxisID: "y" },
          { type: "line", label: data.names.orders, data: data.orders, borderColor: "#9a5b00", yAxisID: "orders" },
        ],
      },
      options: {
        responsive: true,
        scales: {
          y: { beginAtZero: true, title: { display: true, text: "¥" } },
          orders: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } },
        },
      },
    });
  }
  const deals = document.getElementById("deals-chart");
  if (deals) {
    new window.Chart(deals, {
      type: "bar",
      data: {
        labels: data.deals.map((id) => `${data.names.deal} #${id}`),
        datasets: [
          { label: data.names.sold, data: data.sold, backgroundColor: "#2f6b3a" },
          { label: data.names.stock, data: data.stock, backgroundColor: "#c9d8c5" },
        ],
      },
      options: { responsive: true, indexAxis: "y", scales: { x: { beginAtZero: true } } },
    });
  }
});
