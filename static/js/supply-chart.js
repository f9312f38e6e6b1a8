// The supply-and-demand chart: bars of expected harvest and committed demand per week, shortfalls in red.
// The numbers come from the page (#supply-data); the table below the chart shows the same without script.
document.addEventListener("DOMContentLoaded", () => {
  const canvas = document.getElementById("supply-chart");
  const source = document.getElementById("supply-data");
  if (!canvas || !source || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        { label: data.names.supply, data: data.supply, backgroundColor: "#2f6b3a" },
        { label: data.names.demand, data: data.demand, backgroundColor: "#9a5b00" },
        { label: data.names.short, data: data.short, backgroundColor: "#b3261e" },
      ],
    },
    options: {
      responsive: true,
      scales: { y: { beginAtZero: true, title: { display: true, text: "kg" } } },
    },
  });
});
