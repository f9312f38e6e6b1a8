// Follow an import's checking: update the bar every second, and show the result when it is done.
(() => {
  const box = document.getElementById("import-progress");
  if (!box) return;
  const bar = box.querySelector("progress");
  const counter = box.querySelector("[data-counter]");
  const follow = async () => {
    try {
      const response = await fetch(box.dataset.progressUrl, { headers: { Accept: "application/json" } });
      const state = await response.json();
      bar.value = state.percent;
      bar.textContent = `${state.percent}%`;
      counter.textContent = `${state.checked} / ${state.total}`;
      if (state.status !== "checking") {
        window.location.reload();
        return;
      }
    } catch (error) {
      // a dropped connection: try again on the next tick
    }
    window.setTimeout(follow, 1000);
  };
  window.setTimeout(follow, 1000);
})();
